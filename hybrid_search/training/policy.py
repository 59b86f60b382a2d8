"""The normalisation policies as a trainable torch module (the mirror of ``apply_side``).

Feng & Watanabe (arXiv 2602.09229), eqs. 3-7 and 20: InfoNCE over ``alpha * s(q, d)`` where
``s`` normalises the query side, the document side, both or neither; the learnable variant
divides each side by ``|x|^gamma`` with ``gamma = sigmoid(logit)`` initialised at 0.5. The
``head`` policy (our addition, a cosine-first curriculum after PACE, Li et al. 2026) keeps the
query unit and gives the document the length ``exp(clip(w . d_hat + b))``, which is exactly
cosine at initialisation (w = 0, b = 0). Inference applies the same transform in numpy
(``hybrid_search.embedding.magnitude.apply_side``); a test holds the two to the same numbers.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from hybrid_search.embedding.magnitude import POLICIES, MagnitudeSpec, Side

__all__ = ["SidePolicy", "similarity_matrix"]


class SidePolicy(nn.Module):
    """Side transforms of one policy; its parameters (gamma logits, head) are trained."""

    def __init__(
        self,
        policy: str,
        dimension: int,
        *,
        query_scale: float = 1.0,
        document_scale: float = 1.0,
        head_clip: float = 3.0,
    ) -> None:
        super().__init__()
        if policy not in POLICIES:
            msg = f"policy {policy!r} is not one of {list(POLICIES)}"
            raise ValueError(msg)
        self.policy = policy
        self.head_clip = head_clip
        self.query_scale = float(query_scale)
        self.document_scale = float(document_scale)
        # Named *_bias so the usual "no weight decay on biases" filters leave them alone.
        self.gamma_q_bias = nn.Parameter(torch.zeros(()), requires_grad=policy == "learnable")
        self.gamma_d_bias = nn.Parameter(torch.zeros(()), requires_grad=policy == "learnable")
        self.head_weight = nn.Parameter(torch.zeros(dimension), requires_grad=policy == "head")
        self.head_bias = nn.Parameter(torch.zeros(()), requires_grad=policy == "head")

    def gammas(self) -> tuple[float, float]:
        """(gamma_q, gamma_d) as the spec records them (1 = normalised, 0 = raw)."""
        if self.policy == "learnable":
            return (
                float(torch.sigmoid(self.gamma_q_bias).item()),
                float(torch.sigmoid(self.gamma_d_bias).item()),
            )
        fixed = {"cosine": (1.0, 1.0), "qnorm": (1.0, 0.0), "dnorm": (0.0, 1.0), "dot": (0.0, 0.0)}
        return fixed.get(self.policy, (1.0, 1.0))

    def forward(self, x: torch.Tensor, side: Side) -> torch.Tensor:
        """Pooled vectors ``(n, dim)`` -> the side's vectors."""
        x = x.float() * (self.query_scale if side == "query" else self.document_scale)
        norms = x.norm(dim=1, keepdim=True).clamp_min(1e-12)
        unit: torch.Tensor = x / norms
        p = self.policy
        if p == "cosine":
            return unit
        if p == "qnorm":
            return unit if side == "query" else x
        if p == "dnorm":
            return x if side == "query" else unit
        if p == "dot":
            return x
        if p == "learnable":
            logit = self.gamma_q_bias if side == "query" else self.gamma_d_bias
            out: torch.Tensor = x / norms ** torch.sigmoid(logit)
            return out
        if side == "query":
            return unit
        length = torch.clamp(
            unit @ self.head_weight + self.head_bias, -self.head_clip, self.head_clip
        )
        head_out: torch.Tensor = unit * torch.exp(length)[:, None]
        return head_out

    def spec(self, *, scale: float, **extra: Any) -> MagnitudeSpec:
        """The inference spec of the current parameters."""
        gamma_q, gamma_d = self.gammas()
        head = None
        if self.policy == "head":
            head = tuple(float(v) for v in self.head_weight.detach().cpu().tolist())
        return MagnitudeSpec(
            policy=self.policy,
            scale=scale,
            query_scale=self.query_scale,
            document_scale=self.document_scale,
            gamma_q=gamma_q,
            gamma_d=gamma_d,
            head_weight=head,
            head_bias=float(self.head_bias.item()) if self.policy == "head" else 0.0,
            head_clip=self.head_clip,
            **extra,
        )


def similarity_matrix(
    policy: SidePolicy, queries: torch.Tensor, docs: torch.Tensor
) -> torch.Tensor:
    """``s(q_i, d_j)`` for every pair: the dot product of the two sides."""
    scores: torch.Tensor = policy(queries, "query") @ policy(docs, "document").T
    return scores
