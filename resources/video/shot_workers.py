"""One worker process per GPU: a shared queue of shots, each worker loads the model once.

On a multi-GPU host (a g5.12xlarge has four A10G) every GPU gets its own process, pinned to its
device, pulling the next shot from a queue until none are left, so a long shot does not hold up
the others. On the CPU the same code runs with CPU worker processes (the tests use two). With one
device the work runs in this process, through the same `target` function.

`target(job, device, items, log=..., stop=...)` must be a module-level function (it is imported
by name in each spawned process) that consumes `items` and raises `WorkInterrupted` when `stop`
asks it to.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import traceback
from collections.abc import Callable, Iterator
from multiprocessing.synchronize import Event
from typing import Any

import torch

from resources.runtime.interruption import StopCheck, WorkInterrupted
from resources.runtime.threads import pin_cpu_threads

# How often the parent looks at its stop check and at workers that died without a word.
_POLL_S = 0.5


class ShotWorkerError(RuntimeError):
    """A worker process failed; the message carries its device and traceback."""


def worker_devices(device: str, workers: int = 0) -> list[str]:
    """The devices to run workers on: one per visible GPU for "cuda", `workers` CPU workers."""
    if workers < 0:
        raise ValueError(f"workers={workers}: must be 0 (automatic) or positive")
    if device == "cuda":
        count = torch.cuda.device_count()
        if count == 0:
            raise ValueError("device='cuda' but no CUDA device is visible")
        gpus = [f"cuda:{i}" for i in range(count)]
        return gpus[: workers or count]
    if device.startswith("cuda:"):
        return [device]  # a pinned GPU: exactly one worker
    return [device] * max(1, workers)


def run_in_workers(
    target: Callable[..., None],
    job: Any,
    items: list[Any],
    devices: list[str],
    *,
    log: Callable[[str], None],
    stop: StopCheck | None = None,
) -> None:
    """Run `target` over `items` on `devices`: in this process for one device, else one each."""
    if not devices:
        raise ValueError("run_in_workers needs at least one device")
    if len(devices) == 1 or len(items) <= 1:
        target(job, devices[0], iter(items), log=log, stop=stop)
        return
    devices = devices[: len(items)]  # no worker loads a model it would not use
    # spawn, not fork: CUDA cannot be initialised in a forked child, and torch's thread pools do
    # not survive a fork either.
    ctx = mp.get_context("spawn")
    tasks = ctx.Queue()
    events = ctx.Queue()
    stop_event = ctx.Event()
    for item in items:
        tasks.put(item)
    for _ in devices:
        tasks.put(None)  # one end marker per worker
    # GPU workers share the host's cores for their own work; a CPU worker computes with
    # CPU_THREADS (pin_cpu_threads), as one process would, so its shots' bytes are the same.
    threads = max(1, torch.get_num_threads() // len(devices))
    processes = [
        ctx.Process(
            target=_worker_main,
            args=(target, job, device, tasks, events, stop_event, threads),
            name=f"shot-worker-{i}-{device}",
            daemon=True,
        )
        for i, device in enumerate(devices)
    ]
    for process in processes:
        process.start()
    errors: list[str] = []
    stop_reason: str | None = None
    running = {p.name for p in processes}
    try:
        while running:
            if stop is not None and stop_reason is None:
                stop_reason = stop()
                if stop_reason:
                    log(f"stop requested ({stop_reason}); workers finish their current shot")
                    stop_event.set()
            try:
                kind, name, payload = events.get(timeout=_POLL_S)
            except queue.Empty:
                for process in processes:
                    if process.name in running and not process.is_alive():
                        # Died without reporting: killed (out of memory) or crashed in C code.
                        running.discard(process.name)
                        errors.append(f"{process.name} exited with code {process.exitcode}")
                        stop_event.set()
                continue
            if kind == "log":
                log(f"[{name}] {payload}")
            elif kind == "error":
                errors.append(f"{name}:\n{payload}")
                stop_event.set()  # fail fast: the others stop after their current shot
                running.discard(name)
            else:  # "exit"
                running.discard(name)
    finally:
        stop_event.set()
        for process in processes:
            process.join(timeout=60)
            if process.is_alive():
                process.kill()
                process.join()
    if errors:
        raise ShotWorkerError("shot worker failed: " + "\n".join(errors))
    if stop_reason:
        raise WorkInterrupted(stop_reason, "shot workers")


def _queue_items(tasks: Any, stop_event: Event) -> Iterator[Any]:
    while not stop_event.is_set():
        item = tasks.get()
        if item is None:
            return
        yield item


def _worker_main(
    target: Callable[..., None],
    job: Any,
    device: str,
    tasks: Any,
    events: Any,
    stop_event: Event,
    threads: int,
) -> None:
    name = mp.current_process().name
    torch.set_num_threads(threads)
    pin_cpu_threads(device)
    if device.startswith("cuda"):
        torch.cuda.set_device(torch.device(device))
    try:
        target(
            job,
            device,
            _queue_items(tasks, stop_event),
            log=lambda message: events.put(("log", name, message)),
            stop=lambda: "stopped by the parent" if stop_event.is_set() else None,
        )
    except WorkInterrupted:
        pass  # the parent asked for it and reports it
    except BaseException:
        events.put(("error", name, traceback.format_exc()))
        return
    events.put(("exit", name, None))
