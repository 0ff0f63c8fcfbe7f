"""Serving one flexible model under changing load: a deadline-aware controller (pure), the
model worker and its queue, the HTTP server with its web page (``tools/serve.py``), and an
open-loop load generator for loopback benchmarks.

The HTTP parts need the ``serve`` extra (FastAPI, uvicorn); import them from their modules.
"""
