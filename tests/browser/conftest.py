"""One real JupyterLab and one Chromium for the whole browser suite.

The server serves a scratch folder laid out as a learner (and an instructor) would see it:

    <root>/START_HERE.ipynb, <root>/<lesson>/...   a copy of notebooks/ (as the learner's
                                                   workspace work/both/, which `make lab`
                                                   serves, starts)
    <root>/solutions/<lesson>/...                  a copy of solutions/
    <root>/editions/zh/...                         `course edition --lang zh`

and runs from the course root, like `make lab`, so that nbgrader's Validate finds
nbgrader_config.py. JupyterLab's settings come from ``autograder.lab.setup`` but are written
into scratch folders, so the tests neither depend on nor change this machine's settings.
Whatever the session does, notebooks/ (tracked by git) must be as it was before.

Without /usr/bin/chromium the suite skips, except in CI (``CI=true``) where it fails.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from autograder.authoring.edition import build_edition
from autograder.config import RELEASE_DIR, ROOT, SOURCE_DIR
from autograder.lab import setup as labsetup

CHROMIUM = Path(os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
SERVER_START_S = 90
ZH_KERNEL = "python3-course-zh"  # a kernelspec with COURSE_LANG=zh


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def require(ok: bool, why: str) -> None:
    """Skip with ``why`` when ``ok`` is false; in CI, fail instead."""
    if ok:
        return
    if in_ci():
        pytest.fail(f"{why} (CI=true: the browser tests must run here)", pytrace=False)
    pytest.skip(why)


@pytest.fixture(scope="session")
def playwright_api():
    require(
        CHROMIUM.exists(),
        f"the browser tests drive Debian's Chromium and {CHROMIUM} is missing "
        "(apt-get install chromium fonts-wqy-microhei)",
    )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        require(False, f"Playwright for Python is not installed ({exc})")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright_api):
    browser = playwright_api.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    settings: Path  # the learner's own JupyterLab settings (Settings menu, language)
    log: Path

    def api(self, path: str) -> str:
        return f"{self.url}{path}{'&' if '?' in path else '?'}token={self.token}"


def fresh_artifacts() -> None:
    """Empty test-artifacts/browser/ once per test run.

    Should xdist split the browser tests over workers (each then starts its own JupyterLab),
    the second must not delete the first one's screenshots: the run's id decides.
    """
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"pid-{os.getpid()}"
    with (ARTIFACTS / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        marker = ARTIFACTS / ".run"
        if marker.is_file() and marker.read_text() == run:
            return
        for old in [*ARTIFACTS.glob("*.png"), *ARTIFACTS.glob("*.log")]:
            old.unlink()
        marker.write_text(run)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _kernels_of(runtime: Path) -> list[int]:
    """Kernel processes started for this server: their command line names our runtime dir."""
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if str(runtime) in cmdline and "kernel" in cmdline:
            pids.append(int(proc.name))
    return pids


@pytest.fixture(scope="session")
def lab(playwright_api, tmp_path_factory):
    """A real `jupyter lab` on 127.0.0.1, serving scratch copies of the course."""
    from tests.test_workspace import release_state

    released = release_state()
    base = tmp_path_factory.mktemp("jupyterlab")
    root = base / "root"
    shutil.copytree(ROOT / RELEASE_DIR, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copytree(
        ROOT / SOURCE_DIR, root / "solutions", ignore=shutil.ignore_patterns(".ipynb_checkpoints")
    )
    build_edition("zh", out=root / "editions" / "zh")

    # What `make lab` prepares (autograder.lab.setup), in scratch folders.
    app_settings, config_dir, exchange_root = base / "app-settings", base / "etc", base / "course"
    labsetup.write_lab_overrides(app_settings, lang="both")
    labsetup.write_nbgrader_config(config_dir, root=exchange_root)
    labsetup.write_self_study_config(config_dir)  # studying alone: no Assignment List
    (exchange_root / ".exchange").mkdir(parents=True)

    # A kernel that speaks Chinese, as under `COURSE_LANG=zh make lab` (a notebook may not set
    # COURSE_LANG itself: the course's guard forbids changing the kernel's environment).
    zh_kernel = base / "jupyter-data" / "kernels" / ZH_KERNEL
    zh_kernel.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (COURSE_LANG=zh)",
        "language": "python",
        "env": {"COURSE_LANG": "zh"},
    }
    (zh_kernel / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")

    fresh_artifacts()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    log = ARTIFACTS / f"jupyter-server{'-' + worker if worker else ''}.log"
    runtime = base / "runtime"
    unset = {"COURSE_LANG", "COURSE_GRADER_SEED", *labsetup.HUB_ENV}
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(
        JUPYTER_CONFIG_PATH=str(config_dir),
        JUPYTER_PATH=str(base / "jupyter-data"),
        JUPYTER_RUNTIME_DIR=str(runtime),
        JUPYTERLAB_SETTINGS_DIR=str(base / "user-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    port, token = _free_port(), secrets.token_hex(16)
    cmd = [
        str(Path(sys.executable).parent / "jupyter"),
        "lab",
        "--no-browser",
        "--allow-root",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.app_settings_dir={app_settings}",
    ]
    with log.open("w") as out:
        server = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    lab = Lab(f"http://127.0.0.1:{port}", token, root, base / "user-settings", log)
    try:
        deadline = time.monotonic() + SERVER_START_S
        while not _answers(lab.api("/api/status")):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"jupyter lab did not start:\n{log.read_text()[-3000:]}", pytrace=False)
            time.sleep(0.5)
        yield lab
    finally:
        # A clean shutdown stops the kernels too; then make sure nothing of ours is left.
        try:
            urllib.request.urlopen(
                urllib.request.Request(lab.api("/api/shutdown"), method="POST"), timeout=10
            )
        except (urllib.error.URLError, OSError):
            pass
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        for pid in _kernels_of(runtime):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert release_state() == released, "the browser session changed notebooks/ (git status)"


VIEWPORT = {"width": 1400, "height": 900}


@pytest.fixture
def context(browser):
    """A browser context of its own (for a test that changes the page, e.g. its language)."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(30_000)
    yield context
    context.close()


@pytest.fixture
def offline(browser):
    """A context with the network off and every request but a file's refused; ``asked`` lists
    what a page tried to fetch (a page the course writes must need nothing)."""
    context = browser.new_context(viewport=VIEWPORT, offline=True)
    context.asked = []

    def only_files(route) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            context.asked.append(route.request.url)
            route.abort()

    context.route("**/*", only_files)
    yield context
    context.close()


@pytest.fixture(scope="session")
def shared_page(browser, lab):
    """One JupyterLab page for the suite: loading JupyterLab costs seconds of CPU each time."""
    from tests.browser.jlab import open_lab

    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(30_000)
    page = context.new_page()
    open_lab(lab, page, "tests")
    yield page
    context.close()


@pytest.fixture
def page(shared_page):
    """The shared JupyterLab page; a dialog a failed test left open is dismissed afterwards."""
    from tests.browser.jlab import dismiss_dialogs

    yield shared_page
    dismiss_dialogs(shared_page)
