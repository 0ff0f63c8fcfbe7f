"""The HTTP server: ``POST /predict``, ``GET /choices``, ``GET /health``, the web page and its
sample images, around one ``ModelWorker``.

A request's deadline runs from the moment its handler starts. The order of work keeps refusals
cheap: the controller is asked before the upload is decoded (refused at once if not even the
fastest choice can make it), again when the prepared image joins the queue, and once more by
the worker right before it runs. An answer ready after its deadline is not sent (503): a client
never gets a late answer, only a prompt refusal.
"""
from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from .images import UploadError, check_content_type, decode_image, mask_png, mask_rle, png_base64
from .model import ServedModel, controller_options
from .worker import ModelWorker, Outcome

PAGE = Path(__file__).parent / "page"
FORMATS = ("png", "rle")
SAMPLE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


def refusal(message: str, stage: str) -> JSONResponse:
    """A 503 saying at which stage the deadline was given up: 'arrival' (at once), 'queue'
    (the worker's second look) or 'late' (an answer withheld)."""
    return JSONResponse({"error": message, "stage": stage}, status_code=503,
                        headers={"Retry-After": "1"})


class Stats:
    """Counters shown by ``/health``: answers per choice, refusals by stage, late answers
    withheld, bad uploads, model failures, clients gone."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.choices: Counter[str] = Counter()

    def as_dict(self) -> dict:
        return {**{key: self.counts[key] for key in
                   ("answered", "refused", "late", "bad_upload", "failed", "gone")},
                "choices": dict(self.choices)}


def _deadline_ms(raw: str | None, slo_ms: float) -> float:
    if raw is None or raw == "":
        return slo_ms
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise UploadError(400, f"deadline_ms must be a positive number of milliseconds, got "
                               f"{raw!r}")
    return value


def _samples(folder: str | Path | None, limit: int = 12) -> dict[str, Path]:
    if folder is None or not Path(folder).is_dir():
        return {}
    files = sorted(path for path in Path(folder).iterdir()
                   if path.suffix.lower() in SAMPLE_SUFFIXES)
    return {path.name: path for path in files[:limit]}


async def _read_upload(request: Request, max_bytes: int) -> tuple[bytes, str | None, dict]:
    """The image bytes, their declared type and the form's other fields: from
    multipart/form-data (file field ``image``) or from a raw image body."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > max_bytes:
        raise UploadError(413, f"the upload is {int(length)} bytes; the limit is {max_bytes}")
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        if length is None:
            raise UploadError(411, "a multipart upload needs a Content-Length")
        form = await request.form(max_files=1, max_fields=8)
        upload = form.get("image")
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
        if upload is None or isinstance(upload, str):
            raise UploadError(400, "the form has no file field 'image'")
        data = await upload.read()
        await form.close()
        return data, upload.content_type, fields
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > max_bytes:
            raise UploadError(413, f"the upload is over the limit of {max_bytes} bytes")
    return bytes(data), content_type, {}


async def _until_disconnected(request: Request) -> None:
    """Returns when the client has gone (the body is read by then, so the next ASGI message
    is the disconnect)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def create_app(model: ServedModel, slo_ms: float, margin_ms: float = 5.0,
               max_side: int = 4096, max_bytes: int = 32 * 2 ** 20,
               samples: str | Path | None = None) -> FastAPI:
    """The server of ``model`` (module docstring). ``slo_ms``: the deadline of a request that
    gives none; ``margin_ms``: kept free of every deadline for decoding the answer and
    sending it; ``max_side``: the largest image side accepted; ``samples``: a folder whose
    first images the web page offers."""
    options = controller_options(model)
    worker = ModelWorker(model, options, margin_ms)
    stats = Stats()
    sample_files = _samples(samples)

    async def lifespan(app: FastAPI):
        worker.start()
        yield
        await run_in_threadpool(worker.stop)

    app = FastAPI(title="flexseg", lifespan=lifespan)
    app.state.worker = worker
    app.state.stats = stats
    app.mount("/page", StaticFiles(directory=PAGE), name="page")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail))  # one shape for every error

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(PAGE / "index.html")

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "in_queue": worker.queued(),
                "backlog_ms": round(worker.backlog().wait_ms, 3), **stats.as_dict()}

    @app.get("/choices")
    async def choices() -> dict:
        """The space as profiled, and each choice's p95 as the server expects it now (the
        profile's, raised by calibration when the machine runs slower)."""
        expected = {option.id: option.p95_ms for option in worker.options}
        return {"metric": model.metric_name, "higher_is_better": model.higher_is_better,
                "slo_ms": slo_ms, "margin_ms": margin_ms, "input_size": list(model.input_hw),
                "choices": [dict(id=c.id, gflops=c.gflops, median_ms=c.median_ms,
                                 p95_ms=c.p95_ms, expected_p95_ms=expected[c.id],
                                 metric=c.metric) for c in model.choices]}

    @app.get("/samples")
    async def sample_list() -> list[str]:
        return list(sample_files)

    @app.get("/samples/{name}")
    async def sample(name: str):
        if name not in sample_files:
            return error(404, f"no sample image {name!r}")
        return FileResponse(sample_files[name])

    def prepare(data: bytes) -> tuple[object, tuple[int, int]]:
        image = decode_image(data, max_side)
        return model.prepare(image), image.shape[:2]

    def encode(labels: np.ndarray, size: tuple[int, int], form: str) -> dict:
        if labels.shape != size:
            labels = cv2.resize(labels, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
        if form == "rle":
            return {"format": "rle", "size": list(size), "classes": mask_rle(labels)}
        return {"format": "png", "size": list(size),
                "data": png_base64(mask_png(labels, model.palette))}

    async def wait_for(request: Request, prepared: object, deadline: float
                       ) -> Outcome | None:
        """Queue the prepared image; the outcome (a refusal at admission is one without a
        choice), or None if the client went away first."""
        loop = asyncio.get_running_loop()
        result: asyncio.Future[Outcome] = loop.create_future()

        def done(outcome: Outcome) -> None:
            loop.call_soon_threadsafe(
                lambda: result.done() or result.set_result(outcome))

        decision, job = worker.submit(prepared, deadline, done)
        if job is None:
            return Outcome(None, None, 0.0, reason=decision.reason, queued=False)
        gone = asyncio.ensure_future(_until_disconnected(request))
        try:
            await asyncio.wait({result, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
        if not result.done():
            job.cancelled = True
            return None
        return result.result()

    @app.post("/predict")
    async def predict(request: Request):
        arrival = time.monotonic()
        try:
            data, content_type, fields = await _read_upload(request, max_bytes)
        except ClientDisconnect:
            stats.counts["gone"] += 1
            return error(499, "the client went away")
        except UploadError as bad:
            stats.counts["bad_upload"] += 1
            return error(bad.status, str(bad))
        try:
            deadline_ms = _deadline_ms(request.query_params.get("deadline_ms",
                                                                fields.get("deadline_ms")),
                                       slo_ms)
            form = request.query_params.get("format", fields.get("format", "png"))
            if form not in FORMATS:
                raise UploadError(400, f"format must be {' or '.join(FORMATS)}, got {form!r}")
            check_content_type(content_type)
        except UploadError as bad:
            stats.counts["bad_upload"] += 1
            return error(bad.status, str(bad))
        deadline = arrival + deadline_ms / 1000
        early = worker.admit(deadline)
        if early.choice is None:
            stats.counts["refused"] += 1
            return refusal(early.reason, "arrival")
        try:
            prepared, size = await run_in_threadpool(prepare, data)
        except UploadError as bad:
            stats.counts["bad_upload"] += 1
            return error(bad.status, str(bad))
        outcome = await wait_for(request, prepared, deadline)
        if outcome is None:
            stats.counts["gone"] += 1
            return error(499, "the client went away")
        if outcome.choice is None:
            stats.counts["refused"] += 1
            return refusal(outcome.reason, "queue" if outcome.queued else "arrival")
        if outcome.labels is None:
            stats.counts["failed"] += 1
            return error(500, outcome.reason)
        mask = await run_in_threadpool(encode, outcome.labels, size, form)
        latency_ms = 1000 * (time.monotonic() - arrival)
        if latency_ms > deadline_ms:
            stats.counts["late"] += 1
            return refusal(f"the answer was ready {latency_ms - deadline_ms:.1f} ms after "
                           f"the {deadline_ms:g} ms deadline; not sent late", "late")
        stats.counts["answered"] += 1
        stats.choices[outcome.choice] += 1
        return {"choice": outcome.choice, "latency_ms": round(latency_ms, 3),
                "model_ms": round(outcome.model_ms, 3), "queue_ms": round(outcome.queue_ms, 3),
                "deadline_ms": deadline_ms, "mask": mask}

    return app


def serve(app: FastAPI, host: str = "127.0.0.1", port: int = 8000,
          drain_s: float = 30.0, log_level: str = "warning") -> None:
    """Run ``app`` with uvicorn until SIGINT/SIGTERM: new connections stop, requests in
    flight finish (each within its deadline), then the model thread ends."""
    import uvicorn

    # uvicorn delivers the stopping signal again once it has drained (to die by it); the
    # server has done its job by then, so that second delivery is ignored and it exits 0.
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, lambda *_: None)
    uvicorn.run(app, host=host, port=port, log_level=log_level,
                timeout_graceful_shutdown=drain_s)

