"""SparseEncoderTrainingArguments: the training settings of a SparseEncoder, under sentence-transformers' name.

The same fields as :class:`~sentvec.training.SentenceTransformerTrainingArguments`; ``router_mapping`` matters
most here, to send the query column through an inference-free model's query route:
``SparseEncoderTrainingArguments(output_dir="out", router_mapping={"query": "query", "answer": "document"})``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sentvec.training.arguments import SentenceTransformerTrainingArguments


@dataclass
class SparseEncoderTrainingArguments(SentenceTransformerTrainingArguments):
    """What to train a SparseEncoder for how long, and how; see the base class."""
