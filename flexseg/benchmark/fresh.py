"""Run a measurement in a process of its own, for what a process cannot reset: its peak
resident memory, its allocator's settings, its thread pools.

``clean=True`` forks the child from a server process that has imported the probe modules and
run nothing else (multiprocessing's forkserver), so the child starts with no memory peak, no
thread pool and no allocator history of earlier measurements, without paying the imports
again. ``clean=False`` forks this process (cheap; for quick checks of the output only).
"""
from __future__ import annotations

import multiprocessing as mp
from typing import Callable

PROBE_MODULES = ["flexseg.benchmark.memory", "flexseg.benchmark.step_spread"]


def _child(fn: Callable[..., dict], kwargs: dict, connection) -> None:
    try:
        connection.send(("ok", fn(**kwargs)))
    except BaseException as error:  # reported in the parent, which has the context
        connection.send(("error", f"{type(error).__name__}: {error}"))
    finally:
        connection.close()


def run_fresh(fn: Callable[..., dict], kwargs: dict, clean: bool = True) -> dict:
    """``fn(**kwargs)`` in a new process; ``fn`` must be a module-level function."""
    if clean:
        context = mp.get_context("forkserver")
        context.set_forkserver_preload(PROBE_MODULES)
    else:
        context = mp.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(fn, kwargs, sender))
    process.start()
    sender.close()
    try:
        status, result = receiver.recv()
    except EOFError:  # killed, or out of memory
        process.join()
        status = "error"
        result = f"the process ended without a result (exit code {process.exitcode})"
    process.join()
    if status != "ok":
        raise RuntimeError(f"{fn.__name__} failed in its own process: {result}")
    return result
