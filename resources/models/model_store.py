"""Resolves every model a stage loads, for the `tiny` or the `production` profile.

* tiny: the model is built in code from a small config with fixed random weights (see
  `resources.tiny`) into `<models_dir>/tiny/<name>/` on first use, then loaded from there through
  the same `from_pretrained` / spandrel calls as production.
* production: real checkpoints from `<models_dir>/<repo_id>/` or the Hugging Face cache (never
  downloaded at run time); a missing one fails with a message naming it and how to fetch it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Literal

import torch
from dagster import ConfigurableResource

from resources import tiny
from resources.domain.costs import DEFAULT_INSTANCE_TYPE
from resources.domain.lora_recipes import LoraRecipe
from resources.domain.registry import (
    SDXL,
    UPSCALERS,
    VOICE_MODELS,
    MusicModel,
    RenderSize,
    SpeechCheckModel,
    StillModel,
    VideoModel,
    VisionModel,
    VoiceModel,
)
from resources.domain.tiers import DistillAdapter, TierRecipe, checkpoint_name
from resources.storage.artifact_store import file_signature, sha256_file, write_json

Profile = Literal["tiny", "production"]
# 2: every file of the folder (configs, tokenizers, schedulers), links and single files followed.
# 3: the cache is keyed on file_signature (inode change time too), not on size and mtime alone.
DIGEST_VERSION = 3


class ModelNotFoundError(FileNotFoundError):
    """A production checkpoint that is not on this machine."""


# The voice environment scripts/install_voice_env.sh builds beside the pipeline's .venv.
VOICE_PYTHON = Path(__file__).resolve().parents[2] / ".venv-voice" / "bin" / "python"


class ModelStore(ConfigurableResource):
    """Finds (or, on the tiny profile, builds) model weights and says how to run them."""

    profile: Profile = "tiny"
    models_dir: str = "artifacts/_models"
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    # The host the models run on and how its hours are bought: they price compute records.
    instance_type: str = DEFAULT_INSTANCE_TYPE
    pricing: str = "spot"  # spot | on-demand
    # The voice environment's interpreter (qwen-tts and its pins; scripts/install_voice_env.sh);
    # empty: the repository's .venv-voice.
    voice_python: str = ""

    # -- where the weights are ------------------------------------------------------------
    def video_model_dir(self, model: VideoModel) -> Path:
        if self.profile == "tiny":
            return self._tiny(model.name, _build_tiny_video(model))
        base = self._pretrained(model.name, model.repo_id, model.revision)
        if model.single_files:
            return self._assemble_single_files(model, base)
        return base

    def _assemble_single_files(self, model: VideoModel, base: Path) -> Path:
        """A folder in `base`'s layout whose transformers come from the model's single files.

        Every component of `base` is linked in; the transformer folders keep only their config
        (from_single_file reads it to map the published keys); `single_files.json` names the
        weight files, which `load_video_pipeline` loads with from_single_file.
        """
        files = {}
        for component, rel in model.single_files:
            local = Path(self.models_dir) / model.weights_repo / rel
            if not local.is_file():
                try:
                    from huggingface_hub import hf_hub_download

                    local = Path(hf_hub_download(model.weights_repo, rel, local_files_only=True))
                except Exception:  # noqa: BLE001 - any cache miss means the same thing here
                    raise ModelNotFoundError(
                        f"model {model.name}: single file {rel} of {model.weights_repo} not "
                        f"found in {Path(self.models_dir) / model.weights_repo} or the Hugging "
                        f"Face cache; fetch it with `huggingface-cli download "
                        f"{model.weights_repo} {rel} --local-dir "
                        f"{Path(self.models_dir) / model.weights_repo}`"
                    ) from None
            files[component] = str(local.resolve())
        folder = Path(self.models_dir).resolve() / "assembled" / model.name
        listing = {"base": str(Path(base).resolve()), "single_files": files}
        marker = folder / "assembled.json"
        if marker.is_file() and json.loads(marker.read_text(encoding="utf-8")) == listing:
            return folder
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        single = dict(model.single_files)
        for entry in Path(base).iterdir():
            if entry.name in single:
                (folder / entry.name).mkdir()
                (folder / entry.name / "config.json").symlink_to((entry / "config.json").resolve())
            elif not entry.name.startswith("."):
                (folder / entry.name).symlink_to(entry.resolve())
        write_json(folder / "single_files.json", files)
        write_json(marker, listing)
        return folder

    def sdxl_dir(self, model: StillModel = SDXL) -> Path:
        if self.profile == "tiny":
            return self._tiny(model.name, _build_tiny_sdxl)
        return self._pretrained(model.name, model.repo_id, model.revision)

    def vision_model_dir(self, model: VisionModel) -> Path:
        """A transformers folder (config, weights, image processor) of an identity backbone."""
        if self.profile == "tiny":
            return self._tiny(model.name, _build_tiny_vision(model))
        return self._pretrained(model.name, model.repo_id, model.revision, marker="config.json")

    def voice_model_dir(self, model: VoiceModel) -> Path:
        """A Qwen3-TTS folder (config, weights, tokenizers) of the voice engine."""
        if self.profile == "tiny":
            # Both variants at once: the voice environment takes seconds to import qwen-tts, the
            # second build a fraction of one.
            python = self.voice_interpreter()
            names = sorted(VOICE_MODELS)
            built = self._tiny_together(names, _build_tiny_qwen3_tts(python))
            return built[names.index(model.name)]
        return self._pretrained(model.name, model.repo_id, model.revision, marker="config.json")

    def music_model_dir(self, model: MusicModel) -> Path:
        """A diffusers folder (model_index.json and its components) of the text-to-music model."""
        if self.profile == "tiny":
            return self._tiny(model.name, _build_tiny_music)
        return self._pretrained(model.name, model.repo_id, model.revision)

    def voice_interpreter(self) -> str:
        """The voice environment's python, which must exist (one line naming it otherwise)."""
        python = Path(self.voice_python or VOICE_PYTHON)
        if not python.is_file():
            raise ModelNotFoundError(
                f"voice environment not found: {python} (run scripts/install_voice_env.sh, or set "
                "CHARACTER_VIDEO_VOICE_PYTHON to its interpreter)"
            )
        return str(python)

    def speech_check_dir(self, model: SpeechCheckModel) -> Path:
        """A transformers folder of a narration-QC model (recogniser or speaker verification)."""
        if self.profile == "tiny":
            return self._tiny(model.name, _build_tiny_speech_check(model))
        return self._pretrained(model.name, model.repo_id, model.revision, marker="config.json")

    def upscaler_file(self, name: str) -> Path:
        entry = UPSCALERS[name]
        if self.profile == "tiny":
            build = _build_tiny_upscaler(entry.scale, entry.filename, entry.architecture)
            folder = self._tiny(name, build)
            return folder / entry.filename
        path = Path(self.models_dir) / "realesrgan" / entry.filename
        if not path.is_file():
            raise ModelNotFoundError(
                f"upscaler {name} not found: expected the weights file {path} "
                f"(published as {entry.filename} in {entry.source})"
            )
        return path

    def distill_adapter_files(self, model: VideoModel, adapter: DistillAdapter) -> list[Path]:
        """The step-distillation LoRA files of `adapter` (one per expert), or built tiny ones."""
        if self.profile == "tiny":
            pipeline_dir = self.video_model_dir(model)
            names = [Path(f).name for f in adapter.files]

            def build(folder: Path) -> None:
                from resources.tiny.distill import build_tiny_distill_adapter

                build_tiny_distill_adapter(pipeline_dir, [folder / n for n in names])

            folder = self._tiny(f"{model.name}_distill", build)
            return [folder / n for n in names]
        found = []
        for name in adapter.files:
            local = Path(self.models_dir) / adapter.repo_id / name
            if local.is_file():
                found.append(local)
                continue
            try:
                from huggingface_hub import hf_hub_download

                found.append(Path(hf_hub_download(adapter.repo_id, name, local_files_only=True)))
            except Exception:  # noqa: BLE001 - any cache miss means the same thing here
                raise ModelNotFoundError(
                    f"distillation LoRA {adapter.repo_id}/{name} for {model.name}'s draft tier "
                    f"not found: looked in {local} and the Hugging Face cache. Fetch it with "
                    f"`huggingface-cli download {adapter.repo_id} {name} --local-dir "
                    f"{Path(self.models_dir) / adapter.repo_id}`"
                ) from None
        return found

    def tier_checkpoint_dir(self, model: VideoModel, recipe: TierRecipe) -> Path | None:
        """The published folder whose `transformer` a tier renders with (a distilled checkpoint:
        Kandinsky 5 Lite's 16-step one), or a tiny one built in code; None for the model's own."""
        if not recipe.checkpoint:
            return None
        if self.profile == "tiny":

            def build(folder: Path) -> None:
                from resources import families

                transformer = families.family(model.family).tiny_checkpoint_builder()(model)
                transformer.save_pretrained(folder / "transformer", safe_serialization=True)

            return self._tiny(checkpoint_name(model.name, recipe.tier), build)
        return self._pretrained(checkpoint_name(model.name, recipe.tier), recipe.checkpoint, "main")

    # -- how to run them --------------------------------------------------------------------
    @property
    def torch_device(self) -> str:
        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        return self.device

    @property
    def torch_dtype(self) -> torch.dtype:
        return torch.bfloat16 if self.torch_device.startswith("cuda") else torch.float32

    def video_size(self, model: VideoModel) -> RenderSize:
        if self.profile == "tiny":
            return RenderSize(model.tiny.width, model.tiny.height, model.tiny.steps)
        return RenderSize(model.native_width, model.native_height, model.default_steps)

    def tier_size(self, model: VideoModel, recipe: TierRecipe) -> RenderSize:
        """Size and steps of a tier: the recipe's; the tiny profile keeps its tiny size and steps
        (at most the recipe's), so every tier runs the same code in seconds."""
        if self.profile == "tiny":
            steps = min(model.tiny.steps, recipe.steps)
            return RenderSize(model.tiny.width, model.tiny.height, steps)
        return RenderSize(recipe.width, recipe.height, recipe.steps)

    def train_size(self, model: VideoModel, recipe: LoraRecipe) -> RenderSize:
        """Resolution the character LoRA trains at (one-frame videos): the recipe's, or tiny."""
        if self.profile == "tiny":
            return RenderSize(model.tiny.width, model.tiny.height, 0)
        return RenderSize(recipe.width, recipe.height, 0)

    def still_size(self, model: StillModel = SDXL) -> RenderSize:
        if self.profile == "tiny":
            return RenderSize(model.tiny.width, model.tiny.height, model.tiny.steps)
        return RenderSize(model.native_width, model.native_height, model.default_steps)

    def record(self, name: str, repo_id: str, revision: str, path: Path) -> dict[str, Any]:
        """What a manifest says of a model: id, revision, profile and the weights' sha256."""
        return {
            "name": name,
            "id": repo_id if self.profile == "production" else f"tiny/{name}",
            "revision": revision if self.profile == "production" else "built-in",
            "profile": self.profile,
            "sha256": weights_digest(path),
        }

    # -- internals -----------------------------------------------------------------------
    def _tiny(self, name: str, build) -> Path:
        return self._tiny_together([name], lambda folders: build(folders[0]))[0]

    def _tiny_together(self, names: list[str], build) -> list[Path]:
        """The tiny models `names`, those not built yet built by one call of `build` (their
        folders, fresh). One builder at a time: the steps of a run (and parallel runs) may all
        ask for the same tiny model first; the others wait, then find it complete. The locks are
        taken in name order, so two builders of overlapping groups never wait on each other."""
        root = Path(self.models_dir).resolve() / "tiny"
        folders = [root / name for name in names]
        if all(tiny.is_built(folder) for folder in folders):
            return folders
        root.mkdir(parents=True, exist_ok=True)
        locks: list[int] = []
        try:
            for name in sorted(names):
                locks.append(os.open(root / f".lock-{name}", os.O_RDWR | os.O_CREAT, 0o644))
                fcntl.flock(locks[-1], fcntl.LOCK_EX)
            missing = [folder for folder in folders if not tiny.is_built(folder)]
            for folder in missing:
                if folder.exists():  # an interrupted build, or one by other tiny configs: again
                    shutil.rmtree(folder)
            if missing:
                build(missing)
                for folder in missing:
                    tiny.mark_built(folder)
        finally:
            for fd in locks:
                os.close(fd)
        return folders

    def _pretrained(
        self, name: str, repo_id: str, revision: str, marker: str = "model_index.json"
    ) -> Path:
        local = Path(self.models_dir) / repo_id
        if (local / marker).is_file():
            verify_published_hashes(local, f"{repo_id}@{revision}", revision)
            return local
        try:
            from huggingface_hub import snapshot_download

            found = Path(snapshot_download(repo_id, revision=revision, local_files_only=True))
        except Exception:  # noqa: BLE001 - any cache miss means the same thing here
            found = None
        if found is not None:
            verify_published_hashes(found, f"{repo_id}@{revision}", revision)
            return found
        from huggingface_hub.constants import HF_HUB_CACHE as cache

        raise ModelNotFoundError(
            f"model {name} ({repo_id}@{revision}) not found: looked in {local} and the Hugging "
            f"Face cache ({cache}). Fetch it where there is network access, e.g. "
            f"`huggingface-cli download {repo_id} --revision {revision} --local-dir {local}`, "
            f"or mirror it to S3 and sync it there."
        )


class ModelCorruptError(RuntimeError):
    """Production weights whose bytes are not the ones the pinned revision published."""


_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
PUBLISHED_CHECK = ".published-sha256.json"


def published_sha256(folder: Path, rel: str, file: Path, revision: str) -> str | None:
    """The sha256 the Hub published for one file of a downloaded model, where it says one.

    Two layouts are read. The Hugging Face cache names each large (LFS) file's blob by its
    sha256 (`snapshots/<commit>/<file> -> ../../blobs/<sha256>`). A `--local-dir` download keeps
    `.cache/huggingface/download/<file>.metadata`: the commit, then the ETag (an LFS file's
    sha256), then a timestamp (huggingface_hub `_local_folder.py`); a commit other than a
    pinned one is refused. Small files (configs) carry a git SHA-1 instead: None.
    """
    metadata = folder / ".cache" / "huggingface" / "download" / f"{rel}.metadata"
    if metadata.is_file():
        commit, etag, *_ = [*metadata.read_text(encoding="utf-8").splitlines(), "", ""]
        if _COMMIT.match(revision) and _COMMIT.match(commit.strip()) and commit.strip() != revision:
            raise ModelCorruptError(
                f"{file}: downloaded at commit {commit.strip()}, but the registry pins {revision}; "
                "download the pinned revision"
            )
        etag = etag.strip().strip('"')
        return etag if _SHA256.match(etag) else None
    blob = file.resolve()
    if file.is_symlink() and blob.parent.name == "blobs" and _SHA256.match(blob.name):
        return blob.name
    return None


def verify_published_hashes(folder: Path, what: str, revision: str) -> None:
    """Check every file of a downloaded model that has a published sha256 against it, once per
    download (remembered in PUBLISHED_CHECK by file_signature); ModelCorruptError names the
    first file that differs."""
    files = model_files(folder)
    stamp = [[rel, *file_signature(file.stat())] for rel, file in files]
    record = folder / PUBLISHED_CHECK
    try:
        if json.loads(record.read_text(encoding="utf-8")) == stamp:
            return
    except (OSError, ValueError):
        pass
    for rel, file in files:
        expected = published_sha256(folder, rel, file, revision)
        if expected is not None and (got := sha256_file(file)) != expected:
            raise ModelCorruptError(
                f"{file}: sha256 {got} is not the {expected} that {what} published; "
                "the file is damaged or was replaced: download it again"
            )
    try:
        write_json(record, stamp)
    except OSError:  # a read-only model folder: checked again next time
        pass


def model_files(path: Path) -> list[tuple[str, Path]]:
    """Every file a model folder's pixels depend on: (name in the digest, file).

    Weights, configs, tokenizer and scheduler files alike (a changed vocabulary or scheduler
    config changes the output as surely as a weight); symlinked components are followed (an
    assembled folder links its base model's), and the single files `single_files.json` names
    are included. Hidden files (this module's caches and markers) are not.
    """
    found: list[tuple[str, Path]] = []
    for top, dirs, names in os.walk(path, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if not name.startswith("."):
                file = Path(top) / name
                found.append((file.relative_to(path).as_posix(), file))
    listing = path / "single_files.json"
    if listing.is_file():
        for component, file in sorted(json.loads(listing.read_text(encoding="utf-8")).items()):
            found.append((f"single_file:{component}", Path(file)))
    return found


def weights_digest(path: Path) -> str:
    """sha256 over every file of a model (a single file or a folder), cached by file_signature."""
    if path.is_file():
        return sha256_file(path)
    files = model_files(path)
    cache_file = path / ".sha256.json"
    stamp = []
    for rel, file in files:
        # Follows links: the stamp is the target's. Keyed on what `touch -r` cannot restore.
        stamp.append([rel, *file_signature(file.stat())])
    try:
        cached = json.loads(cache_file.read_text(encoding="utf-8"))
        if cached["stamp"] == stamp and cached.get("version") == DIGEST_VERSION:
            return cached["sha256"]
    except (OSError, KeyError, json.JSONDecodeError):
        pass
    digest = hashlib.sha256()
    for rel, file in files:
        digest.update(rel.encode())
        digest.update(sha256_file(file).encode())
    value = digest.hexdigest()
    try:
        write_json(cache_file, {"stamp": stamp, "sha256": value, "version": DIGEST_VERSION})
    except OSError:  # a read-only model folder: hash again next time
        pass
    return value


def _build_tiny_speech_check(model: SpeechCheckModel):
    def build(folder: Path) -> None:
        from resources.tiny import speech_qc

        builders = {"whisper_asr": speech_qc.build_tiny_whisper}
        builders["wavlm_sv"] = speech_qc.build_tiny_wavlm_xvector
        builders[model.name](folder)

    return build


def _build_tiny_qwen3_tts(python: str):
    """Tiny Qwen3-TTS checkpoints, each folder named after its voice model, built by one process
    of the voice environment."""

    def build(folders: list[Path]) -> None:
        script = Path(__file__).resolve().parents[1] / "tiny" / "qwen3_tts.py"
        pairs = [str(part) for f in folders for part in (f, VOICE_MODELS[f.name].variant)]
        done = subprocess.run([python, str(script), *pairs], capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise ModelNotFoundError(f"tiny Qwen3-TTS could not be built with {python}: {last}")

    return build


def _build_tiny_music(folder: Path) -> None:
    from resources.tiny.music import build_tiny_ace_step

    build_tiny_ace_step(folder)


def _build_tiny_video(model: VideoModel):
    def build(folder: Path) -> None:
        from resources.tiny.video import build_tiny_video_pipeline

        build_tiny_video_pipeline(model, folder)

    return build


def _build_tiny_vision(model: VisionModel):
    def build(folder: Path) -> None:
        from resources.tiny.vision import build_tiny_vision_model

        build_tiny_vision_model(model, folder)

    return build


def _build_tiny_sdxl(folder: Path) -> None:
    from resources.tiny.sdxl import build_tiny_sdxl

    build_tiny_sdxl(folder)


def _build_tiny_upscaler(scale: int, filename: str, architecture: str = "RRDBNet"):
    def build(folder: Path) -> None:
        from resources.tiny.realesrgan import build_tiny_realesrgan

        folder.mkdir(parents=True, exist_ok=True)
        build_tiny_realesrgan(folder / filename, scale=scale, architecture=architecture)

    return build
