"""Serve one flexible segmentation model over HTTP, choosing a choice per request by deadline.

    python tools/serve.py CONFIG CHECKPOINT --profile PROFILE.json [--host 127.0.0.1]
        [--port 8000] [--slo-ms MS] [--margin-ms 5] [--choices p16,p8] [--samples DIR]
        [--max-side 4096] [--threads N]

POST /predict (an image, optional deadline_ms, format png|rle) answers with the mask, the
choice used and the measured latency, or refuses at once (503) when no choice can make the
deadline; GET /choices, GET /health; the web page at /. The profile (tools/profile_latency.py
--batch 1, best with --results so that choices are ranked by their metric) must be measured on
this machine with the threads the server uses. SIGTERM or Ctrl-C: requests in flight finish,
then the server exits.
"""
import argparse
import time

import flexseg  # noqa: F401  (registers the models)
from flexseg.cli import run_cli
from flexseg.deploy.latency import load_profile_for
from flexseg.layers.checks import check_int, check_number


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve a flexible model with deadlines")
    parser.add_argument("config", help="config of the flexible segmentor")
    parser.add_argument("checkpoint", help="its checkpoint")
    parser.add_argument("--profile", help="latency profile of this model on this machine "
                        "(tools/profile_latency.py --batch 1)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--slo-ms", type=float, help="deadline of requests that give none "
                        "(default: twice the slowest choice's p95 plus the margin)")
    parser.add_argument("--margin-ms", type=float, default=5.0,
                        help="kept free of every deadline for the work around the model")
    parser.add_argument("--choices", help="serve only these choice ids (comma-separated), "
                        "e.g. one for a fixed-choice server")
    parser.add_argument("--samples", help="folder of sample images for the web page "
                        "(default: the config's test images, if present)")
    parser.add_argument("--max-side", type=int, default=4096,
                        help="largest image side accepted, in pixels")
    parser.add_argument("--threads", type=int, help="intra-op threads of the model "
                        "(default: torch's, i.e. OMP_NUM_THREADS)")
    return parser.parse_args()


def main() -> None:
    began = time.perf_counter()
    args = parse_args()
    port = check_int("--port", args.port, 0)
    max_side = check_int("--max-side", args.max_side, 1)
    margin_ms = check_number("--margin-ms", args.margin_ms, minimum=0)
    if args.slo_ms is not None:
        check_number("--slo-ms", args.slo_ms, positive=True)
    profile = load_profile_for("tools/serve.py", args.profile)
    keep = [key for key in args.choices.split(",") if key] if args.choices else None
    import torch

    from flexseg.deploy.inferencer import FlexInferencer
    from flexseg.serving.app import create_app, serve
    from flexseg.serving.model import (InferencerModel, choices_from_profile, default_slo_ms,
                                       test_images)

    choices_from_profile(profile, keep)  # bad --choices or batch: one line before loading
    if args.threads is not None:
        torch.set_num_threads(check_int("--threads", args.threads, 1))
    inferencer = FlexInferencer(args.config, args.checkpoint, profile=profile)
    model = InferencerModel(inferencer, profile, keep)
    slo_ms = args.slo_ms or default_slo_ms(model.choices, margin_ms)
    app = create_app(model, slo_ms, margin_ms, max_side,
                     samples=args.samples or test_images(inferencer.cfg))
    served = ", ".join(f"{c.id} {c.p95_ms:.1f} ms" for c in model.choices)
    print(f"serving {served} (p95) with a {slo_ms:g} ms default deadline on "
          f"http://{args.host}:{port} (ready in {time.perf_counter() - began:.1f} s)",
          flush=True)
    serve(app, args.host, port)
    print("server stopped", flush=True)


if __name__ == "__main__":
    run_cli(main)
