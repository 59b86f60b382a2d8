"""Fine-tune a sentence-transformers model under a normalisation policy (in-batch InfoNCE).

Feng & Watanabe (arXiv 2602.09229) eq. 2: ``-log softmax_j(alpha * s(q_i, d_j))[i]`` over the
batch's documents, alpha = 20 for every policy. The loop is a plain torch loop (AdamW, linear
warm-up and decay, gradient clipping at 1.0, as their Table 8) rather than the
sentence-transformers Trainer: it keeps the side transform's few parameters on their own
learning rate and runs without ``accelerate``. A document or query that repeats inside a batch
is masked out of the other rows' negatives (it would be a false negative).

Pooled norms of a model trained with ``Normalize`` are large and length-dependent, which would
turn alpha into a different temperature per policy; ``calibrate`` (default on) multiplies each
side by one constant, ``1 / mean |x|`` over a sample of the training texts, recorded with the
model (their "Option B"; ``calibrate=False`` is the paper-faithful arm).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hybrid_search.embedding.magnitude import MAGNITUDE_FILE, POLICIES, MagnitudeSpec
from hybrid_search.errors import ConfigError

__all__ = ["Pair", "TrainConfig", "TrainResult", "train"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pair:
    """One (query, relevant document) pair; ``document_id`` marks repeats (default: the text)."""

    query: str
    document: str
    document_id: str = ""


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters; every one is recorded in ``magnitude.json``."""

    policy: str = "cosine"
    base_model: str = "sentence-transformers/all-MiniLM-L6-v2"
    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 2e-5
    magnitude_learning_rate: float = 1e-2
    scale: float = 20.0
    max_length: int = 64
    calibrate: bool = True
    seed: int = 0
    device: str = "auto"
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_steps: int | None = None
    train_layers: int | None = None
    calibration_texts: int = 256

    def check(self) -> None:
        """Raises ConfigError naming the bad field, its value and what is allowed."""
        if self.policy not in POLICIES:
            msg = f"field 'policy' is {self.policy!r}; allowed: one of {list(POLICIES)}"
            raise ConfigError(msg)
        for name in ("epochs", "batch_size", "max_length"):
            if getattr(self, name) < (2 if name == "batch_size" else 1):
                low = 2 if name == "batch_size" else 1
                msg = f"field {name!r} is {getattr(self, name)}; allowed: an integer >= {low}"
                raise ConfigError(msg)
        for name in ("learning_rate", "magnitude_learning_rate", "scale"):
            if not getattr(self, name) > 0:
                msg = f"field {name!r} is {getattr(self, name)}; allowed: a number > 0"
                raise ConfigError(msg)


@dataclass
class TrainResult:
    """What a run did: where the model is, its spec, and how training went."""

    out_dir: Path
    spec: MagnitudeSpec
    steps: int
    seconds: float
    device: str
    pairs: int
    loss_first: float
    loss_last: float
    losses: list[float] = field(default_factory=list)


def _device(requested: str) -> str:
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def load_base(model: str, device: str, max_length: int) -> Any:
    """The base model without its ``Normalize`` modules (they would erase every magnitude)."""
    from sentence_transformers import SentenceTransformer

    from hybrid_search.embedding.models import resolve_model

    files = resolve_model(model)
    source = str(files.path) if files.path is not None else files.model_id
    st = SentenceTransformer(source, device=device, local_files_only=files.path is not None)
    for i in reversed(range(len(st))):
        if type(st[i]).__name__ == "Normalize":
            del st[i]
    st.max_seq_length = max_length
    return st


def _freeze_below(model: Any, train_layers: int) -> None:
    """Train only the top ``train_layers`` transformer layers (and the policy): on a CPU this
    skips most of the backward pass. Embeddings and lower layers keep their weights."""
    encoder = getattr(getattr(model[0], "auto_model", None), "encoder", None)
    layers = getattr(encoder, "layer", None)
    if layers is None:
        msg = "train_layers needs a BERT-style model (auto_model.encoder.layer)"
        raise ConfigError(msg)
    for p in model.parameters():
        p.requires_grad = False
    for layer in list(layers)[len(layers) - train_layers :]:
        for p in layer.parameters():
            p.requires_grad = True


def _pooled(model: Any, texts: Sequence[str], device: str) -> Any:
    features = model.preprocess(list(texts))
    features = {k: v.to(device) if hasattr(v, "to") else v for k, v in features.items()}
    return model(features)["sentence_embedding"]


def _calibration(model: Any, pairs: Sequence[Pair], device: str, n: int) -> tuple[float, float]:
    import torch

    sample = pairs[:n]
    with torch.no_grad():
        q = _pooled(model, [p.query for p in sample], device).float().norm(dim=1).mean()
        d = _pooled(model, [p.document for p in sample], device).float().norm(dim=1).mean()
    return 1.0 / max(float(q), 1e-6), 1.0 / max(float(d), 1e-6)


def _batches(pairs: Sequence[Pair], size: int, rng: random.Random) -> list[list[Pair]]:
    order = list(pairs)
    rng.shuffle(order)
    full = len(order) // size * size or len(order)
    return [order[i : i + size] for i in range(0, full, size)]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def train(
    pairs: Sequence[Pair],
    out_dir: Path,
    config: TrainConfig,
    *,
    on_step: Callable[[int, int, float], None] | None = None,
) -> TrainResult:
    """Fine-tune ``config.base_model`` on ``pairs`` and save it with its policy in ``out_dir``.

    Raises:
        ConfigError: a bad hyper-parameter, fewer pairs than one batch, or a model that
            cannot be loaded.
    """
    import torch

    from hybrid_search.training.policy import SidePolicy, similarity_matrix

    config.check()
    if len(pairs) < 2:
        msg = f"{len(pairs)} training pairs; at least 2 are needed for in-batch negatives"
        raise ConfigError(msg)
    device = _device(config.device)
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    model = load_base(config.base_model, device, config.max_length)
    model.train()
    q_scale, d_scale = (1.0, 1.0)
    if config.calibrate:
        q_scale, d_scale = _calibration(model, pairs, device, config.calibration_texts)
    if config.train_layers is not None:
        _freeze_below(model, config.train_layers)
    dim = int(model[len(model) - 1].get_embedding_dimension())
    policy = SidePolicy(config.policy, dim, query_scale=q_scale, document_scale=d_scale).to(device)
    rng = random.Random(config.seed)
    per_epoch = len(_batches(pairs, config.batch_size, random.Random(0)))
    total = per_epoch * config.epochs
    if config.max_steps is not None:  # overrides epochs, as in the Hugging Face Trainer
        total = config.max_steps
    optimizer = torch.optim.AdamW(
        [
            {
                "params": [p for p in model.parameters() if p.requires_grad],
                "weight_decay": config.weight_decay,
            },
            {
                "params": [p for p in policy.parameters() if p.requires_grad],
                "lr": config.magnitude_learning_rate,
                "weight_decay": 0.0,
            },
        ],
        lr=config.learning_rate,
        betas=(0.9, 0.98),
        eps=1e-8,
    )
    warmup = int(total * config.warmup_ratio)

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (total - step) / max(1, total - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda"))
    losses: list[float] = []
    step = 0
    start = time.perf_counter()
    while step < total:
        for batch in _batches(pairs, config.batch_size, rng):
            if step >= total:
                break
            with autocast:
                q = _pooled(model, [p.query for p in batch], device)
                d = _pooled(model, [p.document for p in batch], device)
            logits = config.scale * similarity_matrix(policy, q.float(), d.float())
            ids = [p.document_id or p.document for p in batch]
            texts = [p.query for p in batch]
            n = len(batch)
            mask = torch.tensor(
                [
                    [i != j and (ids[i] == ids[j] or texts[i] == texts[j]) for j in range(n)]
                    for i in range(n)
                ],
                device=logits.device,
            )
            logits = logits.masked_fill(mask, float("-inf"))
            loss = torch.nn.functional.cross_entropy(logits, torch.arange(n, device=logits.device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(
                list(model.parameters()) + list(policy.parameters()), 1.0
            )
            optimizer.step()
            scheduler.step()
            value = float(loss.detach())
            if not math.isfinite(value):
                msg = f"training diverged at step {step} (loss {value}); lower the learning rate"
                raise ConfigError(msg)
            losses.append(value)
            step += 1
            if on_step is not None:
                on_step(step, total, value)
    seconds = time.perf_counter() - start
    model.eval()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.similarity_fn_name = "cosine" if config.policy == "cosine" else "dot"
    model.save(str(out_dir))
    weights = out_dir / "model.safetensors"
    training = {
        **{k: v for k, v in vars(config).items() if k != "base_model"},
        "pairs": len(pairs),
        "steps": step,
        "seconds": round(seconds, 1),
        "device": device,
    }
    spec = policy.spec(
        scale=config.scale,
        base_model=config.base_model,
        weights_sha256=_sha256(weights) if weights.exists() else "",
        training=training,
    )
    tmp = out_dir / (MAGNITUDE_FILE + ".tmp")
    tmp.write_text(json.dumps(spec.to_json(), indent=2), encoding="utf-8")
    os.replace(tmp, out_dir / MAGNITUDE_FILE)
    k = max(1, min(10, len(losses) // 5))
    return TrainResult(
        out_dir=out_dir,
        spec=replace(spec),
        steps=step,
        seconds=seconds,
        device=device,
        pairs=len(pairs),
        loss_first=sum(losses[:k]) / k,
        loss_last=sum(losses[-k:]) / k,
        losses=losses,
    )
