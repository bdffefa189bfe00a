"""push_to_hub / save_to_hub of SentenceTransformer (and the shared upload behind every model class), with
huggingface_hub's network calls replaced: what is uploaded must be a folder that loads back as the same model."""

import logging
import shutil

import numpy as np
import pytest

from sentvec import SentenceTransformer

huggingface_hub = pytest.importorskip("huggingface_hub")


class _CommitInfo:
    def __init__(self, repo_id: str, revision: str | None):
        self.commit_url = f"https://hub.example/{repo_id}/commit/{revision or 'main'}"
        self.pr_url = f"https://hub.example/{repo_id}/discussions/1"


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """Fake Hub: records calls and keeps a copy of each uploaded folder; ``hub["readme"]`` says whether the
    repository already has a README.md (True, False, or an exception to raise on the check)."""
    state = {"uploads": [], "branches": [], "created": [], "readme": False, "copies": []}

    def create_repo(self, repo_id, **kwargs):
        state["created"].append((repo_id, kwargs))
        return huggingface_hub.RepoUrl(f"https://huggingface.co/{repo_id}")

    def create_branch(self, repo_id, branch, **kwargs):
        state["branches"].append((repo_id, branch))

    def upload_folder(self, **kwargs):
        copy = tmp_path / f"upload{len(state['uploads'])}"
        if kwargs["folder_path"] != "not-a-folder":
            shutil.copytree(kwargs["folder_path"], copy)
        state["uploads"].append(kwargs)
        state["copies"].append(copy)
        return _CommitInfo(kwargs["repo_id"], kwargs.get("revision"))

    def hf_hub_download(repo_id, filename, **kwargs):
        if isinstance(state["readme"], Exception):
            raise state["readme"]
        if state["readme"]:
            return "README.md"
        raise huggingface_hub.errors.EntryNotFoundError("no README.md")

    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", create_repo)
    monkeypatch.setattr(huggingface_hub.HfApi, "create_branch", create_branch)
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", upload_folder)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hf_hub_download)
    return state


def test_push_to_hub_uploads_a_folder_that_loads_back(tiny_folder, hub):
    model = SentenceTransformer(str(tiny_folder), device="cpu")
    url = model.push_to_hub("someone/tiny")
    assert url == "https://hub.example/someone/tiny/commit/main"
    upload = hub["uploads"][-1]
    assert upload["repo_id"] == "someone/tiny" and upload["commit_message"] == "Add new SentenceTransformer model"
    assert upload["commit_description"] is None and hub["branches"] == []
    copy = hub["copies"][-1]
    assert (copy / "README.md").is_file()  # no card on the Hub yet: one is written
    texts = ["a first text", "and a second one"]
    np.testing.assert_allclose(
        SentenceTransformer(str(copy), device="cpu").encode(texts), model.encode(texts), atol=1e-6
    )
    assert model.model_card_data.model_id == "someone/tiny"


def test_push_to_hub_keeps_an_existing_card_unless_told(tiny_folder, hub):
    model = SentenceTransformer(str(tiny_folder), device="cpu")
    hub["readme"] = True
    model.push_to_hub("someone/tiny")
    assert not (hub["copies"][-1] / "README.md").exists()
    model.push_to_hub("someone/tiny", replace_model_card=True, train_datasets=["someone/pairs"])
    card = (hub["copies"][-1] / "README.md").read_text()
    assert "someone/pairs" in card


def test_push_to_hub_unknown_readme_skips_the_card_with_a_warning(tiny_folder, hub, caplog):
    model = SentenceTransformer(str(tiny_folder), device="cpu")
    hub["readme"] = ConnectionError("network down")
    with caplog.at_level(logging.WARNING):
        model.push_to_hub("someone/tiny")
    assert not (hub["copies"][-1] / "README.md").exists()
    assert "Could not check for an existing README.md" in caplog.text and "network down" in caplog.text


def test_push_to_hub_branch_pull_request_and_local_folder(tiny_folder, hub):
    model = SentenceTransformer(str(tiny_folder), device="cpu")
    assert model.push_to_hub("someone/tiny", revision="v2") == "https://hub.example/someone/tiny/commit/v2"
    assert hub["branches"] == [("someone/tiny", "v2")] and hub["uploads"][-1]["revision"] == "v2"
    assert model.push_to_hub("someone/tiny", create_pr=True) == "https://hub.example/someone/tiny/discussions/1"
    description = hub["uploads"][-1]["commit_description"]
    assert str(model) in description and '"someone/tiny"' in description and 'backend="torch"' in description
    assert "from sentvec import SentenceTransformer" in description and "model.similarity(" in description
    model.push_to_hub("someone/tiny", local_model_path="not-a-folder", commit_message="mine")
    assert hub["uploads"][-1]["folder_path"] == "not-a-folder" and hub["uploads"][-1]["commit_message"] == "mine"


def test_save_to_hub_is_deprecated_and_joins_the_organization(tiny_folder, hub, caplog):
    model = SentenceTransformer(str(tiny_folder), device="cpu")
    with caplog.at_level(logging.WARNING):
        url = model.save_to_hub("tiny", organization="org")
    assert url == "https://hub.example/org/tiny/commit/main"
    assert "save_to_hub` method is deprecated" in caplog.text and 'repo_id="org/tiny"' in caplog.text
    with pytest.raises(ValueError, match="organization"):
        model.save_to_hub("org1/tiny", organization="org2")
    model.save_to_hub("tiny", "org", True)  # the pre-token positional order: (repo_name, organization, private)
    assert hub["created"][-1][1]["private"] is True
