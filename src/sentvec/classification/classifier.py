"""SentenceClassifier: a sentence embedding model plus a classification head.

>>> classifier = model.get_classifier()                  # logistic regression on the embeddings
>>> classifier.fit(texts, labels)                        # or fit(..., finetune=True): SetFit-style few-shot
>>> classifier.fit(texts, labels, finetune="supervised")  # encoder + linear head tuned end to end first
>>> classifier.predict(["what a wonderful film"])        # array(['pos'], ...)
>>> classifier.save("my-classifier"); SentenceClassifier.load("my-classifier")
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import safetensors.torch

from sentvec.classification.fewshot import _contrastive_finetune, _supervised_finetune, sentence_pairs
from sentvec.classification.heads import HEADS, LogisticHead, TorchHead, load_head, make_head
from sentvec.extensions import register
from sentvec.inputs import check_texts
from sentvec.model import SentenceTransformer
from sentvec.model_folder import staged_save
from sentvec.paths import inside, read_json, write_json

logger = logging.getLogger(__name__)

CONFIG_NAME = "classifier.json"
HEAD_NAME = "head.safetensors"
MODEL_DIR = "model"
FORMAT_VERSION = 1


class NotFittedError(ValueError, AttributeError):
    """The classifier was used before :meth:`SentenceClassifier.fit` (the same bases as scikit-learn's)."""


class SentenceClassifier:
    """Classify texts with a sentence embedding model and a head fitted on its embeddings.

    Usually made with :meth:`sentvec.SentenceTransformer.get_classifier`.

    Args:
        model: the :class:`~sentvec.SentenceTransformer` that embeds the texts.
        head: ``"logistic"`` (scikit-learn's LogisticRegression; ``pip install -e '.[classify]'`` in the sentvec checkout) or
            ``"torch"`` (a linear or MLP head trained with torch; no scikit-learn needed).
        multi_label: each text has a set of labels (any number, including none) rather than one class.
        normalize_embeddings: scale the embeddings to unit length before the head.
        batch_size: texts per forward pass when embedding.
        show_progress_bar: show progress bars while embedding and fine-tuning.
        **head_kwargs: passed to the head: ``LogisticRegression`` arguments (``C=0.5``, ``class_weight=...``)
            for ``"logistic"``; ``hidden_size``, ``epochs``, ``batch_size``, ``learning_rate``,
            ``weight_decay``, ``dropout``, ``seed`` for ``"torch"``.
    """

    def __init__(
        self,
        model: SentenceTransformer,
        head: str = "logistic",
        multi_label: bool = False,
        *,
        normalize_embeddings: bool = False,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        **head_kwargs: Any,
    ) -> None:
        if head not in HEADS:
            raise ValueError(f"head={head!r} is unknown; choose from {list(HEADS)}")
        self.model = model
        self.head_name = head
        self.multi_label = bool(multi_label)
        self.normalize_embeddings = normalize_embeddings
        self.batch_size = batch_size
        self.show_progress_bar = show_progress_bar
        self.head: LogisticHead | TorchHead = make_head(head, self.multi_label, head_kwargs)
        self.classes_: np.ndarray | None = None
        self._label_sets = True  # multi-label targets came as label names (else as a 0/1 matrix)
        self._fitted = False
        self._finetuned = False

    def __repr__(self) -> str:
        labels = "not fitted" if self.classes_ is None else f"classes={self.classes_.tolist()}"
        return f"SentenceClassifier(head={self.head_name!r}, multi_label={self.multi_label}, {labels})"

    # ------------------------------------------------------------------ fitting

    def fit(
        self,
        texts: Sequence[str],
        labels: Any,
        *,
        finetune: bool | Literal["pairs", "supervised"] = False,
        num_iterations: int = 20,
        num_epochs: int = 1,
        finetune_batch_size: int = 16,
        learning_rate: float = 2e-5,
        seed: int = 42,
    ) -> SentenceClassifier:
        """Fit the head on the embeddings of ``texts``; with ``finetune`` first fine-tune the encoder.

        Args:
            texts: the training texts.
            labels: one label per text (strings, ints or bools). Multi-label: one list of label names
                per text (may be empty), or a 0/1 matrix of shape (n_texts, n_labels) (a 2-D numpy array,
                or equal-length lists of 0s and 1s).
            finetune: fine-tune the encoder first, then fit the head on its new embeddings. Either
                way this changes the weights of the model this classifier holds, in place.

                - ``True`` or ``"pairs"``: few-shot mode in the style of SetFit: pairs of texts with the
                  same and with different labels, cosine-similarity loss. For a handful of examples
                  per label.
                - ``"supervised"``: end to end: a linear head on the embedding trained with the encoder,
                  cross-entropy on the labels (per-label binary cross-entropy for multi-label), the head
                  at 100 times ``learning_rate``, then dropped. For hundreds of examples or more.
            num_iterations: pairs only: rounds of pair generation; each gives every text one same-label
                and one other-label partner.
            num_epochs, finetune_batch_size, learning_rate: of the fine-tuning (AdamW, 10% linear
                warm-up, then linear decay).
            seed: for the pairs, the order of the batches and dropout.

        Returns:
            self.

        Raises:
            ValueError: no texts, a different number of labels and texts, fewer than two classes, or an
                unknown ``finetune`` mode.
            TypeError: a text that is not a string, or a label of an unsupported type.
        """
        mode = "pairs" if finetune is True else finetune
        if mode not in (False, "pairs", "supervised"):
            raise ValueError(f"finetune={finetune!r} is unknown; use False, True (= 'pairs') or 'supervised'")
        texts = _check_texts(texts, "fit")
        self._fitted = False  # a fit that fails half-way must not leave a half-updated classifier usable
        targets = self._encode_labels(labels, len(texts))
        if mode:
            tuning: dict[str, Any] = {
                "num_epochs": num_epochs,
                "batch_size": finetune_batch_size,
                "learning_rate": learning_rate,
                "seed": seed,
                "show_progress_bar": bool(self.show_progress_bar),
            }
            if mode == "pairs":
                _contrastive_finetune(self.model, sentence_pairs(texts, targets, num_iterations, seed), **tuning)
            else:
                _supervised_finetune(self.model, texts, targets, **tuning)
            self.model.eval()
            self._finetuned = True
        self.head.fit(self._embed(texts), targets)
        self._fitted = True
        return self

    def _encode_labels(self, labels: Any, count: int) -> np.ndarray:
        """Check ``labels`` against ``count`` texts, set ``classes_``; return class indices or a 0/1 matrix."""
        if labels is None:
            raise ValueError("fit() got labels=None; pass one label per text")
        if hasattr(labels, "detach"):  # a torch tensor
            labels = labels.detach().cpu().numpy()
        if isinstance(labels, str) or not isinstance(labels, Iterable):
            raise TypeError(f"labels must be a list with one label per text, got {type(labels).__name__}")
        if not hasattr(labels, "__len__"):  # a generator
            labels = list(labels)
        if len(labels) != count:
            raise ValueError(f"fit() got {count} texts but {len(labels)} labels; pass exactly one label per text")
        if self.multi_label:
            return self._encode_multi_label(labels)
        values = [_plain(label, i) for i, label in enumerate(labels)]
        kinds = {type(v) for v in values}
        if len(kinds) > 1:
            raise TypeError(f"labels mix {sorted(k.__name__ for k in kinds)}; use one type (e.g. all strings)")
        classes = sorted(set(values))
        if len(classes) < 2:
            raise ValueError(
                f"all {count} labels are {classes[0]!r}: a classifier needs examples of at least two classes"
            )
        self.classes_ = np.array(classes)
        index = {c: i for i, c in enumerate(classes)}
        return np.array([index[v] for v in values], dtype=np.int64)

    def _encode_multi_label(self, labels: Any) -> np.ndarray:
        rows = [np.asarray(row).tolist() if isinstance(row, np.ndarray) else row for row in labels]
        for i, row in enumerate(rows):
            if isinstance(row, str) or not isinstance(row, Iterable):
                raise TypeError(
                    f"label {i} is {row!r}; with multi_label=True each text needs a list of labels "
                    "(names, possibly empty) or a row of 0/1 values"
                )
            rows[i] = list(row)
        if _is_matrix(rows):
            matrix = np.array(rows, dtype=np.int64)
            self._label_sets = False
            self.classes_ = np.arange(matrix.shape[1])
        else:
            names = sorted({_plain(label, i) for i, row in enumerate(rows) for label in row}, key=str)
            if any(not isinstance(name, str) for name in names):
                raise TypeError("multi-label names must be strings; for numbers pass a 0/1 matrix instead")
            self._label_sets = True
            self.classes_ = np.array(names)
            index = {name: j for j, name in enumerate(names)}
            matrix = np.zeros((len(rows), len(names)), dtype=np.int64)
            for i, row in enumerate(rows):
                for label in row:
                    matrix[i, index[label]] = 1
        if matrix.shape[1] == 0:
            raise ValueError("no text has any label; multi-label fitting needs labels")
        for j, name in enumerate(self.classes_.tolist()):
            column = matrix[:, j]
            if column.min() == column.max():
                where = "every" if column[0] else "no"
                raise ValueError(
                    f"label {name!r} is on {where} text: each label needs texts with and without it "
                    "(add examples, or drop that label)"
                )
        return matrix

    # ------------------------------------------------------------------ predicting

    def predict_proba(self, texts: Sequence[str] | str) -> np.ndarray:
        """Probabilities, shape (n_texts, n_classes), columns in the order of ``classes_``.

        Multi-class rows sum to 1; multi-label columns are independent yes-probabilities.
        """
        self._check_fitted("predict_proba")
        single = isinstance(texts, str)
        checked = _check_texts([texts] if single else texts, "predict_proba", allow_empty=True)
        if not checked:
            return np.zeros((0, len(self.classes_)), dtype=np.float64)  # type: ignore[arg-type]
        probabilities = self.head.proba(self._embed(checked))
        return probabilities[0] if single else probabilities

    def predict(self, texts: Sequence[str] | str) -> Any:
        """The predicted label of each text: an array of class labels; multi-label: one list of label
        names per text (those with probability above 0.5), or a 0/1 matrix if fitted on one."""
        self._check_fitted("predict")
        single = isinstance(texts, str)
        probabilities = self.predict_proba([cast(str, texts)] if single else texts)
        assert self.classes_ is not None
        if not self.multi_label:
            predicted: Any = self.classes_[probabilities.argmax(axis=1)] if len(probabilities) else self.classes_[:0]
        elif self._label_sets:
            names = self.classes_.tolist()
            predicted = [[names[j] for j in np.flatnonzero(row > 0.5)] for row in probabilities]
        else:
            predicted = (probabilities > 0.5).astype(np.int64)
        return predicted[0] if single else predicted

    def score(self, texts: Sequence[str], labels: Any) -> float:
        """Accuracy on ``texts``: the share predicted right; multi-label: the share whose whole label
        set is right (subset accuracy)."""
        self._check_fitted("score")
        texts = _check_texts(texts, "score")
        if len(labels) != len(texts):
            raise ValueError(f"score() got {len(texts)} texts but {len(labels)} labels; pass one label per text")
        probabilities = self.predict_proba(texts)
        assert self.classes_ is not None
        if not self.multi_label:
            predicted = self.classes_[probabilities.argmax(axis=1)]
            truth = np.array([_plain(label, i) for i, label in enumerate(labels)])
            return float(np.mean(predicted == truth))
        truth, unseen = self._truth_matrix(labels)
        # a text with a label fit() never saw cannot be predicted right
        return float(np.mean(((probabilities > 0.5) == truth).all(axis=1) & ~unseen))

    def _truth_matrix(self, labels: Any) -> tuple[np.ndarray, np.ndarray]:
        """Multi-label ``labels`` as a bool matrix over ``classes_``, and which rows name unseen labels."""
        assert self.classes_ is not None
        rows = [np.asarray(row).tolist() if isinstance(row, np.ndarray) else list(row) for row in labels]
        if not self._label_sets:
            matrix = np.array(rows, dtype=np.int64)
            if matrix.ndim != 2 or matrix.shape[1] != len(self.classes_):
                raise ValueError(f"labels must be a 0/1 matrix with {len(self.classes_)} columns, as in fit()")
            return matrix.astype(bool), np.zeros(len(rows), dtype=bool)
        index = {name: j for j, name in enumerate(self.classes_.tolist())}
        matrix = np.zeros((len(rows), len(index)), dtype=bool)
        unseen = np.zeros(len(rows), dtype=bool)
        for i, row in enumerate(rows):
            for label in row:
                if label in index:
                    matrix[i, index[label]] = True
                else:
                    unseen[i] = True
        return matrix, unseen

    def _check_fitted(self, what: str) -> None:
        if not self._fitted:
            raise NotFittedError(f"{what}() was called before fit(): call classifier.fit(texts, labels) first")

    def _embed(self, texts: list[str]) -> np.ndarray:
        show = self.show_progress_bar
        embeddings = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=self.normalize_embeddings,
            convert_to_numpy=True,
            show_progress_bar=show,
        )
        return np.asarray(embeddings)  # already one matrix (convert_to_numpy); typed as such, no copy

    # ------------------------------------------------------------------ saving

    def save(self, path: str | os.PathLike[str], save_model: bool | None = None) -> None:
        """Write the classifier to a folder: ``classifier.json`` (head type, options, label names, model),
        ``head.safetensors`` (the head's weights) and, when needed, ``model/`` (the encoder).

        No pickle: everything loads with :meth:`load` without running code from the folder.

        Args:
            path: the folder (created; files of the same names are replaced). It is built beside and
                moved into place, so a crash never leaves a half-written classifier.
            save_model: also save the encoder into ``model/``. Default: when it was fine-tuned or has no
                name to load it by; otherwise the model's name or folder is recorded.
        """
        self._check_fitted("save")
        if save_model is None:
            save_model = self._finetuned or not getattr(self.model, "model_name_or_path", None)
        assert self.classes_ is not None
        config = {
            "sentvec_classifier": FORMAT_VERSION,
            "head": self.head_name,
            "head_config": self.head.config(),
            "multi_label": self.multi_label,
            "label_format": "names" if (self._label_sets or not self.multi_label) else "matrix",
            "classes": self.classes_.tolist(),
            "normalize_embeddings": self.normalize_embeddings,
            "batch_size": self.batch_size,
            "finetuned": self._finetuned,
            "model": MODEL_DIR if save_model else self.model.model_name_or_path,
            "model_saved": bool(save_model),
        }
        with staged_save(path, "saving the classifier to") as staging:
            write_json(staging / CONFIG_NAME, config)
            safetensors.torch.save_file(self.head.tensors(), str(staging / HEAD_NAME), metadata={"format": "pt"})
            if save_model:
                self.model.save(staging / MODEL_DIR, create_model_card=False)

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], model: SentenceTransformer | None = None, device: str | None = None
    ) -> SentenceClassifier:
        """Load a classifier written by :meth:`save`.

        Args:
            path: the classifier folder.
            model: use this SentenceTransformer instead of the one the folder names or holds.
            device: where to load the model.
        """
        folder = Path(path)
        if not (folder / CONFIG_NAME).is_file():
            raise FileNotFoundError(
                f"{folder} has no {CONFIG_NAME}; is it a folder written by SentenceClassifier.save()?"
            )
        config = read_json(folder / CONFIG_NAME)
        if config.get("sentvec_classifier") != FORMAT_VERSION:
            raise ValueError(f"{folder / CONFIG_NAME} is not a sentvec classifier of format {FORMAT_VERSION}")
        if model is None:
            name = config.get("model")
            if not name:
                raise ValueError(
                    f"{folder / CONFIG_NAME} names no model; pass load(..., model=SentenceTransformer(...))"
                )
            source = inside(folder, name) if config.get("model_saved") else name
            model = SentenceTransformer(str(source), device=device)
        classifier = cls.__new__(cls)
        classifier.model = model
        classifier.head_name = config["head"]
        classifier.multi_label = bool(config["multi_label"])
        classifier.normalize_embeddings = bool(config.get("normalize_embeddings", False))
        classifier.batch_size = int(config.get("batch_size", 32))
        classifier.show_progress_bar = None
        classifier.head = load_head(
            config["head"],
            config.get("head_config", {}),
            safetensors.torch.load_file(str(folder / HEAD_NAME)),
            classifier.multi_label,
        )
        classifier.classes_ = np.array(config["classes"])
        classifier._label_sets = config.get("label_format", "names") == "names"
        classifier._fitted = True
        classifier._finetuned = bool(config.get("finetuned", False))
        return classifier


def _check_texts(texts: Any, what: str, *, allow_empty: bool = False) -> list[str]:
    """``texts`` as a list of strings, or an error naming the first bad one (a list only, no modalities)."""
    return check_texts(texts, caller=what, list_only=True, allow_empty=allow_empty)


def _plain(label: Any, position: int) -> str | int | bool:
    """A label as a plain str, int or bool (numpy scalars converted), so it can be saved as JSON."""
    if isinstance(label, np.generic):
        label = label.item()
    if isinstance(label, str | bool | int):
        return label
    if isinstance(label, float) and label.is_integer():
        return int(label)
    raise TypeError(f"label {position} is {label!r} ({type(label).__name__}); labels must be strings, ints or bools")


def _is_matrix(rows: list[list[Any]]) -> bool:
    """Whether multi-label ``rows`` are a 0/1 matrix (equal-length rows of 0/1 numbers or bools)."""
    if not rows or not rows[0]:
        return False
    width = len(rows[0])
    return all(
        len(row) == width and all(isinstance(v, int | bool | np.integer | np.bool_) and v in (0, 1) for v in row)
        for row in rows
    )


register("classifier", "sentence", SentenceClassifier)  # SentenceTransformer.get_classifier() builds this
