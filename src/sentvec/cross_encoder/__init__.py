"""Cross-encoders: score text pairs jointly (rerankers, STS regressors, pair classifiers)."""

from sentvec.cross_encoder import evaluation, losses
from sentvec.cross_encoder.model import CrossEncoder

__all__ = ["CrossEncoder", "evaluation", "losses"]
