"""Multimodal and behavioural vectors: weighted concatenation of normalised blocks.

A product's knn vector is ``[w_text * t/|t|, w_image * i/|i|, w_beh(p) * b/|b|]``; a query
carries only its unit text block, ``[q/|q|, 0, 0]``, so a query still ranks by text (its
inner product with a product is ``w_text * cos(q, t)``: divide by ``text_weight`` to read the
cosine) while "similar items" (document to document) also see the image and behaviour
blocks. A missing block (no image, no interactions yet: a cold-start product) is zeros, which
leaves the other blocks to decide.

Popularity-cascade guard: co-occurrence vectors of best sellers are close to everything (they
are in every basket), so similar-items lists drift towards them and make them sell more. The
behaviour weight of a product is divided by ``(1 + popularity / reference) ** alpha``
(``inverse_popularity`` = alpha), so a best seller's neighbours come mostly from its text, and a
niche product's from its shoppers. ``reference`` is the block's ``popularity_reference`` (an
index template must pin it: documents arrive in batches, and one product must get the same
weight whatever it was ingested with); without it, the median positive popularity of the rows
fused together (offline evaluation over a whole catalogue).

Index the fused vector under ``innerproduct``, not ``cosinesimil``: the similarity is then the
sum of the blocks' weighted cosines, so an empty block costs nothing and a query ``[q, 0]``
ranks exactly by text; cosine divides by each product's fused length and pulls new arrivals
towards each other (measured in ``benchmarks/results/behaviour-similar-items.md``).

Weights live in the index template's ``_meta.hybrid_search.vector_blocks``::

    "vector_blocks": [
      {"name": "text", "dimension": 384, "weight": 1.0},
      {"name": "behaviour", "dimension": 32, "weight": 0.5, "inverse_popularity": 0.5,
       "popularity_reference": 1.8}
    ]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hybrid_search.errors import TemplateError

__all__ = ["Block", "BlockLayout", "parse_blocks"]

_BLOCK_KEYS = ("name", "dimension", "weight", "inverse_popularity", "popularity_reference")


@dataclass(frozen=True)
class Block:
    """One block of the knn vector."""

    name: str
    dimension: int
    weight: float
    inverse_popularity: float = 0.0
    popularity_reference: float | None = None


def parse_blocks(raw: Any, *, where: str = "_meta.hybrid_search.vector_blocks") -> BlockLayout:
    """The block layout from a template's ``_meta`` value.

    Raises:
        TemplateError: not a list of blocks, a bad name, dimension or weight (named with its
            JSON pointer), a duplicate, or no ``text`` block (queries need one).
    """
    if not isinstance(raw, list) or not raw:
        msg = f"{where}: expected a non-empty list of blocks, got {raw!r}"
        raise TemplateError(msg)
    blocks = []
    for i, spec in enumerate(raw):
        ptr = f"{where}/{i}"
        if not isinstance(spec, dict):
            msg = f"{ptr}: expected an object with name, dimension, weight; got {spec!r}"
            raise TemplateError(msg)
        unknown = sorted(set(spec) - set(_BLOCK_KEYS))
        if unknown:
            msg = f"{ptr}/{unknown[0]}: unknown key; allowed: {list(_BLOCK_KEYS)}"
            raise TemplateError(msg)
        name, dim, weight = spec.get("name"), spec.get("dimension"), spec.get("weight", 1.0)
        alpha = spec.get("inverse_popularity", 0.0)
        reference = spec.get("popularity_reference")
        if not isinstance(name, str) or not name:
            msg = f"{ptr}/name: expected a non-empty string, got {name!r}"
            raise TemplateError(msg)
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
            msg = f"{ptr}/dimension: expected an integer >= 1, got {dim!r}"
            raise TemplateError(msg)
        for key, value in (("weight", weight), ("inverse_popularity", alpha)):
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                msg = f"{ptr}/{key}: expected a number >= 0, got {value!r}"
                raise TemplateError(msg)
        if reference is not None and (
            not isinstance(reference, int | float)
            or isinstance(reference, bool)
            or not math.isfinite(reference)
            or reference <= 0
        ):
            msg = f"{ptr}/popularity_reference: expected a finite number > 0, got {reference!r}"
            raise TemplateError(msg)
        ref = None if reference is None else float(reference)
        blocks.append(Block(name, dim, float(weight), float(alpha), ref))
    names = [b.name for b in blocks]
    if len(set(names)) != len(names):
        msg = f"{where}: block names must be unique, got {names}"
        raise TemplateError(msg)
    if "text" not in names:
        msg = (
            f"{where}: a block named 'text' is required (queries carry the text block), got {names}"
        )
        raise TemplateError(msg)
    return BlockLayout(tuple(blocks))


def _unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.nan_to_num(np.asarray(x, dtype=np.float32))
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    out: np.ndarray = np.where(norms > 0, x / np.where(norms > 0, norms, 1.0), 0.0)
    return out.astype(np.float32)


@dataclass(frozen=True)
class BlockLayout:
    """The blocks of a knn field, in order."""

    blocks: tuple[Block, ...]

    @property
    def dimension(self) -> int:
        """The knn field's dimension: the sum of the blocks'."""
        return sum(b.dimension for b in self.blocks)

    @property
    def text(self) -> Block:
        """The text block (``parse_blocks`` guarantees there is one)."""
        return next(b for b in self.blocks if b.name == "text")

    @property
    def text_weight(self) -> float:
        """A query's inner product with a product is ``text_weight * cos(query, text)``."""
        return self.text.weight

    def offsets(self) -> dict[str, tuple[int, int]]:
        """``name -> (start, end)`` of each block in the fused vector."""
        out: dict[str, tuple[int, int]] = {}
        start = 0
        for block in self.blocks:
            out[block.name] = (start, start + block.dimension)
            start += block.dimension
        return out

    def split(self, vector: np.ndarray) -> dict[str, np.ndarray]:
        """A fused vector's blocks by name (each still weighted; a missing block is zeros).

        Raises:
            ValueError: the vector's length is not the layout's dimension.
        """
        vec = np.asarray(vector, dtype=np.float32).ravel()
        if vec.size != self.dimension:
            msg = f"vector of length {vec.size}, the block layout needs {self.dimension}"
            raise ValueError(msg)
        return {name: vec[a:b] for name, (a, b) in self.offsets().items()}

    def keep(self, vector: np.ndarray, names: Sequence[str]) -> np.ndarray:
        """``vector`` with every block not in ``names`` zeroed.

        Raises:
            ValueError: ``names`` is empty or names an unknown block.
        """
        offsets = self.offsets()
        unknown = sorted(set(names) - set(offsets))
        if unknown or not names:
            msg = f"{list(names)} has unknown blocks {unknown}; allowed: {list(offsets)}"
            raise ValueError(msg)
        vec = np.asarray(vector, dtype=np.float32).ravel()
        out = np.zeros_like(vec)
        for name in names:
            a, b = offsets[name]
            out[a:b] = vec[a:b]
        return out

    def popularity_weights(self, block: Block, popularity: np.ndarray | None, n: int) -> np.ndarray:
        """Per-product weight of ``block``: ``weight / (1 + p / reference) ** alpha``.

        ``reference`` is ``block.popularity_reference``, else the median positive popularity of
        these rows. A missing (NaN) or negative popularity counts as 0: the full weight.
        """
        if block.inverse_popularity == 0 or popularity is None:
            return np.full(n, block.weight, dtype=np.float32)
        pop = np.clip(np.nan_to_num(np.asarray(popularity, dtype=np.float64)), 0.0, None)
        if block.popularity_reference is not None:
            reference = block.popularity_reference
        else:
            positive = pop[pop > 0]
            reference = float(np.median(positive)) if positive.size else 1.0
        scale = (1.0 + pop / reference) ** -block.inverse_popularity
        return (block.weight * scale).astype(np.float32)

    def documents(
        self,
        blocks: Mapping[str, np.ndarray],
        *,
        popularity: Sequence[float] | np.ndarray | None = None,
    ) -> np.ndarray:
        """Fuse per-block matrices (``name -> (n, dim)``; a missing name is all zeros).

        Raises:
            ValueError: a matrix has the wrong shape, or ``blocks`` names an unknown block.
        """
        unknown = set(blocks) - {b.name for b in self.blocks}
        if unknown:
            msg = (
                f"unknown blocks {sorted(unknown)}; the layout has {[b.name for b in self.blocks]}"
            )
            raise ValueError(msg)
        n = len(next(iter(blocks.values()))) if blocks else 0
        pop = None if popularity is None else np.asarray(popularity, dtype=np.float64)
        parts = []
        for block in self.blocks:
            x = blocks.get(block.name)
            if x is None:
                parts.append(np.zeros((n, block.dimension), dtype=np.float32))
                continue
            if x.shape != (n, block.dimension):
                msg = f"block {block.name!r}: shape {x.shape}, expected ({n}, {block.dimension})"
                raise ValueError(msg)
            weights = self.popularity_weights(block, pop, n)
            parts.append(_unit_rows(x) * weights[:, None])
        return np.hstack(parts) if parts else np.zeros((0, 0), np.float32)

    def query(self, text_vector: np.ndarray) -> np.ndarray:
        """A query's knn vector: its unit text vector in the text block, zeros elsewhere.

        Under ``innerproduct`` it scores a product ``text_weight * cos(query, text)``: the
        text ranking exactly, whatever the product's other blocks hold.

        Raises:
            ValueError: the text vector's length is not the text block's dimension.
        """
        text = np.asarray(text_vector, dtype=np.float32).ravel()
        if text.size != self.text.dimension:
            msg = (
                f"query vector of length {text.size}, the text block needs "
                f"{self.text.dimension} (the embedding model's dimension)"
            )
            raise ValueError(msg)
        parts = []
        for block in self.blocks:
            if block.name == "text":
                parts.append(_unit_rows(text[None, :])[0])
            else:
                parts.append(np.zeros(block.dimension, dtype=np.float32))
        return np.concatenate(parts).astype(np.float32)
