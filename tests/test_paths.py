"""sentvec.paths.atomic_file: whole files or none, with the permissions a plain open() would give."""

from __future__ import annotations

import os
import stat

import pytest

from sentvec.paths import atomic_file


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
