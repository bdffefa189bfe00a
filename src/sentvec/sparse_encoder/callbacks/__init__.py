"""Training callbacks of SparseEncoders, under sentence-transformers' names."""

from sentvec.sparse_encoder.callbacks.splade_callbacks import SchedulerType, SpladeRegularizerWeightSchedulerCallback

__all__ = ["SchedulerType", "SpladeRegularizerWeightSchedulerCallback"]
