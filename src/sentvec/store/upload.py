"""Uploading a model to the Hugging Face Hub: the one ``push_to_hub`` behind every model class.

SentenceTransformer, SparseEncoder and CrossEncoder all upload the same way (sentence-transformers' contract):
create the repository, make the branch when a ``revision`` is named, save the model into a temporary folder (or
take ``local_model_path`` as it is) and upload that folder as one commit, or as a pull request with a description
that says how to try it. Only the usage lines in that description differ per class.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol, cast

logger = logging.getLogger(__name__)

HUB_EXTRA_HINT = "pip install huggingface_hub (or pip install -e '.[hub]' in the sentvec checkout)"


class Uploadable(Protocol):
    """A model :func:`push_model` can upload: it saves itself as a folder and has model card data."""

    model_card_data: Any

    def save(self, path: str | os.PathLike[str], *args: Any, **kwargs: Any) -> None:
        """Write the model's folder to ``path``."""


def _hf_api(token: str | None) -> Any:
    """A ``huggingface_hub.HfApi``, or an ImportError that says how to install it."""
    try:
        from huggingface_hub import HfApi
    except ImportError as err:
        raise ImportError(f"push_to_hub needs huggingface_hub: {HUB_EXTRA_HINT}") from err
    return HfApi(token=token)


def _repo_has_readme(repo_id: str, token: str | None, revision: str | None) -> bool | None:
    """Whether ``repo_id`` already holds a README.md: True or False, or None when the Hub could not say
    (network, authentication); "not there" answers (no such file, nothing in the offline cache) are False."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, HFValidationError, LocalEntryNotFoundError

    try:
        hf_hub_download(repo_id, "README.md", revision=revision, token=token, library_name="sentvec")
    except (EntryNotFoundError, HFValidationError, LocalEntryNotFoundError):
        return False
    except Exception as exc:  # noqa: BLE001 - any other failure means "unknown", handled by the caller
        logger.warning(
            f"Could not check for an existing README.md on {repo_id!r} ({type(exc).__name__}: {exc}). "
            "Skipping model card creation to avoid overwriting any existing card."
        )
        return None
    return True


def pull_request_description(model: object, repo_id: str, usage: str) -> str:
    """The description of an upload opened as a pull request: what it adds, the model's architecture, and
    ``usage`` (Python lines that load the model from the pull request's revision and use it)."""
    class_name = type(model).__name__
    return (
        "Hello!\n\n"
        f"This pull request has been automatically generated to add {class_name} compatibility.\n\n"
        f"## Full Model Architecture:\n```\n{model}\n```\n\n"
        "## Testing this pull request\n"
        "Load the model from this pull request with the `revision` argument before merging it:\n"
        "```python\n"
        f"from sentence_transformers import {class_name}  # or: from sentvec import {class_name}\n\n"
        "pr_number = 2  # the number of this pull request\n"
        f"{usage}\n"
        "```\n\n"
        "---\n"
        "*This pull request was made by `push_to_hub` (sentvec, a drop-in for sentence-transformers' "
        "[`push_to_hub`](https://sbert.net/docs/package_reference/sentence_transformer/SentenceTransformer.html)).*\n"
    )


def save_to_hub_repo_id(
    repo_id: str | None,
    organization: str | None,
    repo_name: str | None,
) -> str:
    """The repository id of the deprecated ``save_to_hub(repo_id, organization=..., repo_name=...)`` call,
    with sentence-transformers' deprecation warnings; a conflicting ``organization`` is a ValueError."""
    if repo_name is not None:
        logger.warning(
            "Providing a `repo_name` keyword argument to `save_to_hub` is deprecated. Please use `repo_id` instead."
        )
        repo_id = repo_id or repo_name
    logger.warning(
        "The `save_to_hub` method is deprecated and will be removed in a future version of SentenceTransformers."
        " Please use `push_to_hub` instead for future model uploads."
    )
    if repo_id is None:
        raise ValueError("save_to_hub needs a repo_id, e.g. save_to_hub('your-name/your-model')")
    if organization:
        if "/" not in repo_id:
            repo_id = f"{organization}/{repo_id}"
        elif repo_id.split("/", 1)[0] != organization:
            raise ValueError(
                "Providing an `organization` to `save_to_hub` is deprecated. Please use `repo_id` instead."
            )
        logger.warning(
            f'Providing an `organization` to `save_to_hub` is deprecated. Please use `repo_id="{repo_id}"` instead.'
        )
    return repo_id


class HubUploads:
    """Mixed into every model class: ``push_to_hub`` and the deprecated ``save_to_hub``, as in
    sentence-transformers. The class provides ``save``, ``model_card_data`` and :meth:`_usage_lines`."""

    def _usage_lines(self, repo_id: str) -> str:
        """The Python lines a pull request's description shows to try the uploaded model."""
        raise NotImplementedError

    def push_to_hub(
        self,
        repo_id: str,
        token: str | None = None,
        private: bool | None = None,
        safe_serialization: bool = True,
        commit_message: str | None = None,
        local_model_path: str | None = None,
        exist_ok: bool = False,
        replace_model_card: bool = False,
        train_datasets: list[str] | None = None,
        revision: str | None = None,
        create_pr: bool = False,
    ) -> str:
        """Save the model and upload it to the Hugging Face Hub as ``repo_id`` (needs ``huggingface_hub``).

        The repository is created when missing; ``revision`` uploads to that branch (created if missing);
        ``create_pr`` opens a pull request instead of committing; ``local_model_path`` uploads that folder
        instead of saving this model. The model card is written when the repository has none yet, or
        with ``replace_model_card``; ``exist_ok`` is accepted for compatibility (an existing repository is
        always fine). Returns the commit's URL, or the pull request's.
        """
        model = cast(Uploadable, self)  # the class gives save() and model_card_data
        backend = getattr(self, "backend", "torch")
        api = _hf_api(token)
        created = api.create_repo(repo_id=repo_id, private=private, repo_type=None, exist_ok=True)
        repo_id = getattr(created, "repo_id", None) or repo_id  # "name" alone becomes "user/name"
        if getattr(model.model_card_data, "model_id", None) is None:
            model.model_card_data.model_id = repo_id
        if revision is not None:
            api.create_branch(repo_id=repo_id, branch=revision, exist_ok=True)
        if commit_message is None:
            commit_message = f"Add new {type(self).__name__} model" + (
                "" if backend == "torch" else f" with an {backend} backend"
            )
        description = pull_request_description(self, repo_id, self._usage_lines(repo_id)) if create_pr else None
        upload = {
            "repo_id": repo_id,
            "commit_message": commit_message,
            "commit_description": description,
            "create_pr": create_pr,
            "revision": revision,
        }
        if local_model_path:
            info = api.upload_folder(folder_path=local_model_path, **upload)
        else:
            write_card = replace_model_card or _repo_has_readme(repo_id, token, revision) is False
            with tempfile.TemporaryDirectory() as staging:
                folder = Path(staging) / "model"
                if write_card and train_datasets:
                    model.model_card_data.train_datasets = [{"name": name, "id": name} for name in train_datasets]
                model.save(
                    folder, model_name=repo_id, create_model_card=write_card, safe_serialization=safe_serialization
                )
                info = api.upload_folder(folder_path=str(folder), **upload)
        if create_pr:
            logger.info(f"A pull request has been created at {info.pr_url}")
            return cast(str, info.pr_url)
        return cast(str, info.commit_url)

    def save_to_hub(
        self,
        repo_id: str | None = None,
        organization: str | None = None,
        token: str | bool | None = None,
        private: bool | None = None,
        safe_serialization: bool = True,
        commit_message: str | None = None,
        local_model_path: str | None = None,
        exist_ok: bool = False,
        replace_model_card: bool = False,
        train_datasets: list[str] | None = None,
        repo_name: str | None = None,
    ) -> str:
        """Deprecated spelling of :meth:`push_to_hub` (warns, as sentence-transformers does);
        ``organization`` is joined to ``repo_id``."""
        if isinstance(token, bool):  # the old positional order was (repo_name, organization, private, ...)
            private, token = token, None
        return self.push_to_hub(
            save_to_hub_repo_id(repo_id, organization, repo_name),
            token=token,
            private=private,
            safe_serialization=safe_serialization,
            commit_message=commit_message,
            local_model_path=local_model_path,
            exist_ok=exist_ok,
            replace_model_card=replace_model_card,
            train_datasets=train_datasets,
        )
