"""A real JupyterHub for the hub tests: system users, nbgrader's exchange, the course service.

Runs as root on loopback (it creates users and starts servers as them), with PostgreSQL for
the course gradebook ($COURSE_TEST_POSTGRES, as .ci/run provides) and Debian's Chromium.
Without those the tests skip and say why; under CI=true they fail instead
(``tests.browser.conftest.require``).

Chromium is driven from a thread of its own (:class:`BrowserThread`): Playwright's sync API
cannot run twice in one thread, and the browser suite may hold one in this test process.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from autograder.config import ROOT
from autograder.lab import hub as hublib
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, _free_port, require

ARTIFACTS = ROOT / "test-artifacts" / "hub"
LEARNERS = ["learner1", "learner2"]
INSTRUCTOR = "instructor"


class BrowserThread:
    """One Chromium, used only from one thread: ``run(fn, *args)`` calls ``fn(browser, *args)``
    there and returns its result (or raises its exception)."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub-browser")
        self._pool.submit(self._start).result()

    def _start(self) -> None:
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        self.browser = self._pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)

    def run(self, fn, *args):
        assert threading.current_thread().name != "hub-browser"
        return self._pool.submit(fn, self.browser, *args).result()

    def close(self) -> None:
        def _stop(_browser=None):
            self.browser.close()
            self._pw.stop()

        self._pool.submit(_stop).result()
        self._pool.shutdown()


def _fresh_home(user: str) -> None:
    """Start each run with an empty home: fetched lessons and feedback of an earlier run go."""
    import pwd

    try:
        home = Path(pwd.getpwnam(user).pw_dir)
    except KeyError:
        return
    if home.is_dir() and home.parent == Path("/home"):
        shutil.rmtree(home)


def _database(url: str, name: str, create: bool) -> None:
    import psycopg2

    conn = psycopg2.connect(f"{url}/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        if create:
            cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()


@pytest.fixture(scope="module")
def browser_thread():
    require(
        CHROMIUM.exists(),
        f"the hub tests drive Debian's Chromium and {CHROMIUM} is missing (apt-get install chromium)",
    )
    try:
        import playwright  # noqa: F401
    except ImportError as exc:
        require(False, f"Playwright for Python is not installed ({exc})")
    bt = BrowserThread()
    yield bt
    bt.close()


@pytest.fixture(scope="module")
def hub(browser_thread):
    """JupyterHub on 127.0.0.1 with learner1, learner2 and the instructor; lesson files from
    the checkout; the gradebook in a fresh PostgreSQL database."""
    require(
        os.geteuid() == 0, "the hub tests create system users and run servers as them: run as root"
    )
    require(shutil.which("useradd") is not None, "the hub tests need useradd (Debian's passwd)")
    require(
        hublib.PROXY.exists() or shutil.which("npm") is not None,
        "the hub needs configurable-http-proxy: install Node.js and npm (apt-get install nodejs npm)",
    )
    pg = os.environ.get("COURSE_TEST_POSTGRES", "").rstrip("/")
    require(
        bool(pg), "the hub's gradebook is PostgreSQL: set COURSE_TEST_POSTGRES (.ci/run starts one)"
    )
    db = f"course_hub_{secrets.token_hex(4)}"
    try:
        _database(pg, db, create=True)
    except Exception as exc:  # psycopg2.OperationalError: no server there
        require(False, f"no PostgreSQL at COURSE_TEST_POSTGRES={pg}: {exc}")

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in [*ARTIFACTS.glob("*.png"), *ARTIFACTS.glob("*.log*")]:
        old.unlink()
    base = Path(tempfile.mkdtemp(prefix="course-hub-", dir="/tmp"))
    os.chmod(base, 0o755)  # the users reach the exchange and the course folder through it
    passwords = {u: secrets.token_urlsafe(12) for u in [INSTRUCTOR, *LEARNERS]}
    for user in [INSTRUCTOR, *LEARNERS, hublib.GRADER]:
        _fresh_home(user)
    s = hublib.settings_for(
        base,
        LEARNERS,
        INSTRUCTOR,
        f"{pg}/{db}",
        port=_free_port(),
        hub_port=_free_port(),
        proxy_api_port=_free_port(),
        service_port=_free_port(),
    )
    hublib.prepare(s, passwords)
    running = hublib.start(s, ARTIFACTS / "jupyterhub.log")
    try:
        yield Hub(s, passwords, running)
    finally:
        hublib.stop(running)
        shutil.rmtree(base, ignore_errors=True)
        try:
            _database(pg, db, create=False)
        except Exception:
            pass


class Hub:
    def __init__(self, settings: hublib.HubSettings, passwords: dict[str, str], running) -> None:
        self.settings, self.passwords, self.running = settings, passwords, running
        self.url = settings.url
        self.course = Path(settings.course)
        self.exchange = Path(settings.exchange) / hublib.COURSE_ID

    def as_grader(self, *argv: str) -> subprocess.CompletedProcess:
        return hublib.as_grader(self.settings, list(argv))

    def as_user(self, user: str, command: str) -> subprocess.CompletedProcess:
        """A shell command run as ``user`` (su), for what that user may or may not read."""
        return subprocess.run(
            ["su", user, "-s", "/bin/sh", "-c", command], capture_output=True, text=True, timeout=60
        )


__all__ = ["ARTIFACTS", "INSTRUCTOR", "LEARNERS", "VIEWPORT", "Hub"]
