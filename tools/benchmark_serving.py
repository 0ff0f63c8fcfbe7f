"""Load-test the deadline-aware server against fixed-choice servers, on this machine only.

    python tools/benchmark_serving.py CONFIG CHECKPOINT --profile PROFILE.json
        [--loads 0.5,1,2,4] [--duration 20] [--fixed p16,p8,p4] [--slo-ms MS]
        [--memory-requests 10000] [--image IMAGE] [--out work_dirs/serving]

Each server is ``tools/serve.py`` in its own process on 127.0.0.1 (the adaptive one with every
choice, one per ``--fixed`` choice), all started first. Each gets open-loop Poisson arrivals at
every load (a multiple of the p8 capacity, 1000 / p8's median ms in the profile; the first
choice when the profile has no p8) for ``--duration`` seconds, cut in ``--slices`` slices taken
in turn by the servers, so that the machine's other work weighs on all of them alike; each is
summarised: SLO attainment, effective metric (late, refused and failed requests count as 0),
refusals, choice mix. Then:

- refusal latency: requests whose deadline no choice can make, on the idle adaptive server
  (p50/p99 ms, goal p99 under 5 ms); the table also gives the p99 of the refusals under load;
- memory: the adaptive server's resident memory over ``--memory-requests`` requests, and the
  resident memory of the weights with one choice warm against all choices warm (goal 1.1x).

Writes OUT/serving.json and OUT/serving.md. Timings depend on what else the machine runs:
benchmark on an idle machine with the threads the profile was measured with.
"""
import argparse
import contextlib
import gc
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import flexseg  # noqa: F401  (registers the models)
from flexseg.cli import run_cli
from flexseg.deploy.latency import load_profile_for
from flexseg.layers.checks import check_int, check_number
from flexseg.serving.loadtest import post_image, resident_mb, run_load, summarize
from flexseg.serving.model import choices_from_profile, default_slo_ms, test_images

ROOT = Path(__file__).resolve().parents[1]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Load-test the deadline-aware server")
    parser.add_argument("config")
    parser.add_argument("checkpoint")
    parser.add_argument("--profile", help="latency profile (tools/profile_latency.py "
                        "--batch 1 --results ...)")
    parser.add_argument("--loads", default="0.5,1,2,4",
                        help="arrival rates as multiples of the p8 capacity")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per load")
    parser.add_argument("--fixed", default="p16,p8,p4", help="fixed-choice servers to compare")
    parser.add_argument("--slices", type=int, default=4, help="each load's time is cut in "
                        "this many slices, the servers taking turns (so that changes in "
                        "machine load hit them alike)")
    parser.add_argument("--slo-ms", type=float, help="every request's deadline, the same for "
                        "every server (default: twice the slowest choice's p95 in the profile "
                        "plus the margin)")
    parser.add_argument("--margin-ms", type=float, default=5.0)
    parser.add_argument("--memory-requests", type=int, default=10_000,
                        help="requests over which resident memory is followed (0: skip)")
    parser.add_argument("--max-requests", type=int, default=20_000,
                        help="cap on the requests of one load run")
    parser.add_argument("--image", help="image sent by every request (default: the first "
                        "test image of the config)")
    parser.add_argument("--out", default="work_dirs/serving", help="output folder")
    return parser.parse_args()


@contextlib.contextmanager
def served(args, log: Path, *extra: str):
    """tools/serve.py on a free loopback port, its output to ``log``; yields (process, port)
    as soon as it is started (``wait_until_ready``)."""
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, str(ROOT / "tools/serve.py"), args.config, args.checkpoint,
               "--profile", args.profile, "--port", str(port),
               "--margin-ms", str(args.margin_ms), *extra]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        try:
            yield process, port
        finally:
            process.terminate()
            process.wait(60)


def wait_until_ready(process, port: int, log: Path, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(OSError):
            if post_image(port, b"", timeout_s=2)[0] == 400:  # it answers: ready
                return
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the server did not start; its output is in {log}")
        time.sleep(0.2)


def refusal_latency(port: int, body: bytes, count: int = 500) -> dict:
    """Client-side ms of requests no choice can make (deadline 0.01 ms)."""
    times = []
    for _ in range(count):
        began = time.perf_counter()
        status, _ = post_image(port, body, 0.01)
        times.append(1000 * (time.perf_counter() - began))
        assert status == 503, status
    return dict(count=count, p50_ms=float(np.percentile(times, 50)),
                p99_ms=float(np.percentile(times, 99)))


def memory_over_requests(process, port: int, body: bytes, requests: int) -> dict:
    """Resident MiB of the server every tenth of ``requests`` sequential requests."""
    samples, step = [], max(requests // 10, 1)
    for index in range(requests):
        if index % step == 0:
            samples.append(resident_mb(process.pid))
        post_image(port, body, timeout_s=10)
    samples.append(resident_mb(process.pid))
    return dict(requests=requests, mib=samples, growth_after_first_tenth=samples[-1] - samples[1]
                if len(samples) > 2 else 0.0)


def warm_memory(args) -> dict:
    """Resident MiB the model adds with one choice warm, then with every choice warm."""
    import torch

    from flexseg.deploy.inferencer import FlexInferencer
    from flexseg.deploy.measure import _reset_peak  # glibc trim: what is really held
    base = _reset_peak("cpu") / 2 ** 20
    inferencer = FlexInferencer(args.config, args.checkpoint, warmup=False)
    height, width = inferencer.space.image_hw
    batch = torch.zeros(1, 3, height, width)
    ids = inferencer.choice_ids
    for _ in range(3):
        inferencer.run_pinned(batch, ids[-1])
    gc.collect()
    one = _reset_peak("cpu") / 2 ** 20
    for _ in range(3):
        for key in ids:
            inferencer.run_pinned(batch, key)
    gc.collect()
    every = _reset_peak("cpu") / 2 ** 20
    return dict(base_mib=base, one_warm_mib=one - base, all_warm_mib=every - base,
                ratio=(every - base) / max(one - base, 1e-9), choice=ids[-1])


def markdown(report: dict) -> str:
    metric = report["metric"]
    lines = [f"SLO {report['slo_ms']:.1f} ms; loads are multiples of {report['capacity_of']}'s "
             f"capacity ({report['capacity']:.1f} requests/s); {report['duration']:g} s each.",
             "", f"| load | server | requests | SLO attainment | effective {metric} | refused "
             "| refusal p99 ms | late | choice mix |", "|---|---|---|---|---|---|---|---|---|"]
    for row in report["runs"]:
        mix = ", ".join(f"{key} {share:.0%}" for key, share in row["mix"].items()) or "-"
        refusal_ms = "-" if row["refusal_p99_ms"] is None else f"{row['refusal_p99_ms']:.1f}"
        lines.append(f"| {row['load']:g}x | {row['server']} | {row['requests']} | "
                     f"{row['slo_attainment']:.1%} | {row['effective_metric']:.2f} | "
                     f"{row['refused']:.1%} | {refusal_ms} | {row['late']:.1%} | {mix} |")
    refusal = report.get("refusal")
    if refusal:
        lines += ["", f"Refusal latency (idle, {refusal['count']} requests): p50 "
                      f"{refusal['p50_ms']:.2f} ms, p99 {refusal['p99_ms']:.2f} ms."]
    memory = report.get("memory")
    if memory:
        lines += [f"Resident memory over {memory['requests']} requests (MiB): "
                  + ", ".join(f"{value:.0f}" for value in memory["mib"])
                  + f" (growth after the first tenth: {memory['growth_after_first_tenth']:+.1f})."]
    warm = report.get("warm")
    if warm:
        lines += [f"Model memory: {warm['one_warm_mib']:.1f} MiB with {warm['choice']} warm, "
                  f"{warm['all_warm_mib']:.1f} MiB with every choice warm "
                  f"({warm['ratio']:.3f}x)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    args = parse_args()
    check_number("--duration", args.duration, positive=True)
    check_int("--memory-requests", args.memory_requests, 0)
    check_int("--max-requests", args.max_requests, 1)
    check_int("--slices", args.slices, 1)
    profile = load_profile_for("tools/benchmark_serving.py", args.profile)
    choices = choices_from_profile(profile)
    fixed = [key for key in args.fixed.split(",") if key]
    choices_from_profile(profile, fixed)  # unknown ids: one line
    loads = [check_number("--loads", float(value), positive=True)
             for value in args.loads.split(",")]
    merged = profile.metric_values()
    metric_name, values = (merged[0], merged[2]) if merged else ("GFLOPs",
                                                                 {c.id: c.gflops for c in choices})
    reference = "p8" if "p8" in profile.choices else choices[0].id
    capacity = 1000 / profile.choices[reference].median_ms
    body = Path(args.image).read_bytes() if args.image else default_image(args.config)
    slo = args.slo_ms or default_slo_ms(choices, args.margin_ms)  # the same for every server
    report = dict(metric=metric_name, slo_ms=slo, capacity_of=reference, capacity=capacity,
                  duration=args.duration, runs=[], fingerprint=profile.fingerprint)
    report["warm"] = warm_memory(args)
    print(f"model memory: one choice warm {report['warm']['one_warm_mib']:.1f} MiB, all "
          f"{report['warm']['all_warm_mib']:.1f} MiB ({report['warm']['ratio']:.3f}x)",
          flush=True)
    servers = [("adaptive", [])] + [(f"fixed {key}", ["--choices", key]) for key in fixed]
    logs = {name: Path(args.out) / f"server_{name.replace(' ', '_')}.log" for name, _ in servers}
    with contextlib.ExitStack() as stack:  # all start at once, then are waited for
        running = {name: stack.enter_context(served(args, logs[name], *extra))
                   for name, extra in servers}
        for name, (process, port) in running.items():
            wait_until_ready(process, port, logs[name])
        for load in loads:
            replies = {name: [] for name in running}
            for slice_index in range(args.slices):  # servers in turn: alike machine load
                for name, (_, port) in running.items():
                    replies[name] += run_load(
                        port, body, load * capacity, args.duration / args.slices, slo,
                        seed=int(load * 1000) + slice_index, max_requests=args.max_requests)
            for name in running:
                row = dict(load=load, server=name, **summarize(replies[name], values))
                report["runs"].append(row)
                print(f"{load:g}x {name}: SLO attainment {row['slo_attainment']:.1%}, "
                      f"effective {metric_name} {row['effective_metric']:.2f}", flush=True)
        process, port = running["adaptive"]
        report["refusal"] = refusal_latency(port, body)
        if args.memory_requests:
            report["memory"] = memory_over_requests(process, port, body, args.memory_requests)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "serving.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "serving.md").write_text(markdown(report))
    print(markdown(report))
    print(f"wrote {out / 'serving.json'} and {out / 'serving.md'}")


def default_image(config: str) -> bytes:
    """The first test image of the config's dataset."""
    from mmengine.config import Config
    folder = test_images(Config.fromfile(config))
    images = sorted(folder.iterdir()) if folder else []
    if not images:
        raise FileNotFoundError(f"no test image found for {config}; give one with --image")
    return images[0].read_bytes()


if __name__ == "__main__":
    run_cli(main)
