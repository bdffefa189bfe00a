"""Which ``SentenceTransformer`` serves this installation: torch's, or the torch-free runtime's when torch is absent.

``from sentvec import SentenceTransformer`` and the ``sentvec`` command both ask here, so the choice is made in
one place. Importing this module imports neither runtime.
"""

from __future__ import annotations

import importlib.util


def sentence_transformer_class() -> type:
    """The ``SentenceTransformer`` class to use: :mod:`sentvec.model`'s, or :mod:`sentvec.lite`'s without torch.

    The lite class encodes and compares (onnxruntime + numpy); training, devices and the torch-only
    modules need the torch one.
    """
    if importlib.util.find_spec("torch") is None:
        from sentvec.lite import SentenceTransformer as LiteSentenceTransformer  # no torch: the lite runtime

        return LiteSentenceTransformer
    from sentvec.model import SentenceTransformer  # imported on demand: torch takes a second to import

    return SentenceTransformer
