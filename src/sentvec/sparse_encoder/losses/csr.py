"""CSRLoss: train a CSR model (a SentenceTransformer's steps, then a SparseAutoEncoder) with reconstruction losses
plus a ranking (or other) loss on the sparse codes.

CSRReconstructionLoss, per input column, from the SparseAutoEncoder's training outputs:
``reconstruction_loss_k``: MSE of the input and its decoding from the top-k code; ``reconstruction_loss_4k``: the
same from the top-4k code, divided by 8; ``reconstruction_loss_aux``: ``beta`` times the MSE, normalised by the
input's variance, of the dead latents' decoding against what the top-k decoding left unexplained. CSRLoss adds the
main loss (default :class:`SparseMultipleNegativesRankingLoss`) times ``gamma`` and returns the parts as a dict.
Reference: Wen et al., 2025, "Beyond Matryoshka: Revisiting Sparse Coding for Adaptive Representation";
``sentence_transformers.sparse_encoder.losses.CSRLoss``.

    model = SparseEncoder("sentence-transformers/all-MiniLM-L6-v2")   # adds an untrained SparseAutoEncoder
    loss = CSRLoss(model)                                            # (anchor, positive[, negative]) data
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sentvec.sparse_encoder.losses.sparse_multiple_negatives_ranking import SparseMultipleNegativesRankingLoss


def normalized_mean_squared_error(reconstruction: Tensor, original: Tensor) -> Tensor:
    """MSE of ``reconstruction`` against ``original`` (B, D), over the MSE of predicting every row by the batch
    mean; that variance counts as 1 when it is 0 or every row is the same."""
    baseline = F.mse_loss(original.mean(dim=0, keepdim=True).expand_as(original), original)
    constant = (baseline == 0) | (original == original[:1]).all()
    baseline = torch.where(constant, torch.ones_like(baseline), baseline)
    return F.mse_loss(reconstruction, original) / baseline


class CSRReconstructionLoss(nn.Module):
    """The SparseAutoEncoder's reconstruction losses (k, 4k, auxiliary). A part of :class:`CSRLoss`.

    Args:
        model: the SparseEncoder (CSR) being trained.
        beta: weight of the auxiliary (dead latents) reconstruction.
    """

    def __init__(self, model: nn.Module, beta: float = 1.0) -> None:
        super().__init__()
        self.model = model
        self.beta = beta

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor | None = None) -> Tensor:
        """Not a training loss of its own: raises, as sentence-transformers' does."""
        raise NotImplementedError(
            "CSRReconstructionLoss is not intended to be used standalone. Use it within CSRLoss instead."
        )

    def compute_loss_from_embeddings(self, outputs: list[dict[str, Any]]) -> dict[str, Tensor]:
        """The three reconstruction losses, averaged over the columns' model outputs (feature dicts from a
        forward pass outside inference mode)."""
        if not outputs:
            raise ValueError("CSRReconstructionLoss needs the model outputs of at least one input column")
        if "decoded_embedding_k" not in outputs[0]:
            raise ValueError(
                "the model outputs hold no 'decoded_embedding_k': CSR losses need a model ending in a "
                "SparseAutoEncoder, run outside torch.inference_mode()"
            )
        loss_k, loss_4k, loss_aux = [], [], []
        for features in outputs:
            x = features["sentence_embedding_backbone"]
            loss_k.append(F.mse_loss(x, features["decoded_embedding_k"]))
            loss_4k.append(F.mse_loss(x, features["decoded_embedding_4k"]))
            aux = features["decoded_embedding_aux"]
            if aux is None:
                loss_aux.append(torch.zeros_like(loss_k[-1]))
            else:  # the dead latents learn what the top k left unexplained
                residual = x - features["decoded_embedding_k_pre_bias"].detach()
                loss_aux.append(normalized_mean_squared_error(aux, residual))
        columns = len(outputs)
        return {
            "reconstruction_loss_k": torch.stack(loss_k).sum() / columns,
            "reconstruction_loss_4k": torch.stack(loss_4k).sum() / columns / 8.0,
            "reconstruction_loss_aux": self.beta * torch.stack(loss_aux).sum() / columns,
        }

    def get_config_dict(self) -> dict[str, Any]:
        """The loss's settings, as written to the model card."""
        return {"beta": self.beta}


class CSRLoss(nn.Module):
    """Reconstruction losses plus a main loss on the sparse codes, for CSR models.

    Args:
        model: the SparseEncoder (CSR) being trained.
        loss: the main loss (anything with ``compute_loss_from_embeddings(embeddings, labels)``); default
            :class:`SparseMultipleNegativesRankingLoss`.
        beta: weight of the auxiliary reconstruction.
        gamma: weight of the main loss.
    """

    loss: Any  # any loss with compute_loss_from_embeddings

    def __init__(self, model: nn.Module, loss: nn.Module | None = None, beta: float = 0.1, gamma: float = 1.0) -> None:
        super().__init__()
        self.model = model
        self.beta = beta
        self.gamma = gamma
        self.reconstruction_loss = CSRReconstructionLoss(model, beta=beta)
        self.loss = loss if loss is not None else SparseMultipleNegativesRankingLoss(model)

    def forward(
        self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor | None = None
    ) -> dict[str, Tensor]:
        """The parts of one batch's loss: the three reconstruction losses and the weighted main loss
        (``base_loss``, or the main loss' own parts)."""
        outputs = [self.model(features) for features in sentence_features]
        parts = self.reconstruction_loss.compute_loss_from_embeddings(outputs)
        base = self.loss.compute_loss_from_embeddings([output["sentence_embedding"] for output in outputs], labels)
        if isinstance(base, dict):
            parts.update({key: value * self.gamma for key, value in base.items()})
        else:
            parts["base_loss"] = base * self.gamma
        return parts

    def get_config_dict(self) -> dict[str, Any]:
        """The loss's settings, as written to the model card."""
        return {"beta": self.beta, "gamma": self.gamma, "loss": type(self.loss).__name__}
