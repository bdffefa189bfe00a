"""MultipleNegativesRankingLoss: in-batch negatives (InfoNCE) for (anchor, positive[, negatives...]) data.

For anchor i, the positive i must out-score every other candidate in the batch: the other anchors'
positives, and every hard negative column. Reference: Henderson et al., 2017, "Efficient Natural
Language Response Suggestion for Smart Reply"; ``sentence_transformers.losses.MultipleNegativesRankingLoss``.

    loss = losses.MultipleNegativesRankingLoss(model)          # data: (anchor, positive) pairs
    loss = losses.MultipleNegativesRankingLoss(model, directions=("query_to_doc", "doc_to_query"))
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal, cast

import torch
from torch import Tensor, nn

from sentvec.losses.base import TrainableEncoder, embed_columns, function_name
from sentvec.similarity import cos_sim

Direction = Literal["query_to_doc", "query_to_query", "doc_to_query", "doc_to_doc"]
_DIRECTIONS = ("query_to_doc", "query_to_query", "doc_to_query", "doc_to_doc")


def ranking_loss(
    embeddings: list[Tensor],
    scale: float,
    similarity_fct: Callable[[Tensor, Tensor], Tensor],
    directions: tuple[str, ...],
    partition_mode: str,
    gather: bool = False,
) -> Tensor:
    """The math: cross-entropy of the positive against the in-batch candidates, per anchor.

    ``embeddings[0]`` are the anchors (B, D), ``embeddings[1]`` the positives, ``embeddings[2:]``
    hard negatives. Each direction adds a block of candidate scores; ``joint`` takes one softmax over
    all blocks, ``per_direction`` averages the log-partition of each block.
    """
    if len(embeddings) < 2:
        raise ValueError(
            f"a ranking loss needs (anchor, positive[, negatives...]) columns, got {len(embeddings)} column(s)"
        )
    queries, docs = embeddings[0], list(embeddings[1:])
    batch_size = queries.shape[0]
    offset = 0
    if gather:
        queries, docs, offset = _gather(queries, docs)
    rows = torch.arange(batch_size, device=queries.device)
    own = rows + offset  # where this process's examples sit in the (gathered) batch
    local_queries, local_docs = queries[own], docs[0][own]
    all_docs = torch.cat(docs, dim=0)
    blocks = {"query_to_doc": similarity_fct(local_queries, all_docs)}  # (B, B*(1+negatives))
    if "query_to_query" in directions:
        block = similarity_fct(local_queries, queries)
        block[rows, own] = -torch.inf  # an anchor is not its own negative
        blocks["query_to_query"] = block
    if "doc_to_query" in directions:
        blocks["doc_to_query"] = similarity_fct(queries, local_docs).T
    if "doc_to_doc" in directions:
        block = similarity_fct(all_docs, local_docs).T
        same = torch.eye(queries.shape[0], device=queries.device, dtype=torch.bool)[own].repeat(1, len(docs))
        blocks["doc_to_doc"] = block.masked_fill(same, -torch.inf)  # documents of the same anchor are no negatives
    blocks = {k: v * scale for k, v in blocks.items()}
    positive = blocks["query_to_doc"][rows, own]
    if partition_mode == "joint":
        log_z = torch.logsumexp(torch.cat(list(blocks.values()), dim=1), dim=1)
    else:
        log_z = cast(Tensor, sum(torch.logsumexp(b, dim=1) for b in blocks.values())) / len(blocks)
    return -(positive - log_z).mean()


def _gather(queries: Tensor, docs: list[Tensor]) -> tuple[Tensor, list[Tensor], int]:
    """All processes' embeddings, with gradients flowing back to each one's own (DDP)."""
    import torch.distributed as dist
    from torch.distributed.nn.functional import all_gather

    if not (dist.is_available() and dist.is_initialized()):
        return queries, docs, 0
    return (
        torch.cat(all_gather(queries)),
        [torch.cat(all_gather(d)) for d in docs],
        dist.get_rank() * queries.shape[0],
    )


class MultipleNegativesRankingLoss(nn.Module):
    """In-batch negatives loss for (anchor, positive) pairs or (anchor, positive, negative...) tuples.

    Args:
        model: the SentenceTransformer to train.
        scale: similarities are multiplied by this before the softmax (1 / temperature).
        similarity_fct: (N, D) x (M, D) -> (N, M) scores; ``cos_sim`` by default.
        gather_across_devices: under DDP, score against every process's candidates.
        directions: which candidate blocks compete with the positive (see :func:`ranking_loss`).
        partition_mode: ``"joint"`` (one softmax) or ``"per_direction"``.
        hardness_mode, hardness_strength: accepted for signature compatibility; only the default
            (no hardness weighting) is implemented.
    """

    def __init__(
        self,
        model: TrainableEncoder,
        scale: float = 20.0,
        similarity_fct: Callable[[Tensor, Tensor], Tensor] = cos_sim,
        gather_across_devices: bool = False,
        directions: tuple[Direction, ...] = ("query_to_doc",),
        partition_mode: Literal["joint", "per_direction"] = "joint",
        hardness_mode: str | None = None,
        hardness_strength: float = 0.0,
    ) -> None:
        super().__init__()
        check_ranking_settings(directions, partition_mode, hardness_mode, hardness_strength)
        self.model = model
        self.scale = scale
        self.similarity_fct = similarity_fct
        self.gather_across_devices = gather_across_devices
        self.directions = tuple(directions)
        self.partition_mode = partition_mode
        self.hardness_mode = hardness_mode
        self.hardness_strength = hardness_strength

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor | None) -> Tensor:
        """The loss of one batch: one tokenized batch per input column in ``sentence_features``; a scalar to minimise."""
        return self.compute_loss_from_embeddings(embed_columns(self.model, sentence_features), labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None = None) -> Tensor:
        """The loss from precomputed embeddings (labels are unused: the column order is the label)."""
        return ranking_loss(
            embeddings,
            self.scale,
            self.similarity_fct,
            self.directions,
            self.partition_mode,
            self.gather_across_devices,
        )

    def get_config_dict(self) -> dict[str, Any]:
        """The loss's settings, as written to the model card."""
        return {
            "scale": self.scale,
            "similarity_fct": function_name(self.similarity_fct),
            "gather_across_devices": self.gather_across_devices,
            "directions": self.directions,
            "partition_mode": self.partition_mode,
            "hardness_mode": self.hardness_mode,
            "hardness_strength": self.hardness_strength,
        }

    @property
    def temperature(self) -> float:
        """The softmax temperature, ``1 / scale``."""
        return 1.0 / self.scale


def check_ranking_settings(
    directions: Iterable[str], partition_mode: str, hardness_mode: str | None, hardness_strength: float
) -> None:
    """Errors for settings the ranking losses do not have."""
    directions = tuple(directions)
    if "query_to_doc" not in directions:
        raise ValueError(f"directions={directions} must include 'query_to_doc' (the positive's own block)")
    unknown = [d for d in directions if d not in _DIRECTIONS]
    if unknown:
        raise ValueError(f"directions has unknown entries {unknown}; choose from {_DIRECTIONS}")
    if partition_mode not in ("joint", "per_direction"):
        raise ValueError(f"partition_mode={partition_mode!r}; choose 'joint' or 'per_direction'")
    if hardness_mode is not None and hardness_strength > 0:
        raise NotImplementedError("hardness weighting (hardness_mode=...) is not implemented in sentvec; leave it None")
