"""Kernels from the fork server, plugged into jupyter_client and nbgrader's Execute.

``ForkKernelManager`` is an ordinary ``AsyncKernelManager`` whose provisioner asks the
fork server (:mod:`autograder.grading.forkserver`) for the kernel process instead of starting a
new Python. Everything above it (nbclient, nbgrader's Execute, timeouts, interrupts)
is unchanged. Kernels talk over Unix sockets in their own working folder, so a kernel
without network access still reaches the grader.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import tempfile
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path
from queue import Empty
from typing import Any

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner
from jupyter_core.utils import run_sync
from traitlets import Type, default

from autograder.grading.execute import SafeExecute
from autograder.grading.forkserver import THREAD_VARS, ForkServer, Sandbox

_server: ForkServer | None = None
_sandbox: Sandbox | None = None
_scratch: Path | None = None
_threads: int | None = None


IN_USE = ".in-use"  # the file a live grader holds a lock on, in each of its kernels' folders
_held: dict[Path, int] = {}  # folder -> descriptor of its locked IN_USE file


def kernels_folder(prefix: str = "course-kernels-") -> Path:
    """A new folder for kernels' working folders, under ``/tmp`` on purpose.

    A confined kernel gets a private ``/tmp`` with only its own folder mounted back, so
    it cannot see the other kernels' folders there, nor read their connection files and
    reach them (the kernel started ahead for the next submission included). Under any
    other parent, a kernel could list its siblings. The path is also short enough for the
    kernels' Unix sockets (108 bytes at most), which a deep ``--out`` was not.

    The folder stays locked while this process (or a worker forked from it) lives, so
    that a later run can tell it from one a killed grader left (:func:`remove_abandoned`).
    """
    remove_abandoned(prefix)
    folder = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir="/tmp"))
    os.chmod(folder, 0o711)
    # Locked before it gets its name: a sweep never finds it unlocked.
    fd = os.open(folder / f"{IN_USE}.new", os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.rename(folder / f"{IN_USE}.new", folder / IN_USE)
    _held[folder] = fd
    return folder


def remove_kernels_folder(folder: Path) -> None:
    """Remove a folder from :func:`kernels_folder` and let go of its lock."""
    shutil.rmtree(folder, ignore_errors=True)
    fd = _held.pop(Path(folder), None)
    if fd is not None:
        os.close(fd)


def remove_abandoned(prefix: str = "course-kernels-", parent: Path = Path("/tmp")) -> list[Path]:
    """Remove the kernels' folders that no live grader holds: a grader killed by SIGKILL
    (or the machine's OOM killer) cannot remove its own. Only this user's folders, and
    only those with the lock file (nothing else under ``/tmp`` looks like one)."""
    removed = []
    for folder in sorted(parent.glob(f"{prefix}*")):
        try:
            if folder.is_symlink() or not folder.is_dir() or folder.stat().st_uid != os.geteuid():
                continue
            fd = os.open(folder / IN_USE, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # held: its grader is running
        else:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
        finally:
            os.close(fd)
    return removed


def start_server(
    sandbox: Sandbox | None = None,
    scratch: Path | None = None,
    fork: bool = False,
    threads: int | None = None,
) -> None:
    """Start this process's fork server (once) and set how its kernels are confined.

    ``fork=True``: the server is forked from this process (see :class:`ForkServer`).
    ``threads``: torch's intra-op threads in each kernel (None: torch's default).
    """
    global _server, _sandbox, _scratch, _threads
    discard_spare()
    if _server is None:
        _server = ForkServer(fork=fork)
    _sandbox = sandbox
    _threads = threads
    _scratch = Path(scratch) if scratch else kernels_folder()
    _scratch.mkdir(parents=True, exist_ok=True)


def stop_server() -> None:
    global _server
    discard_spare()
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
            if not getattr(km, "spare", False):  # a spare gets its notebook's files when taken
                copy_data_files(Path(cwd), workdir)
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


def copy_data_files(folder: Path, workdir: Path) -> None:
    """A confined kernel works in a private copy of its notebook's folder (data files, no
    notebooks): the only place it may write, besides its own /tmp."""
    for item in folder.iterdir():
        if item.suffix != ".ipynb" and item.is_file():
            shutil.copy2(item, workdir / item.name)


class ForkKernelClient(AsyncKernelClient):
    """jupyter_client's client, without its last 0.2 s wait for silence on IOPub.

    Once the kernel has answered ``kernel_info`` and IOPub carries its status, what
    may still come on IOPub belongs to no cell, and nbclient skips it.
    """

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout if timeout is not None else 60)
        while True:
            self.kernel_info()
            try:
                msg = await self.shell_channel.get_msg(timeout=1)
            except Empty:
                msg = None
            if msg is not None and msg["msg_type"] == "kernel_info_reply":
                try:
                    await self.iopub_channel.get_msg(timeout=0.2)  # IOPub is connected
                except Empty:
                    pass
                else:
                    self._handle_kernel_info_reply(msg)
                    break
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")
        while True:
            try:
                await self.iopub_channel.get_msg(timeout=0.02)
            except Empty:
                break


class ForkKernelManager(AsyncKernelManager):
    """An AsyncKernelManager whose kernels come from the fork server, over Unix sockets."""

    @default("client_factory")
    def _client_factory_default(self) -> type:
        return ForkKernelClient

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
            self.ip = str(workdir / "ipc")
            self.connection_file = str(workdir / "connection.json")
            self.provisioner = ForkProvisioner(
                kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self
            )
        return await super()._async_pre_start_kernel(**kw)


# The next notebook's kernel, started while this worker does other work (saving grades,
# feedback, the next submission's copy): its ~0.4 s start no longer waits in line. Only
# confined kernels work in a folder of their own, so only they can be started ahead.
_spare: tuple[ForkKernelManager, int] | None = None  # and the thread whose event loop owns it


def start_spare(kernel_name: str) -> None:
    """Start a kernel for the next notebook, unless one is waiting or none can be."""
    global _spare
    if _spare is not None or _server is None or _sandbox is None or not _sandbox.isolate:
        return
    km = ForkKernelManager(kernel_name=kernel_name)
    km.spare = True
    km.env_at_start = dict(os.environ)
    try:
        run_sync(km.start_kernel)()
    except Exception:
        return  # the next notebook starts its own kernel, and reports what goes wrong
    _spare = (km, threading.get_ident())


def take_spare(kernel_name: str, folder: Path) -> ForkKernelManager | None:
    """The waiting kernel, given ``folder``'s data files; None if there is none to take."""
    global _spare
    if _spare is None:
        return None
    (km, thread), _spare = _spare, None
    usable = thread == threading.get_ident() and km.kernel_name == kernel_name
    if not usable or not run_sync(km.is_alive)():
        _shut(km, thread)
        return None
    copy_data_files(folder, Path(km.connection_file).parent)
    # What changed in the environment since it started (this notebook's seed, at least)
    # is set in it before any cell runs.
    now = dict(os.environ)
    km.env_update = (
        {k: v for k, v in now.items() if km.env_at_start.get(k) != v},
        sorted(set(km.env_at_start) - set(now)),
    )
    km.spare = False
    return km


def discard_spare() -> None:
    global _spare
    if _spare is not None:
        (km, thread), _spare = _spare, None
        _shut(km, thread)


def _shut(km: ForkKernelManager, thread: int) -> None:
    if thread != threading.get_ident():
        # Its sockets belong to another thread's event loop: kill it and leave the rest.
        with contextlib.suppress(Exception):
            km.provisioner.process.kill()
        return
    with contextlib.suppress(Exception):
        run_sync(km.shutdown_kernel)(now=True)


class ForkExecute(SafeExecute):
    """nbgrader's Execute (made safe), with kernels from the fork server."""

    kernel_manager_class = Type(ForkKernelManager, klass=AsyncKernelManager, config=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("kernel_manager_class", ForkKernelManager)
        # Each kernel is a throwaway fork: once the last cell has answered, kill it rather
        # than ask it to shut down and poll until it has (a graceful stop costs ~0.2 s).
        kwargs.setdefault("shutdown_kernel", "immediate")
        super().__init__(*args, **kwargs)

    def create_kernel_manager(self):
        name = self.kernel_name or self.nb.metadata.get("kernelspec", {}).get("name", "")
        folder = (self.resources or {}).get("metadata", {}).get("path")
        km = take_spare(name, Path(folder)) if name and folder else None
        if km is None:
            return super().create_kernel_manager()
        self.kernel_name = name
        self.km = km
        return km

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        changed, removed = getattr(self.km, "env_update", ({}, []))
        if changed or removed:
            code = (
                f"__import__('os').environ.update({changed!r})\n"
                f"[__import__('os').environ.pop(k, None) for k in {removed!r}]"
            )
            reply = await self.async_wait_for_reply(
                kc.execute(code, silent=True, store_history=False)
            )
            if (reply or {}).get("content", {}).get("status") != "ok":
                raise RuntimeError("the kernel started ahead did not take its environment")
        return kc

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    def preprocess(self, nb, resources=None, km=None):
        try:
            return super().preprocess(nb, resources, km)
        finally:
            if km is None and self.kernel_name:
                start_spare(self.kernel_name)
