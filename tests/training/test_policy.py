"""Each policy's similarity against hand-computed values; numpy inference == torch training."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from hybrid_search.embedding.magnitude import (
    POLICIES,
    MagnitudeSpec,
    apply_side,
    check_module_types,
    load_spec,
    parse_spec,
)
from hybrid_search.errors import ConfigError

torch = pytest.importorskip("torch")
from hybrid_search.training.policy import SidePolicy, similarity_matrix  # noqa: E402

# q = (3, 4): |q| = 5.  d = (2, 0): |d| = 2.  cos = 3 / 5 = 0.6.
Q = np.array([[3.0, 4.0]])
D = np.array([[2.0, 0.0]])
EXPECTED = {
    "cosine": 0.6,  # cos
    "qnorm": 1.2,  # |d| cos
    "dnorm": 3.0,  # |q| cos
    "dot": 6.0,  # |q| |d| cos
    "learnable": math.sqrt(5.0) * math.sqrt(2.0) * 0.6,  # gamma = 0.5 at init
    "head": 0.6,  # w = 0, b = 0 at init: exactly cosine
}


def _sim(spec: MagnitudeSpec) -> float:
    return float((apply_side(Q, spec, "query") @ apply_side(D, spec, "document").T)[0, 0])


def _spec(policy: str, **kw) -> MagnitudeSpec:
    gammas = {"cosine": (1, 1), "qnorm": (1, 0), "dnorm": (0, 1), "dot": (0, 0)}
    g = gammas.get(policy, (0.5, 0.5) if policy == "learnable" else (1, 1))
    head = (0.0, 0.0) if policy == "head" else None
    return MagnitudeSpec(policy, 20.0, gamma_q=g[0], gamma_d=g[1], head_weight=head, **kw)


@pytest.mark.parametrize("policy", POLICIES)
def test_similarity_matches_hand_computed(policy):
    spec = _spec(policy)
    numpy_sim = _sim(spec)
    torch_sim = float(
        similarity_matrix(SidePolicy(policy, 2), torch.tensor(Q), torch.tensor(D))[0, 0].detach()
    )
    assert numpy_sim == pytest.approx(EXPECTED[policy], rel=1e-6)
    assert torch_sim == pytest.approx(EXPECTED[policy], rel=1e-6)


def test_head_length_is_exp_of_its_logit_and_clipped():
    # b = ln 2 doubles the document's length: q_hat . d = 2 cos = 1.2.
    spec = MagnitudeSpec("head", 20.0, head_weight=(0.0, 0.0), head_bias=math.log(2.0))
    assert _sim(spec) == (pytest.approx(1.2))
    # w . d_hat = 10 * 1 is clipped at 3: length e^3 whatever the logit.
    clipped = MagnitudeSpec("head", 20.0, head_weight=(10.0, 0.0), head_clip=3.0)
    assert np.linalg.norm(apply_side(D, clipped, "document")) == pytest.approx(math.exp(3.0))


def test_calibration_scales_multiply_each_side():
    spec = MagnitudeSpec("dot", 20.0, gamma_q=0, gamma_d=0, query_scale=0.5, document_scale=0.25)
    assert _sim(spec) == (pytest.approx(6.0 * 0.5 * 0.25))


@pytest.mark.parametrize("policy", POLICIES)
def test_numpy_inference_equals_torch_training_side(policy):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 8)) * rng.uniform(0.5, 3.0, size=(5, 1))
    module = SidePolicy(policy, 8, query_scale=0.7, document_scale=1.3)
    with torch.no_grad():
        module.gamma_q_bias.fill_(0.4)
        module.gamma_d_bias.fill_(-1.1)
        module.head_weight.copy_(torch.tensor(rng.normal(size=8)))
        module.head_bias.fill_(0.2)
    spec = module.spec(scale=20.0)
    for side in ("query", "document"):
        expected = module(torch.tensor(x), side).detach().numpy()
        np.testing.assert_allclose(apply_side(x, spec, side), expected, rtol=1e-5, atol=1e-6)


def test_keeps_document_magnitude_per_policy():
    keeps = {p: _spec(p).keeps_document_magnitude for p in POLICIES}
    assert keeps == {
        "cosine": False,
        "qnorm": True,
        "dnorm": False,
        "dot": True,
        "learnable": True,
        "head": True,
    }
    assert not MagnitudeSpec("learnable", 20.0, gamma_q=0.3, gamma_d=1.0).keeps_document_magnitude


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"policy": "euclid"}, "policy"),
        ({"gamma_d": 1.5}, "gamma_q/gamma_d"),
        ({"policy": "head", "head_weight": None}, "head_weight"),
        ({"policy": "qnorm", "head_weight": [1.0]}, "head_weight"),
        ({"scale": -1}, "scale"),
        ({"format": 99}, "format"),
    ],
)
def test_bad_magnitude_json_names_the_field(tmp_path, change, field):
    body = {**MagnitudeSpec("qnorm", 20.0, gamma_d=0.0).to_json(), **change}
    with pytest.raises(ConfigError, match=field):
        parse_spec(body, tmp_path / "magnitude.json")


def test_unknown_module_class_is_refused(tmp_path: Path):
    (tmp_path / "modules.json").write_text(
        json.dumps([{"idx": 0, "name": "0", "path": "", "type": "evil.module.RunsCode"}])
    )
    (tmp_path / "magnitude.json").write_text(json.dumps(MagnitudeSpec("dot", 20.0).to_json()))
    with pytest.raises(ConfigError, match=r"evil\.module\.RunsCode"):
        check_module_types(tmp_path)
    with pytest.raises(ConfigError, match=r"evil\.module\.RunsCode"):
        load_spec(tmp_path)


def test_folder_without_magnitude_json_is_a_plain_model(tmp_path: Path):
    assert load_spec(tmp_path) is None
