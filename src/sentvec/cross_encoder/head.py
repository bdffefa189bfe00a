"""The classification head of a sequence-classification checkpoint, and its literal name maps.

BERT-style (``BertForSequenceClassification``): the first token -> pooler (dense + tanh) -> dropout
-> classifier. RoBERTa-style (``RobertaForSequenceClassification``, also XLM-R, CamemBERT, MPNet):
the first token -> dropout -> dense + tanh -> dropout -> out_proj. Both are dense, tanh, dense on
the first token; they differ in names only, so one module serves both.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sentvec.config import EncoderConfig

# checkpoint name -> ours, per head style; the encoder's own tensors go through sentvec.encoder.weights
HEAD_MAPS: dict[str, dict[str, str]] = {
    "bert": {
        "bert.pooler.dense.weight": "dense.weight",
        "bert.pooler.dense.bias": "dense.bias",
        "classifier.weight": "out.weight",
        "classifier.bias": "out.bias",
    },
    "roberta": {
        "classifier.dense.weight": "dense.weight",
        "classifier.dense.bias": "dense.bias",
        "classifier.out_proj.weight": "out.weight",
        "classifier.out_proj.bias": "out.bias",
    },
}
# the prefix under which each family's sequence-classification model keeps its encoder
ENCODER_PREFIX = {"bert": "bert.", "roberta": "roberta.", "xlm-roberta": "roberta.", "mpnet": "mpnet."}
ARCHITECTURE = {
    "bert": "BertForSequenceClassification",
    "roberta": "RobertaForSequenceClassification",
    "xlm-roberta": "XLMRobertaForSequenceClassification",
    "mpnet": "MPNetForSequenceClassification",
}


def head_style(config: EncoderConfig) -> str:
    """``bert`` or ``roberta``: which names the family's head uses."""
    if config.family not in ENCODER_PREFIX:
        raise ValueError(
            f"CrossEncoder supports bert, roberta, xlm-roberta and mpnet checkpoints; this one is {config.family}"
        )
    return "bert" if config.family == "bert" else "roberta"


class ClassificationHead(nn.Module):
    """First-token vector (B, C) -> logits (B, num_labels): dense, tanh, dense, with dropout."""

    def __init__(self, hidden_size: int, num_labels: int, dropout: float, *, dropout_first: bool = False) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.out = nn.Linear(hidden_size, num_labels)
        self.dropout = nn.Dropout(dropout)
        self.dropout_first = dropout_first  # RoBERTa's head drops out before the dense layer too; BERT's does not

    def forward(self, first_token: Tensor) -> Tensor:
        """Scores (B, num_labels) from the first token's hidden state (B, hidden)."""
        x = self.dropout(first_token) if self.dropout_first else first_token
        return self.out(self.dropout(torch.tanh(self.dense(x))))

    def reset(self, std: float = 0.02) -> None:
        """Fresh weights, as the reference initialises a new head: normal(0, std), zero bias."""
        for layer in (self.dense, self.out):
            nn.init.normal_(layer.weight, std=std)
            nn.init.zeros_(layer.bias)
