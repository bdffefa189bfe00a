"""Model loading for the commands: one function turns the parsed options into a model.

Every command that embeds with a model the user names loads it through :func:`model_from_args`, so that
an option the commands share (-m/--model, --device, --cache-folder, --backend) cannot be dropped by one of
them. torch and the model code are imported when a model is loaded, never at startup.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

from sentvec.cli.common import UsageError

if TYPE_CHECKING:
    from sentvec.cross_encoder import CrossEncoder


class ModelLoader(Protocol):
    """The signature of :func:`load_model` (tests hand the commands a loader of their own)."""

    def __call__(self, name: str, *, device: str | None, cache_folder: str | None, backend: str = "torch") -> Any:
        """Load the model ``name``."""


def load_model(name: str, *, device: str | None, cache_folder: str | None, backend: str = "torch") -> Any:
    """Load a SentenceTransformer (the torch-free runtime where torch is missing).

    Args:
        name: a model name, hub id or folder.
        device: cpu, cuda, cuda:1, mps... (None: the library's choice).
        cache_folder: the sentvec model cache (None: the default).
        backend: one of sentvec.types.BACKENDS.

    Returns:
        ``sentvec.SentenceTransformer``: the torch model, or the torch-free runtime's class of that name
        (typed Any: the commands use both).

    Raises:
        UsageError: torch cannot use ``device``.
    """
    from sentvec.runtime import sentence_transformer_class

    SentenceTransformer = sentence_transformer_class()  # noqa: N806 - a class, named as users know it
    with _device_errors_are_usage_errors(device):
        return SentenceTransformer(name, device=device, cache_folder=cache_folder, backend=backend)


def model_from_args(args: argparse.Namespace) -> Any:
    """The model a command's options name: -m/--model, --device, --cache-folder and --backend.

    A command without --backend gets torch; without --cache-folder, the default cache. The loader is
    ``args.load_model`` when :func:`sentvec.cli.main` set one (it passes ``sentvec.cli._load_model``, which
    tests replace), else :func:`load_model`.
    """
    load: ModelLoader = getattr(args, "load_model", load_model)
    model = load(
        args.model,
        device=args.device,
        cache_folder=getattr(args, "cache_folder", None),
        backend=getattr(args, "backend", "torch"),
    )
    return model


def load_cross_encoder(name: str, *, device: str | None, cache_folder: str | None) -> CrossEncoder:
    """Load the CrossEncoder of --reranker or --rerank.

    Raises:
        UsageError: torch cannot use ``device``.
    """
    from sentvec.cross_encoder import CrossEncoder

    with _device_errors_are_usage_errors(device):
        return CrossEncoder(name, device=device, cache_folder=cache_folder)


@contextmanager
def _device_errors_are_usage_errors(device: str | None) -> Iterator[None]:
    """Turn torch's complaint about a device the user named into a usage error that names the device."""
    try:
        yield
    except (RuntimeError, AssertionError) as error:
        # torch reports unknown or unavailable devices this way ("Torch not compiled with CUDA enabled").
        if device is None:
            raise
        raise UsageError(f"cannot use device {device!r}: {error}") from None
