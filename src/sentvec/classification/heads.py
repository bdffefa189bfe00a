"""Classification heads: map embeddings (N, D) to class or label probabilities.

Two heads share one small interface (``fit``, ``proba``, ``tensors``, ``config``, ``from_saved``):

- :class:`LogisticHead`: scikit-learn's ``LogisticRegression`` (the ``[classify]`` extra) for fitting.
  Predicting needs only numpy: the fitted coefficients are applied here, so a saved classifier loads
  and predicts without scikit-learn.
- :class:`TorchHead`: a linear layer or a one-hidden-layer MLP trained with AdamW; softmax for
  multi-class, one sigmoid per label for multi-label. Needs nothing beyond torch.

Targets are class indices ``(N,)`` for multi-class and a 0/1 matrix ``(N, L)`` for multi-label.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

HEADS = ("logistic", "torch")


def _softmax(scores: np.ndarray) -> np.ndarray:
    scores = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(scores)
    return exp / exp.sum(axis=1, keepdims=True)


def _sigmoid(scores: np.ndarray) -> np.ndarray:
    # written with exp(-|x|) so neither branch overflows
    e = np.exp(-np.abs(scores))
    return np.where(scores >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


class LogisticHead:
    """Logistic regression: multinomial for three or more classes, one sigmoid for two, one binary
    model per label for multi-label.

    Args:
        multi_label: targets are a 0/1 matrix, one independent yes/no per label.
        **kwargs: passed to ``sklearn.linear_model.LogisticRegression`` (``C``, ``max_iter``,
            ``class_weight``...); ``max_iter`` defaults to 1000 here, since sentence embeddings often
            need more than scikit-learn's 100 iterations to converge.
    """

    name = "logistic"

    def __init__(self, multi_label: bool = False, **kwargs: Any) -> None:
        self.multi_label = multi_label
        self.kwargs = {"max_iter": 1000, **kwargs}
        self.coef: np.ndarray | None = None  # (C or L, D); (1, D) for two classes
        self.intercept: np.ndarray | None = None

    def _estimator(self) -> Any:
        try:
            from sklearn.linear_model import LogisticRegression
        except ImportError:
            raise ImportError(
                "the logistic head needs scikit-learn: pip install -e '.[classify]' in the sentvec checkout "
                "(or choose head='torch', which needs only torch)"
            ) from None
        try:
            return LogisticRegression(**self.kwargs)
        except TypeError as err:  # an argument LogisticRegression does not take
            raise TypeError(f"get_classifier(head='logistic', ...): {err}") from None

    def fit(self, x: np.ndarray, y: np.ndarray) -> None:
        """Fit one logistic regression per label column on embeddings ``x`` (N, dim) and targets ``y``."""
        columns = [y[:, j] for j in range(y.shape[1])] if self.multi_label else [y]
        fitted = [self._estimator().fit(x, column) for column in columns]
        self.coef = np.concatenate([f.coef_ for f in fitted]).astype(np.float64)
        self.intercept = np.concatenate([f.intercept_ for f in fitted]).astype(np.float64)

    def proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities (N, classes) of embeddings ``x``: softmax, or per-label sigmoid for multi-label."""
        assert self.coef is not None and self.intercept is not None
        scores = x.astype(np.float64) @ self.coef.T + self.intercept
        if self.multi_label:
            return _sigmoid(scores)
        if self.coef.shape[0] == 1:  # two classes: scikit-learn keeps one row, for the second class
            positive = _sigmoid(scores[:, 0])
            return np.stack([1.0 - positive, positive], axis=1)
        return _softmax(scores)

    def tensors(self) -> dict[str, torch.Tensor]:
        """The fitted weights to save: ``coef`` and ``intercept``."""
        assert self.coef is not None and self.intercept is not None
        return {"coef": torch.from_numpy(self.coef), "intercept": torch.from_numpy(self.intercept)}

    def config(self) -> dict[str, Any]:
        """The settings to save beside the weights (the scikit-learn keyword arguments)."""
        return {"kwargs": self.kwargs}

    @classmethod
    def from_saved(cls, config: dict[str, Any], tensors: dict[str, torch.Tensor], multi_label: bool) -> LogisticHead:
        """Rebuild a fitted head from what :meth:`config` and :meth:`tensors` saved."""
        head = cls(multi_label, **config.get("kwargs", {}))
        try:
            head.coef = tensors["coef"].numpy().astype(np.float64)
            head.intercept = tensors["intercept"].numpy().astype(np.float64)
        except KeyError as err:
            raise ValueError(f"the saved logistic head has no tensor {err}; the classifier folder is corrupt") from None
        if head.coef.ndim != 2 or head.intercept.shape != (head.coef.shape[0],):
            raise ValueError(
                f"the saved logistic head has shapes {tuple(head.coef.shape)} and "
                f"{tuple(head.intercept.shape)}; the classifier folder is corrupt"
            )
        return head


class TorchHead:
    """A small torch head: linear (``hidden_size=0``) or Linear-ReLU-Dropout-Linear, trained with AdamW
    on the embeddings (cross-entropy, or binary cross-entropy per label for multi-label).

    Args:
        multi_label: targets are a 0/1 matrix, one sigmoid per label.
        hidden_size: width of the hidden layer; 0 (the default) for a linear head.
        epochs: passes over the training embeddings.
        batch_size: embeddings per step.
        learning_rate, weight_decay: AdamW's.
        dropout: on the hidden layer, while training.
        seed: for the initial weights and the order of the batches, so a fit is repeatable.
    """

    name = "torch"

    def __init__(
        self,
        multi_label: bool = False,
        *,
        hidden_size: int = 0,
        epochs: int = 100,
        batch_size: int = 32,
        learning_rate: float = 1e-2,
        weight_decay: float = 0.01,
        dropout: float = 0.1,
        seed: int = 0,
    ) -> None:
        for key, value, least in (
            ("hidden_size", hidden_size, 0),
            ("epochs", epochs, 1),
            ("batch_size", batch_size, 1),
        ):
            if not isinstance(value, int) or value < least:
                raise ValueError(
                    f"get_classifier(head='torch', {key}={value!r}): it must be an int of at least {least}"
                )
        self.multi_label = multi_label
        self.options: dict[str, Any] = {
            "hidden_size": hidden_size,
            "epochs": epochs,
            "batch_size": batch_size,
            "learning_rate": learning_rate,
            "weight_decay": weight_decay,
            "dropout": dropout,
            "seed": seed,
        }
        self.network: nn.Module | None = None

    def _build(self, dim: int, outputs: int) -> nn.Module:
        hidden = self.options["hidden_size"]
        if not hidden:
            return nn.Linear(dim, outputs)
        return nn.Sequential(
            nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout(self.options["dropout"]), nn.Linear(hidden, outputs)
        )

    def fit(self, x: np.ndarray, y: np.ndarray) -> None:
        """Train the small network on embeddings ``x`` (N, dim) and targets ``y`` (indices, or 0/1 rows for
        multi-label)."""
        inputs = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        if self.multi_label:
            targets = torch.from_numpy(y.astype(np.float32))
            outputs = y.shape[1]
            loss_fn: nn.Module = nn.BCEWithLogitsLoss()
        else:
            targets = torch.from_numpy(y.astype(np.int64))
            outputs = int(y.max()) + 1
            loss_fn = nn.CrossEntropyLoss()
        with torch.random.fork_rng(devices=[]):  # a repeatable fit that leaves the caller's RNG alone
            torch.manual_seed(self.options["seed"])
            network = self._build(inputs.shape[1], outputs)
            optimizer = torch.optim.AdamW(
                network.parameters(), lr=self.options["learning_rate"], weight_decay=self.options["weight_decay"]
            )
            network.train()
            size = self.options["batch_size"]
            for _ in range(self.options["epochs"]):
                order = torch.randperm(len(inputs))
                for start in range(0, len(order), size):
                    rows = order[start : start + size]
                    loss = loss_fn(network(inputs[rows]), targets[rows])
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
        self.network = network.eval()

    @torch.no_grad()
    def proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities (N, classes) of embeddings ``x``: softmax, or per-label sigmoid for multi-label."""
        assert self.network is not None
        logits = self.network(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
        probabilities = torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, dim=1)
        return probabilities.double().numpy()

    def tensors(self) -> dict[str, torch.Tensor]:
        """The trained network's weights to save."""
        assert self.network is not None
        return {k: v.detach().contiguous() for k, v in self.network.state_dict().items()}

    def config(self) -> dict[str, Any]:
        """The settings to save beside the weights (the network's options)."""
        return dict(self.options)

    @classmethod
    def from_saved(cls, config: dict[str, Any], tensors: dict[str, torch.Tensor], multi_label: bool) -> TorchHead:
        """Rebuild a trained head from what :meth:`config` and :meth:`tensors` saved."""
        head = cls(multi_label, **config)
        first = "weight" if "weight" in tensors else "0.weight"
        last = "weight" if "weight" in tensors else "3.weight"
        if first not in tensors or last not in tensors:
            raise ValueError(f"the saved torch head has tensors {sorted(tensors)}; the classifier folder is corrupt")
        network = head._build(tensors[first].shape[1], tensors[last].shape[0])
        try:
            network.load_state_dict(tensors)
        except RuntimeError as err:
            raise ValueError(f"the saved torch head does not match its config: {err}") from None
        head.network = network.eval()
        return head


def make_head(head: str, multi_label: bool, kwargs: dict[str, Any]) -> LogisticHead | TorchHead:
    """The head called ``head`` ("logistic" or "torch"), built with ``kwargs``."""
    if head == "logistic":
        built = LogisticHead(multi_label, **kwargs)
        built._estimator()  # fail now, not at fit(), on a missing scikit-learn or a bad argument
        return built
    if head == "torch":
        try:
            return TorchHead(multi_label, **kwargs)
        except TypeError as err:
            raise TypeError(
                f"get_classifier(head='torch', ...): {err}; it takes {list(TorchHead(False).options)}"
            ) from None
    raise ValueError(f"head={head!r} is unknown; choose from {list(HEADS)}")


def load_head(
    head: str, config: dict[str, Any], tensors: dict[str, torch.Tensor], multi_label: bool
) -> LogisticHead | TorchHead:
    """Rebuild a saved head from its config and tensors."""
    kinds: dict[str, type[LogisticHead] | type[TorchHead]] = {"logistic": LogisticHead, "torch": TorchHead}
    if head not in kinds:
        raise ValueError(f"the saved classifier names head {head!r}; sentvec knows {list(HEADS)}")
    return kinds[head].from_saved(config, tensors, multi_label)
