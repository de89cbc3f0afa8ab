"""The CLI's failures: one line naming the stage and the file, non-zero exit, traces on --debug.

Disk full is tested for real on a small tmpfs (mounted when this runs as root), and the
free-space check before a stage through the stage function with statvfs' figure lowered.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import torch
from conftest import REPO, write_brief
from quick_chain import quick_brief, shared_models

import resources.storage.artifact_store as artifact_store
from assets.stages.base import Run
from assets.stages.character_brief import snapshot_brief
from assets.stages.reference_images import make_references
from resources.domain.brief import load_brief
from resources.models.model_store import ModelStore
from resources.stills.image_generator import ImageGenerator
from resources.storage.artifact_store import ArtifactStore, NotEnoughSpace

pytestmark = pytest.mark.slow  # CLI runs of the whole chain

ENV = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=ENV,
        timeout=900,
    )


def problem_lines(stderr: str) -> list[str]:
    """What the CLI printed, without the libraries' warnings."""
    return [
        line
        for line in stderr.splitlines()
        if line.strip() and "Warning" not in line and not line.startswith(" ")
    ]


def test_a_client_folder_linked_outside_the_root_is_one_line_naming_stage_and_path(tmp_path):
    brief = write_brief(tmp_path / "inbox", quick_brief())
    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    (root / "acme-health").symlink_to(elsewhere)
    done = cli("materialize", str(brief), "--root", str(root))
    assert done.returncode == 1
    lines = problem_lines(done.stderr)
    assert len(lines) == 1, done.stderr
    assert "stage character_brief failed" in lines[0]
    assert "is outside the artifact root" in lines[0]
    assert "ArtifactError: " in lines[0] and "resources.domain" not in lines[0]
    assert "Traceback" not in done.stderr and "Stack Trace" not in done.stderr
    debug = cli("materialize", str(brief), "--root", str(root), "--debug")
    assert debug.returncode == 1
    assert "Stack Trace" in debug.stderr or "Traceback" in debug.stderr
    assert "stage character_brief failed" in debug.stderr


def test_a_stage_refuses_to_start_without_the_space_it_needs_and_runs_once_freed(
    tmp_path, tmp_path_factory, monkeypatch
):
    path = write_brief(tmp_path / "inbox", quick_brief())
    run = Run(
        client="acme-health",
        character="dr-ana",
        store=ArtifactStore(root=str(tmp_path / "root")),
        models=ModelStore(profile="tiny", models_dir=str(shared_models(tmp_path_factory))),
        device="cpu",
        dtype=torch.float32,
        log=lambda _: None,
    )
    snapshot_brief(run, path, load_brief(path))
    monkeypatch.setattr(artifact_store, "free_bytes", lambda _: 1000)
    with pytest.raises(NotEnoughSpace) as refused:
        make_references(run, ImageGenerator())
    message = str(refused.value)
    assert message.startswith("reference_images (acme-health/dr-ana/reference_images/")
    assert f"not enough free space at {tmp_path / 'root'}" in message
    assert re.search(r"needs about \d+ KB, 1000 bytes free", message), message
    assert not list((tmp_path / "root").rglob(".staging-*"))  # refused before any work
    monkeypatch.undo()
    assert make_references(run, ImageGenerator()).checks[0].passed


@pytest.fixture
def tmpfs(tmp_path):
    """A 20 MB tmpfs (root only: mounting needs CAP_SYS_ADMIN)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; the statvfs test above covers the check")
    folder = tmp_path / f"tmpfs-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_disk_is_one_line_naming_the_path_and_the_run_resumes_once_freed(
    tmpfs, tmp_path, tmp_path_factory
):
    brief = write_brief(tmp_path / "inbox", quick_brief())
    models = shared_models(tmp_path_factory)
    ModelStore(profile="tiny", models_dir=str(models)).sdxl_dir()  # built outside the tmpfs
    root = tmpfs / "root"
    ballast = tmpfs / "ballast"
    with open(ballast, "wb") as handle:  # fill the disk to the last block
        try:
            while True:
                handle.write(b"\0" * (1 << 16))
                handle.flush()
        except OSError:
            pass
    full = cli("materialize", str(brief), "--root", str(root), "--models", str(models))
    assert full.returncode == 1
    lines = problem_lines(full.stderr)
    assert len(lines) == 1, full.stderr
    assert "failed" in lines[0] and str(root.resolve()) in lines[0], lines[0]
    assert "no space left on device writing" in lines[0] or "not enough free space" in lines[0]
    ballast.unlink()
    done = cli("materialize", str(brief), "--root", str(root), "--models", str(models))
    assert done.returncode == 0, done.stderr[-3000:]
    assert Path(done.stdout.strip().splitlines()[-1]).is_file()
    assert not [p for p in root.rglob(".*") if ".tmp" in p.name or ".partial." in p.name]
    shutil.rmtree(root)
