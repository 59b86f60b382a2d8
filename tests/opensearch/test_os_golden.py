"""Golden request files: what ``hybrid-search opensearch plan`` writes for one fixed query.

The files under ``golden/plan/`` are the reviewable contract with a search team: a change to any
builder shows up as a diff there. Regenerate deliberately with ``UPDATE_GOLDEN=1 pytest
tests/opensearch/test_os_golden.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

from hybrid_search.backends.opensearch.plan import build_plan, write_plan
from hybrid_search.config import load_settings
from tests.conftest import HashEmbedder

GOLDEN = Path(__file__).parent / "golden" / "plan"
QUERY = "black leather boots"


def test_plan_matches_the_golden_files(template, tmp_path, validator):
    emb = HashEmbedder()
    plan = build_plan(
        load_settings(backend="opensearch"),
        template,
        query=QUERY,
        embedding=emb.encode_query(QUERY),
        model_id=emb.model_id,
        filters={"in_stock": True, "price": {"lte": 900}, "color": ["black", "brown"]},
        k=10,
        page=1,
        now=datetime(2026, 9, 1, tzinfo=timezone.utc),
    )
    for item in plan:
        assert validator.validate(item.kind, item.request.body) == [], item.name
    out = GOLDEN if os.environ.get("UPDATE_GOLDEN") == "1" else tmp_path
    written = write_plan(plan, out)
    names = sorted(p.name for p in GOLDEN.glob("*.json"))
    assert names == sorted(p.name for p in written), "a request was added or removed"
    for path in written:
        got = json.loads(path.read_text(encoding="utf-8"))
        want = json.loads((GOLDEN / path.name).read_text(encoding="utf-8"))
        assert got == want, f"{path.name} differs from the golden file"
