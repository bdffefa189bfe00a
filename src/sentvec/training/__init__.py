"""Fine-tuning: a plain-PyTorch training loop, its arguments, and the data it reads.

``SentenceTransformerTrainer`` + ``SentenceTransformerTrainingArguments`` follow sentence-transformers'
trainer; ``SentenceTransformer.fit`` keeps the pre-v3 API working. See :mod:`sentvec.training.loop`
for what a step does, exact resume and multi-GPU (``torchrun``).
"""

from sentvec.training.arguments import SentenceTransformerTrainingArguments
from sentvec.training.data import InputExample, to_columns
from sentvec.training.fit import fit
from sentvec.training.loop import TrainingLoop
from sentvec.training.schedule import get_scheduler
from sentvec.training.trainer import SentenceTransformerTrainer

__all__ = [
    "InputExample",
    "SentenceTransformerTrainer",
    "SentenceTransformerTrainingArguments",
    "TrainingLoop",
    "fit",
    "get_scheduler",
    "to_columns",
]
