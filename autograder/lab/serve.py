"""Start the learner's JupyterLab on their workspace and say, in both languages, what to open.

``make lab`` runs ``python -m autograder.lab.serve work/<lang> --port PORT [JupyterLab options]``
after ``autograder.lab.setup`` and ``course workspace``. JupyterLab's own log used to fill the
terminal (thirty lines of start-up, then every kernel's "Kernel is running over TCP without
encryption"), with the URL somewhere among them. Here:

- JupyterLab logs warnings and errors only, less those a learner can do nothing about
  (:data:`NOISE`); ``make lab LAB_ARGS=--Application.log_level=INFO`` brings its log back;
- once the server answers, a short banner in both languages gives the link to open (with its
  token), the folder the learner's work is saved in, and how to stop;
- the token is made here and handed over in ``JUPYTER_TOKEN`` (the environment, not the command
  line, which other users of the machine can read), so JupyterLab does not print its own block
  of URLs; a ``JUPYTER_TOKEN`` already set is used as it is.

Ctrl-C reaches JupyterLab itself (a terminal signals its whole foreground process group): this
process ignores it, relays what JupyterLab still says, and exits with its status. SIGTERM and
SIGHUP are passed on, and on Linux JupyterLab gets SIGTERM should this process die first.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from autograder.config import ROOT

START_PAGE = "START_HERE.ipynb"
LOG_LEVEL = "WARN"
# Lines of JupyterLab's (and its kernels') output a learner can do nothing about.
NOISE = re.compile(
    "|".join(
        [
            r"Kernel is running over TCP without encryption",  # each kernel, Validate's too
            r"No web browser found",  # the banner says what to open
            r"Notebook .* is not trusted",  # every notebook a learner opens
            r"websocket_ping_timeout",  # a warning about JupyterLab's own defaults (2 lines)
            r"Parent appears to have exited",  # each kernel, as JupyterLab stops
        ]
    )
)
PARTIAL_S = 0.2  # a line without its end (a prompt: "Shut down this Jupyter server (y/[n])? ")
POLL_S = 0.2
RULE = "─" * 72
PR_SET_PDEATHSIG = 1


def lab_command(root: Path, port: int, extra: list[str], start: str = START_PAGE) -> list[str]:
    """The JupyterLab a learner gets: ``root`` served, the start page open, no Formgrader."""
    return [
        sys.executable,
        "-m",
        "jupyterlab",
        "--allow-root",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.jpserver_extensions",
        "nbgrader.server_extensions.formgrader=False",
        f"--LabApp.default_url=/lab/tree/{start}",
        f"--port={port}",
        f"--Application.log_level={LOG_LEVEL}",
        *extra,
    ]


def banner(info: dict, root: Path, start: str = START_PAGE) -> str:
    """What the learner reads once the server answers (``info``: its ``jpserver-<pid>.json``)."""
    link = f"{info['url'].rstrip('/')}/lab/tree/{start}"
    if info.get("token"):
        link += f"?token={info['token']}"
    try:
        work = root.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        work = root.resolve()
    ready = (
        "The course is ready. Open this link in your browser:",
        "课程已就绪，请在浏览器中打开这个链接：",
    )
    saved = (
        f"Your work is saved in {work}/; updates of the course keep what you change.",
        f"你的作业保存在 {work}/，课程更新不会覆盖你改动过的文件。",
    )
    stop = ("Stop JupyterLab: press Ctrl-C twice here.", "关闭 JupyterLab：在这里连按两次 Ctrl-C。")
    return "\n".join(
        ["", RULE, *(f"  {line}" for line in ready), "", f"      {link}", ""]
        + [*(f"  {line}" for line in saved), f"  {stop[0]} · {stop[1]}", RULE, ""]
    )


def runtime_dir() -> Path:
    from jupyter_core.paths import jupyter_runtime_dir

    return Path(jupyter_runtime_dir())


def answers(info: dict) -> bool:
    """Whether the server described by ``info`` answers HTTP (any status: it is up)."""
    if info.get("sock") or info.get("secure"):
        return True  # nothing simple to ask; the info file is written once it listens
    host = info.get("hostname") or "127.0.0.1"
    if host in {"localhost", "0.0.0.0", "::", "*"}:
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    url = f"http://{host}:{info['port']}{info.get('base_url') or '/'}api/status"
    if info.get("token"):
        url += f"?token={info['token']}"
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_until_up(proc: subprocess.Popen, info_file: Path) -> dict | None:
    """The server's info once it answers; None if it ended first."""
    while proc.poll() is None:
        try:
            info = json.loads(info_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            info = None
        if info and answers(info):
            return info
        time.sleep(POLL_S)
    return None


class Output:
    """Our stdout, written by the relay and the banner, a whole line at a time."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout.buffer
        self.lock = threading.Lock()

    def write(self, data: bytes) -> None:
        if not data:
            return
        with self.lock:
            try:
                self.stream.write(data)
                self.stream.flush()
            except (OSError, ValueError):
                pass  # our terminal is gone: JupyterLab goes on until it is stopped


def quiet(lines: list[bytes]) -> bytes:
    """``lines`` (each without its end) less the noise, as output."""
    return b"".join(
        line + b"\n" for line in lines if not NOISE.search(line.decode("utf-8", "replace"))
    )


def relay(stream, out: Output) -> None:
    """Copy ``stream`` to ``out`` until it ends, less the noise; a partial line (a prompt)
    is shown when nothing more comes for a moment."""
    chunks: queue.Queue[bytes] = queue.Queue()
    fd = stream.fileno()

    def read() -> None:
        try:
            while chunk := os.read(fd, 65536):
                chunks.put(chunk)
        except OSError:
            pass
        chunks.put(b"")

    threading.Thread(target=read, daemon=True).start()
    pending = b""
    while True:
        try:
            chunk = chunks.get(timeout=PARTIAL_S) if pending else chunks.get()
        except queue.Empty:
            out.write(pending)
            pending = b""
            continue
        if not chunk:
            break
        *lines, pending = (pending + chunk).split(b"\n")
        out.write(quiet(lines))
    out.write(pending)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child, before exec
    """On Linux: SIGTERM to JupyterLab when this process dies (even by SIGKILL)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def serve(root: Path, port: int, extra: list[str], out: Output | None = None) -> int:
    """Run JupyterLab on ``root`` until it stops; its exit status (128 + signal if killed)."""
    out = out or Output()
    runtime = runtime_dir()
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(runtime))  # where it says it is up
    env.setdefault("JUPYTER_TOKEN", secrets.token_hex(24))
    proc = subprocess.Popen(
        lab_command(root, port, extra),
        cwd=ROOT,  # nbgrader's Validate reads the course's nbgrader_config.py from here
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
    )

    def pass_on(signum, _frame) -> None:
        if proc.poll() is None:
            proc.send_signal(signum)

    # JupyterLab, in our process group, gets the terminal's Ctrl-C itself.
    handlers = {signal.SIGINT: lambda *_: None}
    handlers.update(
        {getattr(signal, n): pass_on for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)}
    )
    before = {signum: signal.signal(signum, handler) for signum, handler in handlers.items()}

    def announce() -> None:
        info = wait_until_up(proc, runtime / f"jpserver-{proc.pid}.json")
        if info is not None:
            out.write(banner(info, root).encode("utf-8"))

    try:
        threading.Thread(target=announce, daemon=True).start()
        relay(proc.stdout, out)
        code = proc.wait()
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
    return 128 - code if code < 0 else code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder.lab.serve",
        description=__doc__.splitlines()[0],
        epilog="Other options are passed on to JupyterLab (e.g. --Application.log_level=INFO).",
    )
    parser.add_argument("root", type=Path, help="the folder to serve: the learner's workspace")
    parser.add_argument("--port", type=int, default=8888)
    args, extra = parser.parse_known_args(argv)
    if not args.root.is_dir():
        print(
            f"{args.root} does not exist: run `course workspace` first · "
            f"{args.root} 不存在：请先运行 `course workspace`",
            file=sys.stderr,
        )
        return 2
    return serve(args.root, args.port, extra)


if __name__ == "__main__":
    sys.exit(main())
