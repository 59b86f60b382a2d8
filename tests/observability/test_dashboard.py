"""The Grafana dashboard queries only metrics the sidecar exports (a typo would chart nothing)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hybrid_search.observability.metrics import Metrics

DASHBOARD = Path(__file__).parents[2] / "docs" / "grafana-dashboard.json"


def test_every_queried_series_exists():
    exported = set()
    for family in Metrics(document_count=lambda: 0).registry.collect():
        exported.update(sample.name for sample in family.samples)
        base = family.name
        exported.update({base, f"{base}_bucket", f"{base}_count", f"{base}_sum", f"{base}_total"})
    dash = json.loads(DASHBOARD.read_text())
    queried = set()
    for panel in dash["panels"]:
        for target in panel["targets"]:
            queried.update(re.findall(r"\bhybrid_search_[a-z_]+", target["expr"]))
    assert queried, "no hybrid_search_* series in the dashboard"
    assert queried <= exported, sorted(queried - exported)
    labels = {"route", "mode", "stage", "leg", "reason", "type", "status", "method", "le"}
    for panel in dash["panels"]:
        for target in panel["targets"]:
            for group in re.findall(r"by \(([^)]*)\)", target["expr"]):
                assert {g.strip() for g in group.split(",")} <= labels, target["expr"]
