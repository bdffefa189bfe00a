"""``sentvec doctor``: versions, extras with install hints, backends, caches with sizes, threads."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from sentvec import cli, doctor
from sentvec._version import __version__


@pytest.fixture
def caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A sentvec cache with one 3,000-byte model and an ONNX export, and a hub cache whose snapshot links
    to its blob (as huggingface_hub lays it out)."""
    model = tmp_path / "sentvec" / "org--model"
    model.mkdir(parents=True)
    (model / "modules.json").write_text("[]")  # 2 bytes
    (model / "model.safetensors").write_bytes(b"x" * 2998)
    (tmp_path / "sentvec" / "onnx").mkdir()
    (tmp_path / "sentvec" / "onnx" / "abc.onnx").write_bytes(b"y" * 500)
    repo = tmp_path / "hub" / "models--org--model"
    (repo / "blobs").mkdir(parents=True)
    (repo / "blobs" / "0123").write_bytes(b"z" * 1000)
    (repo / "snapshots" / "main").mkdir(parents=True)
    (repo / "snapshots" / "main" / "model.safetensors").symlink_to(repo / "blobs" / "0123")
    monkeypatch.setenv("SENTVEC_HOME", str(tmp_path / "sentvec"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    return tmp_path


def test_doctor_json_reports_versions_backends_caches_and_threads(caches: Path, capsys) -> None:
    assert cli.main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert report["sentvec"]["version"] == __version__
    import torch

    assert report["core"]["torch"] == torch.__version__
    assert "cpu" in report["backends"]["torch"]["devices"]
    sentvec_cache = report["caches"]["sentvec"]
    assert sentvec_cache["path"] == str(caches / "sentvec") and sentvec_cache["set_by"] == "SENTVEC_HOME"
    assert (sentvec_cache["bytes"], sentvec_cache["files"]) == (3500, 3)
    assert sentvec_cache["models"] == ["org--model"]  # onnx/ is not a model
    hub = report["caches"]["huggingface"]
    assert (hub["bytes"], hub["files"], hub["set_by"]) == (1000, 1, "HF_HUB_CACHE")  # the link is not counted twice
    assert report["threads"]["torch_intra_op"] == torch.get_num_threads()


def test_doctor_text_names_missing_extras_and_how_to_install_them(caches: Path, monkeypatch, capsys) -> None:
    real = doctor._version
    monkeypatch.setattr(doctor, "_version", lambda dist, module: None if dist == "fastapi" else real(dist, module))
    monkeypatch.setenv("SENTVEC_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(caches / "nothing-here"))
    assert cli.main(["doctor"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "versions" and {"extras", "backends", "caches", "threads"} <= {ln.split(" (")[0] for ln in lines}
    server = next(ln for ln in lines if ln.split()[0] == "server")
    assert "fastapi missing" in server and server.endswith("-> pip install -e '.[server]'")
    sentvec_cache = next(ln for ln in lines if ln.strip().startswith("sentvec cache"))
    assert "3.4 KiB in 3 files; models: org--model" in sentvec_cache
    assert "empty, not created yet" in next(ln for ln in lines if ln.strip().startswith("HF hub cache"))
    assert "SENTVEC_OFFLINE=1" in next(ln for ln in lines if ln.strip().startswith("downloads"))


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is new in Python 3.11")
def test_doctor_extras_are_the_extras_of_pyproject() -> None:
    import re

    import tomllib

    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    extras = pyproject["project"]["optional-dependencies"]
    for extra, packages in doctor.EXTRAS.items():
        assert extra in extras, extra
        names = {re.match(r"[A-Za-z0-9._-]+", req).group(0).lower().replace("_", "-") for req in extras[extra]}
        for dist, _ in packages:
            assert dist.replace("_", "-") in names, (extra, dist)
