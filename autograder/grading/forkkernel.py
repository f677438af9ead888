"""Kernels from the fork server, plugged into jupyter_client and nbgrader's Execute.

``ForkKernelManager`` is an ordinary ``AsyncKernelManager`` whose provisioner asks the
fork server (:mod:`autograder.grading.forkserver`) for the kernel process instead of starting a
new Python. Everything above it (nbclient, nbgrader's Execute, timeouts, interrupts)
is unchanged. Kernels talk over Unix sockets in their own working folder, so a kernel
without network access still reaches the grader.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner
from traitlets import Type

from autograder.grading.execute import SafeExecute
from autograder.grading.forkserver import THREAD_VARS, ForkServer, Sandbox

_server: ForkServer | None = None
_sandbox: Sandbox | None = None
_scratch: Path | None = None
_threads: int | None = None
_sockets: Path | None = None

# A Unix socket's path fits in 108 bytes (sun_path). A kernel's sockets are
# <scratch>/k-XXXXXXXX/ipc-NNNNN: a deep --out or Dask local directory leaves too little.
SOCKET_PATH_MAX = 107
SOCKET_SUFFIX = len("/k-XXXXXXXX/ipc-NNNNN")
# Not /tmp or /dev/shm: a sandboxed kernel has its own, so it could not follow the alias.
ALIAS_DIRS = ("/var/tmp", "/run")


def socket_alias(scratch: Path) -> Path | None:
    """A short symlink to ``scratch`` for its kernels' socket paths; None where none is needed.

    The caller removes it (``alias.unlink()``) when its kernels are done.
    """
    if len(os.fsencode(scratch)) + SOCKET_SUFFIX <= SOCKET_PATH_MAX:
        return None
    for folder in ALIAS_DIRS:
        for _ in range(8):
            alias = Path(folder) / f"course-k-{secrets.token_hex(4)}"
            try:
                os.symlink(scratch, alias)  # fails on a name already taken: never followed
                return alias
            except FileExistsError:
                continue
            except OSError:
                break
    raise OSError(
        f"the kernels' folder {scratch} is too deep for their Unix sockets "
        f"({SOCKET_PATH_MAX} bytes at most) and no short link to it could be made in "
        f"{' or '.join(ALIAS_DIRS)}: grade with a shorter --out"
    )


def start_server(
    sandbox: Sandbox | None = None,
    scratch: Path | None = None,
    fork: bool = False,
    threads: int | None = None,
    sockets: Path | None = None,
) -> None:
    """Start this process's fork server (once) and set how its kernels are confined.

    ``fork=True``: the server is forked from this process (see :class:`ForkServer`).
    ``threads``: torch's intra-op threads in each kernel (None: torch's default).
    ``sockets``: a short alias of ``scratch`` (:func:`socket_alias`) for the sockets' paths.
    """
    global _server, _sandbox, _scratch, _threads, _sockets
    if _server is None:
        _server = ForkServer(fork=fork)
    _sandbox = sandbox
    _threads = threads
    _scratch = Path(scratch or tempfile.mkdtemp(prefix="course-kernels-"))
    _scratch.mkdir(parents=True, exist_ok=True)
    _sockets = sockets


def stop_server() -> None:
    global _server
    if _server is not None:
        _server.close()
        _server = None


class ForkedProcess:
    """Enough of ``subprocess.Popen`` for LocalProvisioner, for a process we did not start."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self.stdin = self.stdout = self.stderr = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                os.kill(self.pid, 0)
                if _is_zombie(self.pid):
                    self.returncode = -1
            except ProcessLookupError:
                self.returncode = -1
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"kernel {self.pid} still running")
            time.sleep(0.02)
        return self.returncode or 0

    def send_signal(self, signum: int) -> None:
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            pass  # already gone, as Popen.send_signal tolerates

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return False


class ForkProvisioner(LocalProvisioner):
    """Launch the kernel by asking the fork server to fork one."""

    workdir: Path | None = None

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        if _server is None:
            raise RuntimeError("start_server() was not called in this process")
        km = self.parent
        env = dict(kwargs.get("env") or os.environ)
        cwd = str(kwargs.get("cwd") or os.getcwd())
        box = _sandbox
        if _threads:
            env.update(dict.fromkeys(THREAD_VARS, str(_threads)))
        workdir = Path(km.connection_file).parent
        if box is not None and box.isolate:
            # The kernel works in a private copy of the notebook's folder (data files, no
            # notebooks): the only place it may write, besides its own /tmp.
            for item in Path(cwd).iterdir():
                if item.suffix != ".ipynb" and item.is_file():
                    shutil.copy2(item, workdir / item.name)
            cwd = str(workdir)
            env.update(
                HOME=str(workdir),
                MPLCONFIGDIR=str(workdir / ".mpl"),
                IPYTHONDIR=str(workdir / ".ipython"),
                PYTHONDONTWRITEBYTECODE="1",
            )
        if box is not None and box.hide:
            box = replace(box, hide=[h for h in box.hide if not str(workdir).startswith(h)])
        pid = _server.spawn(
            km.connection_file, cwd, env, box, log=str(workdir / "kernel.log"), threads=_threads
        )
        self.process = ForkedProcess(pid)
        self.pid = pid
        self.pgid = pid
        self.workdir = workdir
        self.cwd = cwd
        return self.connection_info

    async def cleanup(self, restart: bool = False) -> None:
        await super().cleanup(restart)
        if not restart:
            if self.workdir is not None:
                shutil.rmtree(self.workdir, ignore_errors=True)


class ForkKernelManager(AsyncKernelManager):
    """An AsyncKernelManager whose kernels come from the fork server, over Unix sockets."""

    async def _async_wait(self, pollinterval: float = 0.1) -> None:
        # A killed kernel's namespaces take a few milliseconds to go: poll for that, not 0.1 s.
        await super()._async_wait(pollinterval=min(pollinterval, 0.01))

    async def _async_pre_start_kernel(self, **kw: Any):
        self.kernel_id = self.kernel_id or kw.pop("kernel_id", str(uuid.uuid4()))
        if self.provisioner is None:
            scratch = _scratch or Path(tempfile.gettempdir())
            workdir = Path(tempfile.mkdtemp(prefix="k-", dir=scratch))
            self.transport = "ipc"
            self.cache_ports = False
            # The kernel is confined to the real folder; only the addresses go through the alias.
            self.ip = str((_sockets or scratch) / workdir.name / "ipc")
            self.connection_file = str(workdir / "connection.json")
            self.provisioner = ForkProvisioner(
                kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self
            )
        return await super()._async_pre_start_kernel(**kw)


class ForkExecute(SafeExecute):
    """nbgrader's Execute (made safe), with kernels from the fork server."""

    kernel_manager_class = Type(ForkKernelManager, klass=AsyncKernelManager, config=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("kernel_manager_class", ForkKernelManager)
        # Each kernel is a throwaway fork: once the last cell has answered, kill it rather
        # than ask it to shut down and poll until it has (a graceful stop costs ~0.2 s).
        kwargs.setdefault("shutdown_kernel", "immediate")
        super().__init__(*args, **kwargs)
