"""Video files in and out through PyAV: H.264 MP4 writing, streaming decode, probing, retiming."""

from __future__ import annotations

import contextlib
import math
import os
import struct
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np
from av.container import InputContainer, OutputContainer
from av.video.reformatter import ColorRange, Colorspace
from av.video.stream import VideoStream

from resources.domain.render import ENCODER_PRESETS, X264_PARAMS
from resources.storage.permissions import FILE_MODE

# Output container chosen by the file suffix; the temporary name keeps the suffix but PyAV is told
# the format explicitly so odd temporary names can never change it.
_CONTAINER_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
_ISO_BMFF_FORMATS = {"mp4", "mov"}
# libx264's bitstream depends on its thread count, and its default ("auto") is 1.5x the CPUs
# this process may run on (sched_getaffinity): the same frames encoded under `taskset -c 0` and
# on both cores gave different files. A fixed count makes the bytes a function of the frames.
ENCODER_THREADS = 4
_X264_PRESETS = ENCODER_PRESETS  # the settings check the same list (resources/domain/render)
# AVCOL_PRI_BT709 / AVCOL_TRC_BT709: HD players assume BT.709 when untagged, so tag and convert
# with it explicitly instead of relying on swscale's BT.601 default (which shifts colours).
_AVCOL_PRI_BT709 = 1
_AVCOL_TRC_BT709 = 1


@dataclass(frozen=True)
class VideoInfo:
    """What `probe_video` reports about a video file."""

    width: int
    height: int
    fps: Fraction
    frame_count: int
    codec: str
    pix_fmt: str
    duration_s: float
    faststart: bool


def _container_format(path: Path) -> str:
    try:
        return _CONTAINER_FORMATS[path.suffix.lower()]
    except KeyError:
        known = ", ".join(sorted(_CONTAINER_FORMATS))
        raise ValueError(
            f"cannot write video {path}: unsupported suffix {path.suffix!r} (use one of {known})"
        ) from None


H264_ENCODERS = ("libx264", "h264_nvenc")


@dataclass(frozen=True)
class EncoderChoice:
    """The H.264 encoder a cut uses and why (recorded in the deliverable's manifest)."""

    codec: str
    reason: str


def choose_h264_encoder(device: str, requested: str = "auto") -> EncoderChoice:
    """NVENC (`h264_nvenc`) on a CUDA device whose driver opens it, else libx264, with the reason.

    The PyAV wheels include h264_nvenc; it opens only with an NVIDIA driver and an encoder
    engine (A10G and L4 have one). "auto" tries it by opening a 64x64 encoder once.
    """
    if requested not in ("auto", *H264_ENCODERS):
        raise ValueError(f"encoder={requested!r}: expected auto, {', '.join(H264_ENCODERS)}")
    if requested == "libx264":
        return EncoderChoice("libx264", "libx264 requested")
    if not str(device).startswith("cuda"):
        why = f"device is {device}: NVENC needs a CUDA GPU"
        if requested == "h264_nvenc":
            raise ValueError(f"encoder='h264_nvenc' cannot be used: {why}")
        return EncoderChoice("libx264", why)
    try:
        av.codec.Codec("h264_nvenc", "w")
    except Exception:  # noqa: BLE001 - an unknown codec raises differently across PyAV versions
        return EncoderChoice("libx264", f"h264_nvenc is not in this PyAV {av.__version__} build")
    try:
        probe = av.CodecContext.create("h264_nvenc", "w")
        probe.width, probe.height, probe.pix_fmt = 64, 64, "yuv420p"
        probe.time_base = Fraction(1, 24)
        probe.open()
        probe.close()
    except Exception as error:  # noqa: BLE001 - no driver, no engine, busy: all mean fall back
        if requested == "h264_nvenc":
            raise ValueError(f"encoder='h264_nvenc' failed to open: {error}") from None
        return EncoderChoice("libx264", f"h264_nvenc failed to open on {device}: {error}")
    return EncoderChoice("h264_nvenc", f"NVENC opened on {device}")


class VideoWriter:
    """Context manager that encodes RGB frames to H.264 (libx264, yuv420p, CRF) at `path`.

    Frames go to a temporary file in the same folder, renamed to `path` only when the `with`
    block exits cleanly; on an exception the temporary file is removed and `path` is untouched.
    """

    def __init__(
        self,
        path: Path,
        *,
        width: int,
        height: int,
        fps: int | Fraction,
        crf: int = 18,
        preset: str = "medium",
        codec: str = "libx264",
    ) -> None:
        self._path = Path(path)
        if codec not in H264_ENCODERS:
            raise ValueError(f"codec={codec!r} for {path}: expected {', '.join(H264_ENCODERS)}")
        self._codec = codec
        self._format = _container_format(self._path)
        for name, value in (("width", width), ("height", height)):
            if value <= 0 or value % 2:
                raise ValueError(
                    f"{name}={value} for {self._path}: yuv420p needs a positive even {name} "
                    f"(got width={width}, height={height})"
                )
        if Fraction(fps) <= 0:
            raise ValueError(f"fps={fps} for {self._path}: must be positive")
        if not 0 <= crf <= 51:
            raise ValueError(f"crf={crf} for {self._path}: libx264 accepts 0..51")
        if preset not in _X264_PRESETS:
            raise ValueError(
                f"preset={preset!r} for {self._path}: expected one of {', '.join(_X264_PRESETS)}"
            )
        self._width = width
        self._height = height
        self._fps = Fraction(fps)
        self._crf = crf
        self._preset = preset
        self._tmp: Path | None = None
        self._container: OutputContainer | None = None
        self._stream: VideoStream | None = None
        self._frames_written = 0

    @property
    def path(self) -> Path:
        """Final location of the video (exists only after a clean exit)."""
        return self._path

    @property
    def frames_written(self) -> int:
        """Number of frames handed to the encoder so far."""
        return self._frames_written

    def __enter__(self) -> VideoWriter:
        if self._container is not None:
            raise RuntimeError(f"VideoWriter for {self._path} is already open")
        # mkstemp gives a unique name, so two writers aiming at one path never share a temp file.
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{self._path.stem}.",
            suffix=f".partial{self._path.suffix}",
            dir=self._path.parent,
        )
        os.fchmod(fd, FILE_MODE)  # a master a colleague can play, not mkstemp's 0600
        os.close(fd)
        self._tmp = Path(tmp_name)
        try:
            container_options = {}
            if self._format in _ISO_BMFF_FORMATS:
                # Move the moov atom to the front so browsers can start playing before the end.
                container_options["movflags"] = "+faststart"
            container = av.open(
                str(self._tmp), mode="w", format=self._format, container_options=container_options
            )
            if self._codec == "h264_nvenc":
                # Constant quality like CRF: VBR with cq = crf and no bitrate cap; p5 of p1..p7.
                options = {"rc": "vbr", "cq": str(self._crf), "b": "0", "preset": "p5"}
            else:
                options = {
                    "crf": str(self._crf),
                    "preset": self._preset,
                    "x264-params": X264_PARAMS,
                }
            stream = container.add_stream(self._codec, rate=self._fps, options=options)
            stream.width = self._width
            stream.height = self._height
            stream.pix_fmt = "yuv420p"
            ctx = stream.codec_context
            ctx.thread_count = ENCODER_THREADS
            ctx.colorspace = Colorspace.ITU709
            ctx.color_range = ColorRange.MPEG
            ctx.color_primaries = _AVCOL_PRI_BT709
            ctx.color_trc = _AVCOL_TRC_BT709
        except BaseException:
            self._tmp.unlink(missing_ok=True)
            self._tmp = None
            raise
        self._container = container
        self._stream = stream
        self._frames_written = 0
        return self

    def write(self, frames: np.ndarray) -> None:
        """Encode a batch of (N, height, width, 3) uint8 RGB frames."""
        if self._container is None or self._stream is None:
            raise RuntimeError(f"VideoWriter for {self._path} is not open; use it in a `with`")
        expected = (self._height, self._width, 3)
        if frames.ndim != 4 or frames.shape[1:] != expected:
            raise ValueError(
                f"frames for {self._path} must have shape (N, {', '.join(map(str, expected))}), "
                f"got {frames.shape}"
            )
        if frames.dtype != np.uint8:
            raise ValueError(f"frames for {self._path} must be uint8, got {frames.dtype}")
        for rgb in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame = frame.reformat(
                format="yuv420p", dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.MPEG
            )
            # pts counts frames: the codec time base is 1/fps, so frame i sits at i/fps seconds.
            frame.pts = self._frames_written
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
            self._frames_written += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        container, stream, tmp = self._container, self._stream, self._tmp
        self._container = self._stream = self._tmp = None
        if container is None or stream is None or tmp is None:
            return
        done = False
        try:
            if exc_type is None:
                if self._frames_written == 0:
                    raise ValueError(f"no frames were written to {self._path}")
                for packet in stream.encode(None):
                    container.mux(packet)
                container.close()
                os.replace(tmp, self._path)
                done = True
        finally:
            if not done:
                # The caller's exception (or the one above) is what matters; a failure to close a
                # half-written file must not mask it.
                with contextlib.suppress(av.FFmpegError, OSError):
                    container.close()
                tmp.unlink(missing_ok=True)


def write_video(
    path: Path,
    frames: np.ndarray,
    *,
    fps: int | Fraction,
    crf: int = 18,
    preset: str = "medium",
) -> None:
    """Encode (N, H, W, 3) uint8 RGB `frames` to an H.264 video at `path`."""
    if frames.ndim != 4:
        raise ValueError(f"frames for {path} must have shape (N, H, W, 3), got {frames.shape}")
    _, height, width, _ = frames.shape
    with VideoWriter(path, width=width, height=height, fps=fps, crf=crf, preset=preset) as writer:
        writer.write(frames)


def _open_input(path: Path) -> InputContainer:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video file not found: {path}")
    try:
        return av.open(str(path), mode="r")
    except av.FFmpegError as exc:
        raise ValueError(f"{path} is not a readable video: {exc}") from exc


def _video_stream(container: InputContainer, path: Path) -> VideoStream:
    if not container.streams.video:
        raise ValueError(f"{path} has no video stream")
    stream = container.streams.video[0]
    if not stream.codec_context.width or not stream.codec_context.height:
        raise ValueError(f"{path} has a video stream without a frame size")
    return stream


def _decoded(path: Path) -> Iterator[av.VideoFrame]:
    """The frames of `path`'s video stream, decoded in order; a decoding error names the file."""
    path = Path(path)
    with _open_input(path) as container:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        try:
            yield from container.decode(stream)
        except av.FFmpegError as exc:
            raise ValueError(f"{path}: decoding failed: {exc}") from exc


def read_video(path: Path, *, batch_size: int = 16) -> Iterator[np.ndarray]:
    """Decode `path` lazily, yielding (n <= batch_size, H, W, 3) uint8 RGB batches."""
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size}: must be at least 1")
    batch: list[np.ndarray] = []
    for frame in _decoded(path):
        batch.append(frame.to_ndarray(format="rgb24"))
        if len(batch) == batch_size:
            yield np.stack(batch)
            batch = []
    if batch:
        yield np.stack(batch)


def read_frames(path: Path, indices: Iterable[int]) -> Iterator[tuple[int, np.ndarray]]:
    """Decode `path` once and yield (index, (H, W, 3) uint8 RGB frame) for the frames at
    `indices` only, in order, stopping after the last one: a few frames sampled from a long
    master are converted and copied without converting every other frame (what read_video
    does), and the same frames come out."""
    wanted = set(indices)
    if not wanted:
        return
    last = max(wanted)
    with contextlib.closing(_decoded(path)) as frames:  # closed (the file with it) on return
        for index, frame in enumerate(frames):
            if index in wanted:
                yield index, frame.to_ndarray(format="rgb24")
            if index >= last:
                return


def _moov_before_mdat(path: Path) -> bool:
    """True when the top-level 'moov' box of an ISO BMFF file comes before its 'mdat' box."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        pos = 0
        while pos + 8 <= size:
            fh.seek(pos)
            box_size, box_type = struct.unpack(">I4s", fh.read(8))
            if box_type == b"moov":
                return True
            if box_type == b"mdat":
                return False
            if box_size == 1:  # 64-bit size follows the type
                (box_size,) = struct.unpack(">Q", fh.read(8))
            elif box_size == 0:  # box runs to the end of the file: nothing can follow it
                return False
            if box_size < 8:  # malformed or not ISO BMFF at all
                return False
            pos += box_size
    return False


def _count_frames(container: InputContainer, stream: VideoStream, path: Path) -> int:
    try:
        return sum(1 for _ in container.decode(stream))
    except av.FFmpegError as exc:
        raise ValueError(f"{path}: decoding failed while counting frames: {exc}") from exc


def probe_video(path: Path) -> VideoInfo:
    """Size, fps, exact frame count, codec, pix_fmt, duration and faststart layout of `path`."""
    path = Path(path)
    with _open_input(path) as container:
        stream = _video_stream(container, path)
        ctx = stream.codec_context
        fps = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not fps:
            raise ValueError(f"{path}: the video stream has no frame rate")
        fps = Fraction(fps)
        # MP4's sample table gives an exact count; containers that do not store one are decoded.
        frame_count = stream.frames or _count_frames(container, stream, path)
        if stream.duration is not None and stream.time_base is not None:
            duration_s = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration_s = container.duration / av.time_base
        else:
            duration_s = float(frame_count / fps)
        is_iso_bmff = bool(_ISO_BMFF_FORMATS & set(container.format.name.split(",")))
        info = VideoInfo(
            width=ctx.width,
            height=ctx.height,
            fps=fps,
            frame_count=frame_count,
            codec=ctx.name,
            pix_fmt=ctx.pix_fmt or "",
            duration_s=duration_s,
            faststart=is_iso_bmff and _moov_before_mdat(path),
        )
    return info


def retime_indices(
    n_source: int, source_fps: float | Fraction, target_fps: float | Fraction, n_target: int
) -> list[int]:
    """Nearest source frame index for each of `n_target` output frames at `target_fps`."""
    if n_source < 1:
        raise ValueError(f"n_source={n_source}: need at least one source frame")
    if n_target < 0:
        raise ValueError(f"n_target={n_target}: must not be negative")
    if source_fps <= 0:
        raise ValueError(f"source_fps={source_fps}: must be positive")
    if target_fps <= 0:
        raise ValueError(f"target_fps={target_fps}: must be positive")
    # Exact rational arithmetic: float division would flip ties such as 2.5 -> 2 vs 3 at random.
    ratio = Fraction(source_fps) / Fraction(target_fps)
    last = n_source - 1
    # Ties round up (floor(x + 1/2)) so the mapping is monotonic and deterministic.
    return [min(last, math.floor(i * ratio + Fraction(1, 2))) for i in range(n_target)]
