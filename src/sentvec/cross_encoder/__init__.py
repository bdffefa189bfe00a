"""Cross-encoders: score text pairs jointly (rerankers, STS regressors, pair classifiers)."""

from sentvec.cross_encoder import evaluation, losses
from sentvec.cross_encoder.model import CrossEncoder
from sentvec.cross_encoder.model_card import CrossEncoderModelCardData

__all__ = ["CrossEncoder", "CrossEncoderModelCardData", "evaluation", "losses"]
