"""sentvec.paths: atomic_file writes whole files or none, with the permissions a plain open() would give and a
plain message on a full disk; inside() keeps a model file's paths in its folder (HF cache links allowed)."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from sentvec.paths import DiskFullError, atomic_file, inside


def test_new_file_gets_the_umask_mode_and_text_is_utf8(tmp_path):
    umask = os.umask(0o022)
    try:
        with atomic_file(tmp_path / "out.txt", "w") as fh:
            fh.write("你好\n")
    finally:
        os.umask(umask)
    assert (tmp_path / "out.txt").read_bytes() == "你好\n".encode()
    assert stat.S_IMODE((tmp_path / "out.txt").stat().st_mode) == 0o644


def test_replacing_a_file_keeps_its_mode(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    target.chmod(0o640)
    with atomic_file(target) as fh:
        fh.write(b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_file(target) as fh:
        fh.write(b"half")
        raise RuntimeError("crash mid-write")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


@pytest.mark.parametrize(
    "failure",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        OSError("192000 requested and 159712 written"),  # numpy's tofile() on a full disk
    ],
)
def test_a_full_disk_names_the_file_and_the_disk(tmp_path, failure):
    target = tmp_path / "vectors.bin"
    with pytest.raises(DiskFullError) as caught, atomic_file(target) as fh:
        fh.write(b"some bytes")
        raise failure
    message = str(caught.value)
    assert message.startswith("no space left on ") and f") while writing {target};" in message
    assert "mounted at" in message and "requested and" not in message
    assert caught.value.errno == errno.ENOSPC and caught.value.__cause__ is failure
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_full_disk_on_flush_is_reported_too(tmp_path, monkeypatch):
    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(DiskFullError, match=r"while writing .*out\.bin"), atomic_file(tmp_path / "out.bin") as fh:
        fh.write(b"data")


def test_other_errors_pass_through_unchanged(tmp_path):
    with pytest.raises(OSError, match="^permission trouble$"), atomic_file(tmp_path / "out.bin"):
        raise OSError("permission trouble")


def _snapshot_with_blob(tmp_path):
    repo = tmp_path / "models--org--name"
    (repo / "blobs").mkdir(parents=True)
    snapshot = repo / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    (repo / "blobs" / "1234").write_bytes(b"shard")
    (snapshot / "model-1.safetensors").symlink_to("../../blobs/1234")
    return repo, snapshot


def test_inside_follows_hf_cache_links_into_the_repos_blobs(tmp_path):
    _, snapshot = _snapshot_with_blob(tmp_path)
    assert inside(snapshot, "model-1.safetensors") == snapshot.resolve() / "model-1.safetensors"
    assert inside(snapshot, "./model-1.safetensors").read_bytes() == b"shard"


@pytest.mark.parametrize("relative", ["../../blobs/1234", "/etc/passwd", "..", "sub/../../../blobs/1234"])
def test_inside_still_refuses_paths_out_of_the_snapshot(tmp_path, relative):
    _, snapshot = _snapshot_with_blob(tmp_path)
    with pytest.raises(ValueError):
        inside(snapshot, relative)


def test_inside_refuses_a_link_out_of_the_repo(tmp_path):
    _, snapshot = _snapshot_with_blob(tmp_path)
    (tmp_path / "secret").write_bytes(b"x")
    (snapshot / "evil.safetensors").symlink_to(tmp_path / "secret")
    with pytest.raises(ValueError, match="outside the model folder"):
        inside(snapshot, "evil.safetensors")
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "model.safetensors").symlink_to(tmp_path / "secret")
    with pytest.raises(ValueError, match="outside the model folder"):
        inside(plain, "model.safetensors")
