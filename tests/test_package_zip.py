"""The deterministic zip (resources/storage/package.py): same files, same bytes; sorted entries,
fixed timestamps, a SHA256SUMS that sha256sum -c accepts."""

from __future__ import annotations

import hashlib
import subprocess
import zipfile
from pathlib import Path

from resources.storage.package import FIXED_TIME, write_zip


def _files(folder: Path) -> dict[str, Path | bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "b.mp4").write_bytes(bytes(range(256)) * 50)
    (folder / "a.jpg").write_bytes(b"\xff\xd8\xff" + b"x" * 1000)
    return {
        "top/video/b.mp4": folder / "b.mp4",
        "top/posters/a.jpg": folder / "a.jpg",
        "top/LEIA-ME.txt": "Introdução à Cardiologia\n".encode(),
    }


def test_the_same_files_give_the_same_bytes_whatever_their_times(tmp_path: Path):
    first, second = tmp_path / "one.zip", tmp_path / "two.zip"
    write_zip(first, _files(tmp_path / "x"), prefix="top/")
    entries = _files(tmp_path / "y")
    for path in entries.values():
        if isinstance(path, Path):
            path.touch()  # another modification time
    write_zip(second, entries, prefix="top/")
    assert first.read_bytes() == second.read_bytes()


def test_entries_are_sorted_with_fixed_times_and_checksums_that_verify(tmp_path: Path):
    out = tmp_path / "package.zip"
    write_zip(out, _files(tmp_path / "x"), prefix="top/")
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        assert names == sorted(names) and "top/SHA256SUMS" in names
        assert {i.date_time for i in archive.infolist()} == {FIXED_TIME}
        archive.extractall(tmp_path / "out")
        sums = archive.read("top/SHA256SUMS").decode()
    assert "  video/b.mp4\n" in sums and "SHA256SUMS" not in sums  # paths inside top/
    done = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path / "out" / "top", capture_output=True
    )
    assert done.returncode == 0, done.stdout
    text = (tmp_path / "out" / "top" / "LEIA-ME.txt").read_bytes()
    assert hashlib.sha256(text).hexdigest() in sums


def test_an_interrupted_write_leaves_no_zip(tmp_path: Path):
    entries = {"top/missing.mp4": tmp_path / "missing.mp4"}
    try:
        write_zip(tmp_path / "package.zip", entries, prefix="top/")
    except FileNotFoundError:
        pass
    assert list(tmp_path.iterdir()) == []
