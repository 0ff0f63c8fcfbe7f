"""Run a measurement in a process of its own, for what a process cannot reset: its peak
resident memory, its allocator's settings, its thread pools.

``clean=True`` forks the child from a server process that has imported the probe modules and
run nothing else (multiprocessing's forkserver), so the child starts with no memory peak, no
thread pool and no allocator history of earlier measurements, without paying the imports
again; a child that needs environment variables read at start-up (OpenMP's) is spawned as a
new interpreter instead. ``clean=False`` forks this process (cheap; for quick checks of the
output only; the environment is not applied).
"""
from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
from typing import Callable, Iterator

PROBE_MODULES = ["benchmarks.memory", "benchmarks.step_spread"]


def _child(fn: Callable[..., dict], kwargs: dict, connection) -> None:
    try:
        connection.send(("ok", fn(**kwargs)))
    except BaseException as error:  # reported in the parent, which has the context
        connection.send(("error", f"{type(error).__name__}: {error}"))
    finally:
        connection.close()


@contextlib.contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    previous = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                del os.environ[name]
            else:
                os.environ[name] = value


def run_fresh(fn: Callable[..., dict], kwargs: dict, clean: bool = True,
              env: dict[str, str] | None = None) -> dict:
    """``fn(**kwargs)`` in a new process started with ``env`` set (if ``clean``); ``fn`` must
    be a module-level function."""
    if clean and env:
        context = mp.get_context("spawn")
    elif clean:
        context = mp.get_context("forkserver")
        context.set_forkserver_preload(PROBE_MODULES)
    else:
        context = mp.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(fn, kwargs, sender))
    with _environment(env if clean and env else {}):
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
