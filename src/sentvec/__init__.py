"""sentvec: sentence embeddings with our own Transformer encoder, drop-in for sentence-transformers.

>>> from sentvec import SentenceTransformer
>>> model = SentenceTransformer("all-MiniLM-L6-v2")
>>> embeddings = model.encode(["The weather is lovely today.", "It's so sunny outside!"])
>>> model.similarity(embeddings, embeddings)
"""

__version__ = "0.1.0"

from sentvec import models, quantization, util  # noqa: E402  (submodules under sentence-transformers' names)
from sentvec.model import SentenceTransformer  # noqa: E402
from sentvec.quantization import quantize_embeddings  # noqa: E402
from sentvec.similarity import SimilarityFunction  # noqa: E402

__all__ = [
    "SentenceTransformer",
    "SimilarityFunction",
    "__version__",
    "models",
    "quantization",
    "quantize_embeddings",
    "util",
]
