"""The torch-free runtime: ``SentenceTransformer`` for inference with onnxruntime and numpy only.

``pip install -e ".[lite]"`` in the checkout installs what it needs. ``from sentvec import SentenceTransformer``
gives this class when torch is not installed, and the full one when it is.
"""

from sentvec.lite.model import SentenceTransformer

__all__ = ["SentenceTransformer"]
