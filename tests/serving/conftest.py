"""A fake served model of known timing (it sleeps, releasing the GIL as torch does) whose label
map says which choice ran, and a server of any app on a free loopback port in a thread."""
from __future__ import annotations

import contextlib
import threading
import time

import numpy as np
import pytest

from flexseg.serving.model import ServedChoice
from tests.conftest import free_port

# (id, GFLOPs, median ms, p95 ms, mIoU): p4 is slower and worse than p8, as in the main job.
FAKE_CHOICES = (("p16", 0.1, 20.0, 24.0, 10.0), ("p8", 0.3, 40.0, 48.0, 45.0),
                ("p4", 0.9, 80.0, 96.0, 35.0))


class FakeModel:
    """``ServedModel`` whose runs sleep each choice's median and whose label map is the
    choice's index everywhere (so an answer shows which choice made it)."""

    def __init__(self, choices=FAKE_CHOICES, input_hw=(16, 16), slow=1.0) -> None:
        self.choices = [ServedChoice(*row) for row in choices]
        self.metric_name, self.higher_is_better = "mIoU", True
        self.input_hw = input_hw
        self.palette = [[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]]
        self.slow = slow  # multiplies every sleep: a machine that got slower
        self.runs: list[str] = []
        self.fail_on: str | None = None

    def index(self, choice: str) -> int:
        return [c.id for c in self.choices].index(choice) + 1

    def prepare(self, image: np.ndarray) -> np.ndarray:
        return image

    def run(self, prepared: np.ndarray, choice: str) -> np.ndarray:
        if choice == self.fail_on:
            raise RuntimeError("out of memory")
        median = next(c.median_ms for c in self.choices if c.id == choice)
        time.sleep(self.slow * median / 1000)
        self.runs.append(choice)
        return np.full(self.input_hw, self.index(choice), np.uint8)


@pytest.fixture
def fake_model() -> FakeModel:
    return FakeModel()


@contextlib.contextmanager
def running(app):
    """Serve ``app`` on 127.0.0.1:<free port> in a thread; yields the port."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(30)
