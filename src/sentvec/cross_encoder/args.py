"""The CrossEncoder's renamed arguments: old names still work, with a warning that names the new one.

sentence-transformers v4 renamed most of ``CrossEncoder(...)``'s arguments (``model_name`` ->
``model_name_or_path``, ``automodel_args`` -> ``model_kwargs``, ...) and v6 renamed the tokenizer's
(``tokenizer_args`` -> ``processor_kwargs``). Code written for any of those versions keeps running:
these decorators rewrite the old keywords into the new ones before the method sees them.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

# old keyword -> new keyword, for CrossEncoder.__init__
_INIT_RENAMED = {
    "model_name": "model_name_or_path",
    "automodel_args": "model_kwargs",
    "tokenizer_args": "processor_kwargs",
    "config_args": "config_kwargs",
    "cache_dir": "cache_folder",
    "default_activation_function": "activation_fn",
}


def cross_encoder_init_args_decorator(init: F) -> F:
    """Accept ``CrossEncoder(...)``'s pre-v6 keyword arguments: each renamed one moves to its new name
    (the new name wins when both are given) and ``classifier_dropout`` moves into ``config_kwargs``;
    every rewrite is logged as a warning."""

    @functools.wraps(init)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        for old, new in _INIT_RENAMED.items():
            if old not in kwargs:
                continue
            value = kwargs.pop(old)
            if new in kwargs:
                logger.warning(
                    "The `%s` argument was renamed and is now deprecated; `%s` is given too and is "
                    "used, `%s` is ignored.",
                    old,
                    new,
                    old,
                )
                continue
            logger.warning("The `%s` argument was renamed and is now deprecated, please use `%s` instead.", old, new)
            kwargs[new] = value
        if "classifier_dropout" in kwargs:
            dropout = kwargs.pop("classifier_dropout")
            logger.warning(
                "The `classifier_dropout` argument is deprecated. Please use "
                "`config_kwargs={'classifier_dropout': %r}` instead.",
                dropout,
            )
            kwargs["config_kwargs"] = {**(kwargs.get("config_kwargs") or {}), "classifier_dropout": dropout}
        return init(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def cross_encoder_predict_rank_args_decorator(method: F) -> F:
    """Accept ``predict``/``rank``'s pre-v4 keyword arguments: ``sentences`` is now ``inputs``,
    ``activation_fct`` is now ``activation_fn`` (ignored when both are given), and ``num_workers``
    (a DataLoader setting) is dropped; each with a warning."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if "sentences" in kwargs:
            logger.warning("The `sentences` argument was renamed and is now deprecated, please use `inputs` instead.")
            kwargs.setdefault("inputs", kwargs.pop("sentences"))
            kwargs.pop("sentences", None)
        if "activation_fct" in kwargs:
            value = kwargs.pop("activation_fct")
            if "activation_fn" in kwargs:
                logger.warning(
                    "The `activation_fct` argument was renamed and is now deprecated; `activation_fn` "
                    "is given too and is used, `activation_fct` is ignored."
                )
            else:
                logger.warning(
                    "The `activation_fct` argument was renamed and is now deprecated, please use "
                    "`activation_fn` instead."
                )
                kwargs["activation_fn"] = value
        if "num_workers" in kwargs:
            kwargs.pop("num_workers")
            logger.warning(
                "The `num_workers` argument is deprecated and has no effect: inputs are tokenized in "
                "the calling process."
            )
        return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


__all__ = ["cross_encoder_init_args_decorator", "cross_encoder_predict_rank_args_decorator"]
