"""tools/serve.py as a user runs it: a subprocess serving the tiny FlexiViT segmentor on
127.0.0.1, started without network in under 30 s. The web page works in headless Chromium
(upload, move the latency slider, a new mask and choice appear, the chart marks the choice);
SIGTERM under load drains what is in flight and exits cleanly without a late answer; resident
memory stays flat over hundreds of requests; bad command lines stop in one line.

The profile is written by hand with latencies well above what the tiny model takes, so which
choice a budget gets does not depend on how loaded the machine is (the worker's calibration
only ever raises profiled latencies)."""
from __future__ import annotations

import contextlib
import os
import runpy
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from flexseg.serving.loadtest import post_image, resident_mb
from tests.conftest import REPO, free_port
from tests.deploy.conftest import profile_of, tiny_cfg  # noqa: F401
from tests.evaluation.conftest import tiny_checkpoint  # noqa: F401  (fixture)
from tests.serving.test_app import health, png

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# p16 fastest and worst, p8 best, p4 slower and worse than p8 (as in the main job).
PROFILE_MS = {"p16": 30.0, "p8": 60.0, "p4": 120.0}
PROFILE_METRIC = {"p16": 20.0, "p8": 45.0, "p4": 40.0}


@pytest.fixture(scope="module")
def served_files(tmp_path_factory, small_digitseg, tiny_checkpoint):
    """(config, checkpoint, profile, samples folder) of the tiny segmentor."""
    root = tmp_path_factory.mktemp("serve")
    config = root / "tiny.py"
    tiny_cfg(**{"test_dataloader.dataset.data_root": str(small_digitseg)}).dump(str(config))
    profile = root / "profile.json"
    profile_of(PROFILE_MS, {"p16": 0.1, "p8": 0.3, "p4": 0.9}, PROFILE_METRIC).save(profile)
    return config, tiny_checkpoint, profile, small_digitseg / "images/validation"


@contextlib.contextmanager
def server(files, *extra: str):
    """tools/serve.py in a subprocess on a free port; yields (process, port). Asserts that
    it is ready within 30 s."""
    config, checkpoint, profile, _ = files
    port = free_port()
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "tools/serve.py", str(config), str(checkpoint), "--profile",
         str(profile), "--port", str(port), "--margin-ms", "5", *extra], cwd=REPO,
        env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    began, lines = time.monotonic(), []
    try:
        for line in process.stdout:
            lines.append(line)
            if line.startswith("serving "):
                break
        assert lines and lines[-1].startswith("serving "), "".join(lines)
        while True:  # the model is warmed up, then the socket opens
            with contextlib.suppress(OSError):
                health(port)
                break
            assert process.poll() is None, "".join(lines)
            time.sleep(0.05)
        assert time.monotonic() - began < 30, "the server took 30 s or more to start"
        threading.Thread(target=lambda: [lines.append(x) for x in process.stdout],
                         daemon=True).start()
        process.output = lines
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


@pytest.fixture(scope="module")
def page_server(served_files):
    with server(served_files) as running:
        yield running


def browser():
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip("Debian's chromium and chromium-driver are not installed "
                    "(tools/setup_env.sh installs them when run as root)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1100,900"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def test_the_web_page_in_headless_chromium(page_server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
    _, port = page_server
    driver = browser()
    try:
        driver.get(f"http://127.0.0.1:{port}/")
        wait = WebDriverWait(driver, 30)
        answered = lambda: int(driver.find_element(By.TAG_NAME, "body")
                               .get_attribute("data-answered") or 0)
        text = lambda element: driver.find_element(By.ID, element).text
        wait.until(lambda _: answered() >= 1 or text("status"))  # the first sample
        assert text("status") == "", text("status")
        (tmp_path / "upload.png").write_bytes(png(40, 30, 200))
        driver.find_element(By.ID, "upload").send_keys(str(tmp_path / "upload.png"))
        wait.until(lambda _: answered() >= 2 or text("status"))
        assert text("choice").startswith("p8")  # the best choice fits the widest budget
        mask_before = driver.find_element(By.ID, "mask").get_attribute("src")
        image_src = driver.find_element(By.ID, "image").get_attribute("src")
        assert image_src.startswith("blob:")

        slider = driver.find_element(By.ID, "budget")
        for attempt in range(3):  # a loaded machine may refuse the tightest budget: retry
            before = answered()
            slider.send_keys(Keys.END if attempt else Keys.HOME)
            slider.send_keys(Keys.HOME)  # the tightest budget
            wait.until(lambda _: answered() > before or "deadline" in text("status"))
            if answered() > before and text("choice").startswith("p16"):
                break
        assert text("status") == "", text("status")
        assert text("choice").startswith("p16") and text("choice-latency") == "45.0 ms"
        mask_after = driver.find_element(By.ID, "mask").get_attribute("src")
        assert mask_after.startswith("data:image/png;base64,") and mask_after != mask_before
        marked = driver.find_element(By.ID, "current-point").get_attribute("data-choice")
        assert marked == "p16"
        assert text("budget-label").endswith(" ms")
        assert len(driver.find_elements(By.CSS_SELECTOR, "#pareto circle.point")) == 3
        driver.save_screenshot(str(tmp_path / "page.png"))
        assert (tmp_path / "page.png").stat().st_size > 10_000
    finally:
        driver.quit()


def test_resident_memory_stays_flat(page_server):
    process, port = page_server
    body = png(64, 64, 90)
    for _ in range(100):  # warm: allocator pools, caches
        post_image(port, body, 1000)
    before = resident_mb(process.pid)
    replies = [post_image(port, body, 1000)[0] for _ in range(400)]
    growth = resident_mb(process.pid) - before
    assert replies.count(200) >= 300
    assert growth < 8, f"resident memory grew {growth:.1f} MiB over 400 requests"
    assert health(port)["in_queue"] == 0


def test_sigterm_under_load_drains_and_exits_cleanly(served_files):
    with server(served_files) as (process, port):
        stop = time.monotonic() + 3.0
        replies = []

        def client(_):
            while time.monotonic() < stop:  # bounded: 3 s
                began = time.monotonic()
                try:
                    status, answer = post_image(port, png(), 400, timeout_s=5)
                except OSError:
                    status, answer = 0, {}
                replies.append((status, answer, 1000 * (time.monotonic() - began)))
                if status == 0:
                    return
        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(client, i) for i in range(8)]
            time.sleep(1.0)
            process.send_signal(signal.SIGTERM)
            for future in futures:
                future.result()
        assert process.wait(20) == 0
    statuses = [status for status, _, _ in replies]
    assert statuses.count(200) >= 5 and set(statuses) <= {0, 200, 503}, statuses
    for status, answer, _ in replies:
        if status == 200:
            assert answer["latency_ms"] <= answer["deadline_ms"]
    assert "server stopped" in "".join(process.output)


def run_serve(monkeypatch, capsys, *argv: str) -> str:
    """tools/serve.py in this process (the models are imported already); its stderr."""
    monkeypatch.setattr(sys, "argv", ["tools/serve.py", *argv])
    with pytest.raises(SystemExit) as stopped:
        runpy.run_path(str(REPO / "tools/serve.py"), run_name="__main__")
    assert stopped.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (["--choices", "p3"], "unknown choice p3; the profile has p16, p8, p4"),
    (["--slo-ms", "-1"], "--slo-ms must be"),
])
def test_bad_command_lines_stop_in_one_line(monkeypatch, capsys, served_files, extra,
                                            message):
    config, checkpoint, profile, _ = served_files
    err = run_serve(monkeypatch, capsys, str(config), str(checkpoint), "--profile",
                    str(profile), *extra)
    assert f"error: {message}" in err and "Traceback" not in err


def test_a_profile_is_required(monkeypatch, capsys, served_files):
    config, checkpoint, _, _ = served_files
    err = run_serve(monkeypatch, capsys, str(config), str(checkpoint))
    assert "error: tools/serve.py needs --profile PROFILE.json" in err


def test_the_page_is_served_locally(page_server):
    """Nothing the page loads comes from another host."""
    _, port = page_server
    page = (REPO / "flexseg/serving/page")
    for name in ("index.html", "page.js", "page.css"):
        text = (page / name).read_text()
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, name
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/page/page.js", timeout=10) as reply:
        assert reply.read() == (page / "page.js").read_bytes()
    assert Path(page / "index.html").is_file()
