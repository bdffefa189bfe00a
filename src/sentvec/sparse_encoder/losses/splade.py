"""SpladeLoss: a ranking or distillation loss plus FLOPS regularisation of the query and document vectors.

loss = main loss + lambda_d * FLOPS(documents) + lambda_q * FLOPS(queries), with the first column the queries and
every other column (positives, negatives) the documents. The main loss is one of
:mod:`sentvec.sparse_encoder.losses`' wrapped losses (SparseMultipleNegativesRankingLoss, SparseMarginMSELoss...);
the regularisers default to :class:`FlopsLoss`. Returns the parts as a dict (``base_loss``,
``document_regularizer_loss``, ``query_regularizer_loss``), which the trainer adds up and logs one by one.
Reference: Formal et al., 2022, "From Distillation to Hard Negative Sampling: Making Sparse Neural IR Models More
Effective"; ``sentence_transformers.sparse_encoder.losses.SpladeLoss``.

    loss = SpladeLoss(model, loss=SparseMultipleNegativesRankingLoss(model),
                      query_regularizer_weight=5e-5, document_regularizer_weight=3e-5)

:class:`~sentvec.sparse_encoder.SparseEncoderTrainer` ramps both weights up from 0 over the first third of
training (:class:`~sentvec.sparse_encoder.callbacks.SpladeRegularizerWeightSchedulerCallback`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor, nn

from sentvec.losses.base import embed_columns
from sentvec.sparse_encoder.losses.flops import FlopsLoss

logger = logging.getLogger(__name__)


class SpladeLoss(nn.Module):
    """A main loss plus FLOPS regularisation of queries (first column) and documents (the other columns).

    Args:
        model: the SparseEncoder being trained.
        loss: the main loss; it must have ``compute_loss_from_embeddings(embeddings, labels)``.
        document_regularizer_weight: weight of the documents' regularisation (lambda_d).
        query_regularizer_weight: weight of the queries' regularisation (lambda_q); None: none (inference-free
            models, whose query side has no Transformer, or ``use_document_regularizer_only``).
        document_regularizer, query_regularizer: other regularisers than :class:`FlopsLoss` (anything with
            ``compute_loss_from_embeddings(embeddings)``).
        document_regularizer_threshold, query_regularizer_threshold: the default FlopsLoss' ``threshold``.
        use_document_regularizer_only: every column (queries too) is a document, regularised together with the
            document weight: for symmetric data such as pairs of documents.
    """

    # losses of several kinds, each called by its compute_loss_from_embeddings
    loss: Any
    document_regularizer: Any
    query_regularizer: Any

    def __init__(
        self,
        model: nn.Module,
        loss: nn.Module,
        document_regularizer_weight: float,
        query_regularizer_weight: float | None = None,
        document_regularizer: nn.Module | None = None,
        query_regularizer: nn.Module | None = None,
        document_regularizer_threshold: int | None = None,
        query_regularizer_threshold: int | None = None,
        use_document_regularizer_only: bool = False,
    ) -> None:
        super().__init__()
        if not hasattr(loss, "compute_loss_from_embeddings"):
            raise ValueError(
                "The provided loss does not have a 'compute_loss_from_embeddings' method, which is required for "
                "SpladeLoss. This method must have the signature "
                "`compute_loss_from_embeddings(embeddings: List[Tensor], labels: Tensor | None = None)`."
            )
        self.model = model
        self.loss = loss
        self.document_regularizer_weight = document_regularizer_weight
        self.query_regularizer_weight = query_regularizer_weight
        self.use_document_regularizer_only = use_document_regularizer_only
        self.document_regularizer = document_regularizer or FlopsLoss(model, threshold=document_regularizer_threshold)
        self.query_regularizer = query_regularizer
        if query_regularizer is None and not use_document_regularizer_only:
            self.query_regularizer = FlopsLoss(model, threshold=query_regularizer_threshold)
        if query_regularizer_weight is None and not use_document_regularizer_only:
            logger.warning(
                "query_regularizer_weight is None: the queries are not regularised. That suits an inference-free "
                "model (no Transformer on the query side); otherwise give a query_regularizer_weight > 0"
            )
        if use_document_regularizer_only and query_regularizer_weight is not None:
            logger.warning(
                "query_regularizer_weight is ignored with use_document_regularizer_only=True: every column is "
                "regularised as a document, with document_regularizer_weight"
            )
            self.query_regularizer_weight = None

    def forward(
        self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor | None = None
    ) -> dict[str, Tensor]:
        """The parts of one batch's loss: one tokenized batch per input column in ``sentence_features``."""
        return self.compute_loss_from_embeddings(embed_columns(self.model, sentence_features), labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None = None) -> dict[str, Tensor]:
        """The parts from the columns' (B, V) vectors: the main loss (``base_loss``, or the main loss' own parts),
        ``document_regularizer_loss`` and, with a query weight, ``query_regularizer_loss``; all weighted."""
        base = self.loss.compute_loss_from_embeddings(embeddings, labels)
        parts: dict[str, Tensor] = dict(base) if isinstance(base, dict) else {"base_loss": base}
        documents = embeddings if self.use_document_regularizer_only else embeddings[1:]
        document_loss = self.document_regularizer.compute_loss_from_embeddings(torch.cat(documents))
        parts["document_regularizer_loss"] = document_loss * self.document_regularizer_weight
        if self.query_regularizer_weight is not None and self.query_regularizer is not None:
            query_loss = self.query_regularizer.compute_loss_from_embeddings(embeddings[0])
            parts["query_regularizer_loss"] = query_loss * self.query_regularizer_weight
        return parts

    def get_config_dict(self) -> dict[str, Any]:
        """The loss's settings, as written to the model card: the main loss, the weights, and the regularisers
        when they are not the default FlopsLoss or have a threshold."""
        config: dict[str, Any] = {"loss": self.loss, "document_regularizer_weight": self.document_regularizer_weight}
        if self.query_regularizer_weight is not None:
            config["query_regularizer_weight"] = self.query_regularizer_weight
        for side, regularizer in (("document", self.document_regularizer), ("query", self.query_regularizer)):
            if regularizer is None:
                continue
            if not isinstance(regularizer, FlopsLoss):
                config[f"{side}_regularizer"] = type(regularizer).__name__
            if getattr(regularizer, "threshold", None) is not None:
                config[f"{side}_regularizer_threshold"] = regularizer.threshold
        return config
