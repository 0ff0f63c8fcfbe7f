"""Every command of docs/serving.md runs, in order, at a tiny setting: the tiny segmentor stands
in for the main job under the documented paths, the small DigitSeg set for data/digitseg. The
server runs as the guide starts it, the curl commands ask it, the load test runs for a second
per load, and SIGTERM stops the server with status 0."""
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.request

from tests.conftest import REPO, free_port
from tests.deploy.conftest import tiny_checkpoint  # noqa: F401  (fixture)
from tests.deploy.test_docs import main_job_sandbox, run_tool

GUIDE = REPO / "docs/serving.md"


def commands(text: str) -> list[str]:
    found = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        found += [line for line in block.replace("\\\n", " ").splitlines() if line.strip()]
    return found


def wait_for_health(port: int, process: subprocess.Popen) -> None:
    end = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5).read()
            return
        except OSError:
            assert process.poll() is None, process.stdout.read()
            assert time.monotonic() < end, "the server did not start"
            time.sleep(0.1)


def test_the_serving_guide_runs(monkeypatch, tmp_path, small_digitseg, tiny_checkpoint):
    main_job_sandbox(tmp_path, small_digitseg, tiny_checkpoint)
    monkeypatch.chdir(tmp_path)

    port = free_port()
    text = GUIDE.read_text()
    tiny = {"deadline_ms=50": "deadline_ms=3000", "--port 8000": f"--port {port}",
            "127.0.0.1:8000": f"127.0.0.1:{port}",
            "--duration 20": "--duration 1 --loads 2 --fixed p8 --slices 1 "
                             "--memory-requests 30"}
    for documented, replacement in tiny.items():
        assert documented in text, documented
        text = text.replace(documented, replacement)
    server = None
    outputs = []
    try:
        for command in commands(text):
            words = shlex.split(command)
            environment = {}
            while "=" in words[0] and not words[0].startswith("-"):
                key, _, value = words.pop(0).partition("=")
                environment[key] = value
            if words[:2] == ["python", "tools/serve.py"]:
                server = subprocess.Popen([sys.executable, *words[1:]],
                                          env={**os.environ, **environment},
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                          text=True)
                wait_for_health(port, server)
            elif words[0] == "python":
                for key, value in environment.items():
                    monkeypatch.setenv(key, value)
                run_tool(monkeypatch, words)
            else:
                assert words[0] == "curl", command
                result = subprocess.run(words, capture_output=True, text=True, timeout=60)
                assert result.returncode == 0, result.stderr
                outputs.append(json.loads(result.stdout))
        assert server is not None
        server.send_signal(signal.SIGTERM)
        assert server.wait(30) == 0
    finally:
        if server is not None and server.poll() is None:
            server.kill()
    choices, raw, form, health = outputs
    assert [c["id"] for c in choices["choices"]] == ["p16", "p8", "p4"]
    assert all(c["metric"] is not None for c in choices["choices"])  # --results merged
    assert raw["choice"] in ("p16", "p8", "p4") and raw["mask"]["format"] == "png"
    assert form["mask"]["format"] == "rle" and form["mask"]["size"] == [64, 64]
    assert health["answered"] >= 2
    table = (tmp_path / "work_dirs/serving/serving.md").read_text()
    assert "| 2x | fixed p8 |" in table and "| 2x | adaptive |" in table
    assert "Refusal latency" in table and "every choice warm" in table
