"""A real JupyterHub for the hub tests: system users, nbgrader's exchange, the course service.

Runs as root on loopback (it creates users and starts servers as them), with PostgreSQL for
the course gradebook ($COURSE_TEST_POSTGRES, as .ci/run provides) and Debian's Chromium.
Without those the tests skip and say why; under CI=true they fail instead
(``tests.browser.conftest.require``).

Chromium is driven from a thread of its own (:class:`BrowserThread`): Playwright's sync API
cannot run twice in one thread, and the browser suite may hold one in this test process.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from autograder.config import ROOT
from autograder.lab import hub as hublib
from tests import readme_commands as rc
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


MAKE_HUB_S = 300  # make may first bring .venv up to date; then the hub and the course service
READY = "Ctrl+C stops the hub"
LOGIN = re.compile(r"^\s+(\S+)\s+password · 密码\s+(\S+)\s*$", re.M)


@pytest.fixture(scope="module")
def hub_args() -> list[str]:
    """More `course hub` options for a module's hub (a module overrides this fixture)."""
    return []


@pytest.fixture(scope="module")
def hub(browser_thread, hub_args):
    """The README's `make hub` (as root, on 127.0.0.1): learner1, learner2 and the instructor,
    lessons from the checkout, the gradebook in a fresh PostgreSQL database, the grading
    service. The logins are read from what it prints."""
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
    for old in [*ARTIFACTS.glob("*.png"), *ARTIFACTS.glob("*.log*"), *ARTIFACTS.glob("*.json")]:
        old.unlink()
    base = Path(tempfile.mkdtemp(prefix="course-hub-", dir="/tmp"))
    os.chmod(base, 0o755)  # the users reach the exchange and the course folder through it
    for user in [INSTRUCTOR, *LEARNERS, hublib.GRADER]:
        _fresh_home(user)
    port, check, *internal = (_free_port() for _ in range(5))
    env = {k: v for k, v in os.environ.items() if k not in {"COURSE_LANG", "COURSE_GRADER_SEED"}}
    env.update(
        HUB_PORT=str(port),
        HUB_ARGS=shlex.join(
            [
                "--dir",
                str(base),
                "--db",
                f"{pg}/{db}",
                "--internal-ports",
                *map(str, internal),
                "--check-port",
                str(check),
                *hub_args,
            ]
        ),
    )
    log = ARTIFACTS / "make-hub.log"
    with log.open("w") as out:
        make = subprocess.Popen(
            shlex.split(rc.command("make hub")),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    settings = None
    try:
        deadline = time.monotonic() + MAKE_HUB_S
        while READY not in log.read_text(encoding="utf-8"):
            if make.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"make hub did not start:\n{log.read_text()[-4000:]}", pytrace=False)
            time.sleep(0.5)
        printed = log.read_text(encoding="utf-8")
        settings = hublib.HubSettings.load(base / "hub" / "settings.json")
        assert f"running at {settings.url}" in printed and settings.ip == "127.0.0.1"
        passwords = dict(LOGIN.findall(printed))
        assert set(passwords) == {INSTRUCTOR, *LEARNERS}, printed
        yield Hub(settings, passwords)
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGINT)  # Ctrl+C, as the README says
            try:
                make.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(make.pid, signal.SIGKILL)
                make.wait(timeout=10)
        if settings is not None:
            hublib.kill_leftovers(settings)
            for name in ("jupyterhub.log", "jupyterhub.log.service", "jupyterhub.log.checking"):
                if (Path(settings.state) / name).is_file():
                    shutil.copy(Path(settings.state) / name, ARTIFACTS / name)
        shutil.rmtree(base, ignore_errors=True)
        try:
            _database(pg, db, create=False)
        except Exception:
            pass


class Hub:
    def __init__(self, settings: hublib.HubSettings, passwords: dict[str, str]) -> None:
        self.settings, self.passwords = settings, passwords
        self.url = settings.url
        self.course = Path(settings.course)
        self.exchange = Path(settings.exchange) / hublib.COURSE_ID

    def journal(self) -> list[dict]:
        """The grading service's journal: one event a line (autograder/grading/journal.py)."""
        path = self.settings.grading / "service" / "journal.jsonl"
        events = []
        for line in path.read_text().splitlines() if path.exists() else []:
            try:
                events.append(json.loads(line))
            except ValueError:
                pass  # a line cut short by a kill
        return events

    def wait_for_service(self, predicate, timeout: float = 180) -> list[dict]:
        """Wait until ``predicate(journal)``; the grading service runs in the hub (its log is
        the hub's)."""
        deadline = time.monotonic() + timeout
        while not predicate(found := self.journal()):
            if time.monotonic() > deadline:
                log = (Path(self.settings.state) / "jupyterhub.log").read_text()[-3000:]
                raise AssertionError(f"the grading service: {found[-5:]}\n{log}")
            time.sleep(0.1)
        return found

    def as_grader(self, *argv: str) -> subprocess.CompletedProcess:
        return hublib.as_grader(self.settings, list(argv))

    def readme_as_grader(self, command: str) -> subprocess.CompletedProcess:
        """A command of the README's instructor path, exactly as written, in the course
        service's environment (its terminal: $COURSE_DB, $COURSE_EXCHANGE, the course folder)."""
        return hublib.as_grader(self.settings, ["bash", "-c", rc.command(command)])

    def as_user(self, user: str, command: str) -> subprocess.CompletedProcess:
        """A shell command run as ``user`` (su), for what that user may or may not read."""
        return subprocess.run(
            ["su", user, "-s", "/bin/sh", "-c", command], capture_output=True, text=True, timeout=60
        )


__all__ = ["ARTIFACTS", "INSTRUCTOR", "LEARNERS", "VIEWPORT", "Hub"]
