"""Text classification on sentence embeddings: a head on a frozen encoder, or SetFit-style few-shot.

>>> from sentvec import SentenceTransformer
>>> model = SentenceTransformer("all-MiniLM-L6-v2")
>>> classifier = model.get_classifier()              # head="logistic" (needs scikit-learn) or "torch"
>>> classifier.fit(["great film", "dull and slow"], ["pos", "neg"])
>>> classifier.predict(["a wonderful story"])

:func:`read_labelled` reads texts and labels from CSV, TSV or JSON lines, as ``sentvec classify`` does.
"""

from sentvec.classification.classifier import NotFittedError, SentenceClassifier
from sentvec.classification.data import read_labelled

__all__ = ["NotFittedError", "SentenceClassifier", "read_labelled"]
