"""Training losses under their sentence-transformers names, one per file.

Each takes the model first and is called as ``loss(sentence_features, labels)``: one tokenized batch
per input column (anchor, positive, ...) and the labels tensor, returning a scalar to minimise. Each
also has ``compute_loss_from_embeddings(embeddings, labels)`` with the math alone.
"""

from sentvec.losses.angle import AnglELoss, pairwise_angle_sim
from sentvec.losses.cached_multiple_negatives_ranking import CachedMultipleNegativesRankingLoss
from sentvec.losses.contrastive import ContrastiveLoss, SiameseDistanceMetric
from sentvec.losses.cosent import CoSENTLoss
from sentvec.losses.cosine_similarity import CosineSimilarityLoss
from sentvec.losses.distill_kl_div import DistillKLDivLoss
from sentvec.losses.margin_mse import MarginMSELoss
from sentvec.losses.matryoshka import MatryoshkaLoss
from sentvec.losses.mse import MSELoss
from sentvec.losses.multiple_negatives_ranking import MultipleNegativesRankingLoss
from sentvec.losses.multiple_negatives_symmetric_ranking import MultipleNegativesSymmetricRankingLoss
from sentvec.losses.online_contrastive import OnlineContrastiveLoss
from sentvec.losses.softmax import SoftmaxLoss
from sentvec.losses.triplet import TripletDistanceMetric, TripletLoss

__all__ = [
    "AnglELoss",
    "CachedMultipleNegativesRankingLoss",
    "CoSENTLoss",
    "ContrastiveLoss",
    "CosineSimilarityLoss",
    "DistillKLDivLoss",
    "MSELoss",
    "MarginMSELoss",
    "MatryoshkaLoss",
    "MultipleNegativesRankingLoss",
    "MultipleNegativesSymmetricRankingLoss",
    "OnlineContrastiveLoss",
    "SiameseDistanceMetric",
    "SoftmaxLoss",
    "TripletDistanceMetric",
    "TripletLoss",
    "pairwise_angle_sim",
]
