"""A trained tiny model round-trips save and load (offline), through every runtime."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from hybrid_search.config import EmbeddingSettings
from hybrid_search.embedding import create_embedder
from hybrid_search.embedding.magnitude import MagnitudeEmbedder, apply_side, load_spec
from hybrid_search.errors import ConfigError
from hybrid_search.training import Pair, TrainConfig, load_trained, read_pairs, train

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def trained(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory, training_pairs) -> Path:
    out = tmp_path_factory.mktemp("trained-head")
    config = TrainConfig(
        policy="head",
        base_model=str(tiny_model),
        batch_size=4,
        max_steps=4,
        max_length=32,
        device="cpu",
        learning_rate=1e-3,
        magnitude_learning_rate=0.1,
    )
    result = train([Pair(q, d) for q, d in training_pairs], out, config)
    assert result.steps == 4
    assert np.isfinite(result.losses).all()
    return out


def test_policy_scale_and_config_are_recorded(trained: Path):
    spec = load_spec(trained)
    assert spec is not None
    assert spec.policy == "head"
    assert spec.scale == 20.0
    assert spec.head_weight is not None
    assert any(w != 0.0 for w in spec.head_weight)  # the head learned something
    assert spec.training is not None
    assert spec.training["steps"] == 4
    assert spec.training["batch_size"] == 4
    assert len(spec.weights_sha256) == 64
    modules = json.loads((trained / "modules.json").read_text())
    assert not any("Normalize" in m["type"] for m in modules)


def test_saved_model_reloads_to_the_same_vectors(trained: Path, tiny_model: Path, training_pairs):
    texts = [d for _, d in training_pairs]
    model, spec = load_trained(trained)
    pooled = model.encode(texts, convert_to_numpy=True)
    expected = apply_side(pooled, spec, "document")
    embedder = create_embedder(EmbeddingSettings(model=str(trained), backend="torch"))
    assert isinstance(embedder, MagnitudeEmbedder)
    assert embedder.keeps_document_magnitude
    assert embedder.model_id.endswith("@" + spec.weights_sha256[:12])
    got = embedder.encode_documents(texts)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    norms = np.linalg.norm(got, axis=1)
    assert norms.std() > 1e-4  # lengths differ per document: the magnitude survives
    q = embedder.encode_query("cordless drill")
    assert np.linalg.norm(q) == pytest.approx(1.0, abs=1e-5)  # head: unit queries
    base, _ = (create_embedder(EmbeddingSettings(model=str(tiny_model), backend="torch")), None)
    assert not np.allclose(base.encode_documents(texts), pooled, atol=1e-4)  # weights trained


@pytest.mark.slow
def test_onnx_runtime_applies_the_same_side_transform(
    trained: Path, tmp_path: Path, training_pairs
):
    texts = [d for _, d in training_pairs]
    settings = EmbeddingSettings(model=str(trained), backend="onnx", cache_dir=tmp_path)
    onnx = create_embedder(settings)
    torch_emb = create_embedder(EmbeddingSettings(model=str(trained), backend="torch"))
    assert isinstance(onnx, MagnitudeEmbedder)
    assert onnx.runtime.startswith("onnx")
    np.testing.assert_allclose(
        onnx.encode_documents(texts), torch_emb.encode_documents(texts), rtol=1e-3, atol=1e-4
    )


def test_unknown_module_class_is_refused_on_load(trained: Path, tmp_path: Path):
    copy = tmp_path / "tampered"
    shutil.copytree(trained, copy)
    modules = json.loads((copy / "modules.json").read_text())
    modules[1]["type"] = "somewhere.else.CustomPooling"
    (copy / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ConfigError, match=r"somewhere\.else\.CustomPooling"):
        load_trained(copy)
    with pytest.raises(ConfigError, match=r"somewhere\.else\.CustomPooling"):
        create_embedder(EmbeddingSettings(model=str(copy), backend="torch"))


def test_learnable_gammas_move_and_are_recorded(tiny_model: Path, tmp_path: Path, training_pairs):
    config = TrainConfig(
        policy="learnable",
        base_model=str(tiny_model),
        batch_size=4,
        max_steps=3,
        device="cpu",
        magnitude_learning_rate=0.5,
    )
    result = train([Pair(q, d) for q, d in training_pairs], tmp_path / "m", config)
    assert (result.spec.gamma_q, result.spec.gamma_d) != (0.5, 0.5)
    assert 0.0 <= result.spec.gamma_d <= 1.0
    assert load_spec(tmp_path / "m") == result.spec


def test_bad_config_and_pairs_name_the_field(tmp_path: Path):
    with pytest.raises(ConfigError, match="'policy'"):
        TrainConfig(policy="angular").check()
    with pytest.raises(ConfigError, match="'batch_size'"):
        TrainConfig(batch_size=1).check()
    bad = tmp_path / "pairs.jsonl"
    bad.write_text(
        '{"query": "drill", "document": "DeWalt drill"}\n{"query": "", "document": "x"}\n'
    )
    with pytest.raises(ConfigError, match=r"pairs.jsonl:2: field 'query'"):
        read_pairs(bad)
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("query\tdocument\ndrill\tDeWalt drill\tp1\nhose\tGarden hose\n")
    assert read_pairs(tsv) == [Pair("drill", "DeWalt drill", "p1"), Pair("hose", "Garden hose")]


def test_train_layers_freezes_the_lower_layers(tiny_model: Path, tmp_path: Path, training_pairs):
    from safetensors.numpy import load_file

    config = TrainConfig(
        policy="qnorm",
        base_model=str(tiny_model),
        batch_size=4,
        max_steps=2,
        device="cpu",
        learning_rate=1e-2,
        train_layers=1,
    )
    train([Pair(q, d) for q, d in training_pairs], tmp_path / "m", config)
    before = load_file(str(tiny_model / "model.safetensors"))
    after = load_file(str(tmp_path / "m" / "model.safetensors"))
    low = [k for k in before if "layer.0." in k or "embeddings" in k]
    top = [k for k in before if "layer.1." in k]
    assert low
    assert top
    assert all(np.array_equal(before[k], after[k]) for k in low)
    assert any(not np.array_equal(before[k], after[k]) for k in top)
