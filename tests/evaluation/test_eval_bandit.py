"""Thompson-sampling replay finds the commercial setting that the simulated shoppers prefer."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid_search.evaluation.bandit import Impression, replay_thompson
from hybrid_search.ranking.commercial import CommercialParams


def make_log(n: int, seed: int = 0) -> list[Impression]:
    # Shoppers click the high-margin candidate 60 % of the time and the most relevant one 20 %;
    # the logged first slot is uniformly random (exploration traffic), as the replay needs.
    rng = np.random.default_rng(seed)
    log = []
    for _ in range(n):
        fused = rng.random(5)
        margin = rng.random(5)
        shown = int(rng.integers(5))
        p = (
            0.6
            if shown == int(np.argmax(margin))
            else 0.2
            if shown == int(np.argmax(fused))
            else 0.05
        )
        clicked = frozenset({shown}) if rng.random() < p else frozenset()
        log.append(Impression(fused, margin, np.zeros(5), np.zeros(5), shown, clicked))
    return log


ARMS = [
    CommercialParams(margin_weight=0.0, freshness_weight=0.0, popularity_weight=0.0),
    CommercialParams(margin_weight=5.0, freshness_weight=0.0, popularity_weight=0.0),
]


def test_replay_prefers_the_arm_shoppers_reward():
    result = replay_thompson(make_log(4000), ARMS, seed=1)
    assert result.best == 1
    means = result.posterior_means()
    assert means[1] > 0.45 > means[0]
    assert result.matched == sum(result.pulls)
    assert 0 < result.matched < 4000  # only impressions that agree with the log count


def test_replay_is_seeded_and_checks_its_input():
    log = make_log(300)
    assert replay_thompson(log, ARMS, seed=3) == replay_thompson(log, ARMS, seed=3)
    with pytest.raises(ValueError, match="at least one"):
        replay_thompson(log, [])
    bad = Impression(np.ones(3), np.ones(2), np.ones(3), np.ones(3), 0)
    with pytest.raises(ValueError, match="impression 0"):
        replay_thompson([bad], ARMS)


def test_tune_commercial_command(tmp_path, capsys):
    import json

    from hybrid_search import cli

    log = tmp_path / "clicks.jsonl"
    lines = []
    for imp in make_log(1500, seed=2):
        cands = [
            {"fused": float(f), "margin": float(m), "age_days": 0.0, "popularity": 0.0}
            for f, m in zip(imp.fused, imp.margin)
        ]
        lines.append(
            json.dumps(
                {
                    "candidates": cands,
                    "shown_first": imp.shown_first,
                    "clicked": sorted(imp.clicked),
                }
            )
        )
    log.write_text("\n".join(lines) + "\n")
    out = tmp_path / "bandit.json"
    assert cli.main(["tune-commercial", str(log), "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["best"]["margin_weight"] >= 0.2
    assert len(report["arms"]) == 45
    assert '"matched_impressions"' in capsys.readouterr().out
    log.write_text('{"candidates": [{"fused": 1}], "shown_first": 3}\n')
    assert cli.main(["tune-commercial", str(log)]) == 2
    assert "line 1: shown_first 3 is not a candidate index" in capsys.readouterr().err
