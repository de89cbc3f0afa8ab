"""Deliverable stage: throughput against a plain baseline, and peak memory for short and long clips.

    python benchmarks/deliverable.py                   # both measurements, tiny Real-ESRGAN x4
    python benchmarks/deliverable.py --weights RealESRGAN_x4plus.pth --device cuda

1. Throughput, both in this process on the same source clip (a 16 fps shot, by default at half
   Wan 2.1's native 832x480 to keep a CPU run short, cut to 1920x1080 @ 24 fps):
   * baseline: the plain way: decode every frame into memory, retime to 24 fps, upscale each
     output frame one at a time, whole-frame, float32, resize in float32, keep the finished
     frames in memory, then encode them;
   * stage: `resources.upscale.final_cut.cut` as the deliverables asset runs it (bounded
     batches, each source frame upscaled once, uint8 resizing, streaming encode; tiles and fp16
     on CUDA).
   Reported as output frames per second and their ratio, next to the floor of the stage's own
   encoder (NVENC where it opens, else libx264) alone on the same finished frames, and the
   upscaler alone on the same source frames, all in the same run.
2. Peak RSS of the stage for a 10 s and a 60 s clip, each in a fresh subprocess (its peak is
   reset right before the stage, so imports and the model load are not counted as the stage).
3. Sampling the master for identity: the frames `sample_segments` embeds (8 a shot, 3 shots)
   taken from a 1920x1080 master the old way (every frame decoded, converted and stacked by
   `read_video`, the wanted ones picked) and by `read_frames` (only the wanted ones converted,
   decoding stops after the last), both in this process; reported as seconds and their ratio,
   with the check that both give the same frames.

Without `--weights` the upscaler is a tiny one built in code: for throughput the tiny profile's
RRDBNet (Real-ESRGAN x4plus's architecture with 8 features and one block instead of 64 and 23),
for memory a tiny SRVGGNetCompact (realesr-general-x4v3's architecture), whose low cost lets a
60 s clip run in minutes on a CPU; memory is about the streaming around the network.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from resources.media.video_io import (  # noqa: E402
    VideoWriter,
    choose_h264_encoder,
    probe_video,
    read_video,
    retime_indices,
    write_video,
)
from resources.tiny.realesrgan import build_tiny_realesrgan  # noqa: E402
from resources.upscale.final_cut import CutClip, cut  # noqa: E402
from resources.upscale.super_resolution import load_upscaler, upscale_frames  # noqa: E402

OUT_W, OUT_H, OUT_FPS = 1920, 1080, 24


def make_source(path: Path, seconds: float, width: int, height: int, fps: int) -> Path:
    """A synthetic shot: gradients, a moving disc and light grain, streamed to `path`."""
    n = round(seconds * fps)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    rng = np.random.default_rng(0)
    with VideoWriter(path, width=width, height=height, fps=fps, preset="ultrafast") as writer:
        for start in range(0, n, 16):
            batch = []
            for i in range(start, min(n, start + 16)):
                frame = np.empty((height, width, 3), np.float32)
                frame[..., 0] = 255 * xx / width
                frame[..., 1] = 255 * yy / height
                frame[..., 2] = 128
                cx, cy = (0.2 + 0.6 * (i % fps) / fps) * width, height / 2
                disc = (xx - cx) ** 2 + (yy - cy) ** 2 < (height / 5) ** 2
                frame[disc] = (230, 200, 40)
                frame += rng.normal(0, 4, frame.shape).astype(np.float32)
                batch.append(np.clip(frame, 0, 255).astype(np.uint8))
            writer.write(np.stack(batch))
    return path


def baseline_cut(model, clip: Path, seconds: float, out_file: Path, preset: str) -> int:
    """The plain deliverable: all frames in memory, one frame at a time, float32 throughout."""
    info = probe_video(clip)
    source = [f for batch in read_video(clip) for f in batch]
    n_target = round(seconds * OUT_FPS)
    frames = [source[i] for i in retime_indices(len(source), info.fps, OUT_FPS, n_target)]
    finished = []
    with torch.inference_mode():
        for frame in frames:
            x = torch.from_numpy(frame).permute(2, 0, 1)[None].float().div(255.0)
            y = model.model(x.to(model.device, torch.float32)).clamp(0, 1)
            h, w = y.shape[-2:]
            factor = min(OUT_W / w, OUT_H / h)
            new_h, new_w = min(OUT_H, round(h * factor)), min(OUT_W, round(w * factor))
            y = F.interpolate(y, size=(new_h, new_w), mode="bicubic", antialias=True).clamp(0, 1)
            canvas = torch.zeros(1, 3, OUT_H, OUT_W)
            top, left = (OUT_H - new_h) // 2, (OUT_W - new_w) // 2
            canvas[:, :, top : top + new_h, left : left + new_w] = y.cpu()
            rgb = (canvas[0].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
            finished.append(rgb)
    write_video(out_file, np.stack(finished), fps=OUT_FPS, preset=preset)
    return len(finished)


def measure_speed(args: argparse.Namespace, weights: Path, work: Path) -> dict:
    width, height = args.source
    clip = make_source(work / "speed.mp4", args.speed_seconds, width, height, args.source_fps)
    baseline_model = load_upscaler(weights, device=args.device, half=False)
    stage_model = load_upscaler(weights, device=args.device, half=True)
    tile = args.tile if args.device.startswith("cuda") else 0
    encoder = choose_h264_encoder(args.device)
    # Warm-up: first calls pay for allocator growth and kernel selection; neither should.
    warm = np.zeros((1, height, width, 3), np.uint8)
    upscale_frames(stage_model, warm)
    upscale_frames(baseline_model, warm)
    start = time.perf_counter()
    base_frames = baseline_cut(
        baseline_model, clip, args.speed_seconds, work / "baseline.mp4", args.preset
    )
    base_s = time.perf_counter() - start
    start = time.perf_counter()
    stats = cut(
        stage_model,
        [CutClip("shot", clip, args.speed_seconds)],
        work / "stage.mp4",
        width=OUT_W,
        height=OUT_H,
        fps=OUT_FPS,
        preset=args.preset,
        batch_size=args.batch_size,
        tile=tile,
        encoder=encoder.codec,
    )
    stage_s = time.perf_counter() - start
    # The floor: the stage's own encoder alone on the same finished frames (decoded into memory
    # first, so only encoding is timed), and the upscaler alone on the same source frames.
    finished = [f for batch in read_video(work / "stage.mp4") for f in batch]
    start = time.perf_counter()
    with VideoWriter(
        work / "floor.mp4",
        width=OUT_W,
        height=OUT_H,
        fps=OUT_FPS,
        preset=args.preset,
        codec=encoder.codec,
    ) as writer:
        for i in range(0, len(finished), 8):
            writer.write(np.stack(finished[i : i + 8]))
    floor_s = time.perf_counter() - start
    source = [f for batch in read_video(clip) for f in batch][: stats.upscaled_frames]
    start = time.perf_counter()
    for i in range(0, len(source), args.batch_size):
        upscale_frames(stage_model, np.stack(source[i : i + args.batch_size]), tile=tile)
    upscale_s = time.perf_counter() - start
    return {
        "source": f"{width}x{height}@{args.source_fps}",
        "output": f"{OUT_W}x{OUT_H}@{OUT_FPS}",
        "seconds": args.speed_seconds,
        "baseline_frames": base_frames,
        "baseline_s": round(base_s, 2),
        "baseline_fps": round(base_frames / base_s, 3),
        "stage_frames": stats.frames,
        "stage_upscaled_frames": stats.upscaled_frames,
        "stage_s": round(stage_s, 2),
        "stage_fps": round(stats.frames / stage_s, 3),
        "speedup": round(base_s / stage_s * stats.frames / base_frames, 2),
        "encoder": encoder.codec,
        "encoder_reason": encoder.reason,
        "encoder_floor_s": round(floor_s, 2),
        "encoder_floor_fps": round(len(finished) / floor_s, 3),
        "upscaler_alone_s": round(upscale_s, 2),
        # 1.0 would be the encoder's floor plus the upscaler's own time, nothing else.
        "stage_over_floor_plus_upscaler": round(stage_s / (floor_s + upscale_s), 3),
    }


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def rss_child(args: argparse.Namespace) -> None:
    """Run the stage once on `--clip` and print its peak RSS as JSON (fresh process)."""
    model = load_upscaler(Path(args.weights), device=args.device, half=True)
    seconds = float(probe_video(args.clip).duration_s)
    before_kb = _status_kb("VmRSS")
    # Reset the peak (VmHWM) to the current RSS: what follows is the stage alone.
    Path("/proc/self/clear_refs").write_text("5")
    start = time.perf_counter()
    stats = cut(
        model,
        [CutClip("shot", Path(args.clip), seconds)],
        Path(args.out),
        width=OUT_W,
        height=OUT_H,
        fps=OUT_FPS,
        preset=args.preset,
        batch_size=args.batch_size,
        tile=args.tile if args.device.startswith("cuda") else 0,
    )
    print(
        json.dumps(
            {
                "seconds": round(seconds, 2),
                "frames": stats.frames,
                "stage_s": round(time.perf_counter() - start, 1),
                "rss_before_mb": round(before_kb / 1024, 1),
                "peak_rss_mb": round(_status_kb("VmHWM") / 1024, 1),
            }
        )
    )


def measure_rss(args: argparse.Namespace, weights: Path, work: Path) -> list[dict]:
    width, height = args.rss_source
    results = []
    for seconds in args.rss_seconds:
        clip = make_source(work / f"rss_{seconds}.mp4", seconds, width, height, args.source_fps)
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child-rss",
                "--clip",
                str(clip),
                "--out",
                str(work / f"rss_{seconds}_out.mp4"),
                "--weights",
                str(weights),
                "--device",
                args.device,
                "--preset",
                args.preset,
                "--batch-size",
                str(args.batch_size),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return results


def measure_sampling(work: Path, seconds: float, shots: int = 3) -> dict:
    """Section 3 of the module docstring: read_video then pick, against read_frames."""
    from fractions import Fraction

    from resources.media.video_io import read_frames, read_video, write_video
    from resources.qc.identity import FRAMES_PER_SHOT, sample_indices

    fps, count = 24, round(seconds * 24)
    master = work / "master-1080p.mp4"
    # A smooth picture with a square that moves (a noise master would time the decoder instead).
    ramp = np.linspace(0, 255, 1920, dtype=np.float32)
    picture = np.stack([np.broadcast_to(ramp, (1080, 1920))] * 3, axis=-1).astype(np.uint8)
    frames = np.repeat(picture[None], count, axis=0)
    for index in range(count):
        left = (index * 8) % (1920 - 128)
        frames[index, 476:604, left : left + 128] = (255, 40, 40)
    write_video(master, frames, fps=Fraction(fps))
    per_shot = count // shots
    wanted = {
        shot * per_shot + i
        for shot in range(shots)
        for i in sample_indices(per_shot, FRAMES_PER_SHOT)
    }

    def every_frame() -> dict[int, np.ndarray]:
        picked, seen = {}, 0
        for batch in read_video(master, batch_size=16):
            picked.update({seen + i: batch[i] for i in range(len(batch)) if seen + i in wanted})
            seen += len(batch)
        return picked

    def only_wanted() -> dict[int, np.ndarray]:
        return dict(read_frames(master, wanted))

    took: dict[str, float] = {}
    found: dict[str, dict[int, np.ndarray]] = {}
    for name, read in (("read_video", every_frame), ("read_frames", only_wanted)):
        read()  # warm: the file in the page cache, the decoder's libraries loaded
        start = time.perf_counter()
        found[name] = read()
        took[name] = time.perf_counter() - start
    same = all(np.array_equal(found["read_video"][i], found["read_frames"][i]) for i in wanted)
    return {
        "master": f"1920x1080, {seconds:g} s at {fps} fps ({count} frames)",
        "sampled_frames": len(wanted),
        "read_video_s": round(took["read_video"], 3),
        "read_frames_s": round(took["read_frames"], 3),
        "ratio": round(took["read_video"] / took["read_frames"], 2),
        "same_frames": same,
    }


def _size(text: str) -> tuple[int, int]:
    width, height = text.lower().split("x")
    return int(width), int(height)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", help="Real-ESRGAN weights (default: tiny x4 RRDBNet)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--preset", default="veryfast", help="libx264 preset, both paths")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--tile", type=int, default=384, help="tile size on CUDA")
    parser.add_argument("--source", type=_size, default=(416, 240))
    parser.add_argument("--source-fps", type=int, default=16)
    parser.add_argument("--speed-seconds", type=float, default=1.0)
    parser.add_argument("--rss-source", type=_size, default=(320, 176))
    parser.add_argument("--rss-seconds", type=float, nargs="+", default=[10.0, 60.0])
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument("--sampling-seconds", type=float, default=20.0)
    parser.add_argument("--skip-sampling", action="store_true")
    parser.add_argument("--child-rss", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--clip", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_rss:
        rss_child(args)
        return
    with tempfile.TemporaryDirectory(prefix="deliverable-bench-") as tmp:
        work = Path(tmp)
        weights = Path(args.weights) if args.weights else work / "RealESRGAN_x4plus.pth"
        rss_weights = Path(args.weights) if args.weights else work / "realesr-general-x4v3.pth"
        if not args.weights:
            build_tiny_realesrgan(weights, scale=4)
            build_tiny_realesrgan(rss_weights, scale=4, architecture="SRVGGNetCompact")
        report: dict = {
            "device": args.device,
            "torch_threads": torch.get_num_threads(),
            "weights": args.weights or "tiny RRDBNet x4 (speed), tiny SRVGGNetCompact x4 (RSS)",
        }
        if not args.skip_speed:
            report["speed"] = measure_speed(args, weights, work)
            print(json.dumps(report["speed"]), flush=True)
        if not args.skip_rss:
            report["rss"] = measure_rss(args, rss_weights, work)
            peaks = [r["peak_rss_mb"] for r in report["rss"]]
            report["rss_spread"] = round(max(peaks) / min(peaks) - 1, 3)
        if not args.skip_sampling:
            report["sampling"] = measure_sampling(work, args.sampling_seconds)
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
