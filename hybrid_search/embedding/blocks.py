"""Multimodal and behavioural vectors: weighted concatenation of normalised blocks.

A product's knn vector is ``[w_text * t/|t|, w_image * i/|i|, w_beh(p) * b/|b|]``; a query
carries only its text block, ``[w_text * q/|q|, 0, 0]``, so a query still ranks by text while
"similar items" (document to document) also see the image and behaviour blocks. A missing
block (no image, no interactions yet: a cold-start product) is zeros, which leaves the other
blocks to decide.

Popularity-cascade guard: co-occurrence vectors of best sellers are close to everything (they
are in every basket), so similar-items lists drift towards them and make them sell more. The
behaviour weight of a product is divided by ``(1 + popularity / reference) ** alpha``
(``inverse_popularity`` = alpha), with ``reference`` the median popularity, so a best seller's
neighbours come mostly from its text, and a niche product's from its shoppers.

Index the fused vector under ``innerproduct``, not ``cosinesimil``: the similarity is then the
sum of the blocks' weighted cosines, so an empty block costs nothing and a query ``[q, 0]``
ranks exactly by text; cosine divides by each product's fused length and pulls new arrivals
towards each other (measured in ``benchmarks/results/behaviour-similar-items.md``).

Weights live in the index template's ``_meta.hybrid_search.vector_blocks``::

    "vector_blocks": [
      {"name": "text", "dimension": 384, "weight": 1.0},
      {"name": "behaviour", "dimension": 32, "weight": 0.5, "inverse_popularity": 0.5}
    ]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hybrid_search.errors import TemplateError

__all__ = ["Block", "BlockLayout", "parse_blocks"]


@dataclass(frozen=True)
class Block:
    """One block of the knn vector."""

    name: str
    dimension: int
    weight: float
    inverse_popularity: float = 0.0


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
        name, dim, weight = spec.get("name"), spec.get("dimension"), spec.get("weight", 1.0)
        alpha = spec.get("inverse_popularity", 0.0)
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
        blocks.append(Block(name, dim, float(weight), float(alpha)))
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

    def popularity_weights(self, block: Block, popularity: np.ndarray | None, n: int) -> np.ndarray:
        """Per-product weight of ``block``: ``weight / (1 + p / median p) ** alpha``."""
        if block.inverse_popularity == 0 or popularity is None:
            return np.full(n, block.weight, dtype=np.float32)
        pop = np.clip(np.nan_to_num(np.asarray(popularity, dtype=np.float64)), 0.0, None)
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
        """A query's knn vector: its text block, zeros elsewhere."""
        parts = []
        for block in self.blocks:
            if block.name == "text":
                parts.append(_unit_rows(np.asarray(text_vector)[None, :])[0] * block.weight)
            else:
                parts.append(np.zeros(block.dimension, dtype=np.float32))
        return np.concatenate(parts).astype(np.float32)
