"""A process that has already imported torch and forks a fresh kernel for each notebook.

Stock nbgrader starts a new Python for every notebook and pays for ``import torch,
torchvision`` (about 5 s here) before the first cell runs. The fork server pays it
once; each kernel is a forked copy, so it starts with those modules loaded but with
nothing of any other learner's state: every submission still runs in its own fresh
process, which exits when its notebook is done.

The server only forks; it never runs a tensor operation, so no thread pool exists to
be inherited. Protocol: one JSON line per request on a socket, one JSON line back.

The child can be confined (see :class:`Sandbox`): its own PID and mount namespaces, the
course's secrets hidden under empty tmpfs mounts, a read-only filesystem but for its
working folder and a private /tmp, no network, no capabilities, and limits on memory,
processes and file size.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import random
import resource
import signal
import socket
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

PRELOAD = (
    "torch",
    "torchvision",
    "numpy",
    "matplotlib",
    "IPython",
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.debugger",  # debugpy: a third of a kernel's start when left to each kernel
    "matplotlib_inline.backend_inline",
    "course_utils",
    "course_utils.harness",  # what the grader's requests run in the kernel
    "course_utils.objects",
    "course_utils.programs",
    # Forward mode's first use (torch.func.jvp, jacfwd) imports this, which scripts a dozen
    # decompositions with torch.jit: 0.3-0.9 s of every lesson 3 and 9 kernel, once here.
    "torch._decomp.decompositions_for_jvp",
)

CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_PDEATHSIG = 1
M_ARENA_MAX = -8  # mallopt
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
CGROUP_PIDS = Path("/sys/fs/cgroup/pids")


@dataclass
class Sandbox:
    """What confines a kernel. The defaults confine nothing."""

    hide: list[str] = field(default_factory=list)  # folders (or files) the kernel must not see
    no_network: bool = False  # an empty network namespace: not even loopback
    isolate: bool = False  # own PID and mount namespaces, read-only filesystem, no capabilities
    memory_bytes: int | None = None  # address space the kernel may add to what the server maps
    max_processes: int | None = None  # pids cgroup limit, where cgroups can be made
    max_file_bytes: int | None = None  # RLIMIT_FSIZE
    private_tmp: bool = False  # a fresh /tmp and /dev/shm for this kernel
    keep: list[str] = field(default_factory=list)  # what stays readable under a private /tmp


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def die_with_parent(parent: int | None = None, lifeline: int | None = None) -> None:
    """Have the kernel SIGKILL this process when its parent dies, however the parent dies.

    Call it first thing after ``fork``. The parent may already be dead by then (the
    kernel would then never send the signal), which shows as a parent pid other than
    ``parent``, or, where the parent is outside this PID namespace and so has no pid
    here, as the end of the ``lifeline`` pipe whose write end only the parent holds.
    """
    import select

    if _libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        os._exit(1)
    if parent is not None and os.getppid() != parent:
        os._exit(1)
    if lifeline is not None and select.select([lifeline], [], [], 0)[0]:
        os._exit(1)  # readable: the parent's end is closed, the parent is gone


def threads_for_torch(threads: int | None) -> None:
    """Set torch's intra-op threads in a forked process (its pools start at the first op).

    The OpenMP/MKL variables are read when the libraries load, which happened before the
    fork, so they only reach what this process execs; torch's own setting is what counts
    for torch here.
    """
    if not threads:
        return
    for var in THREAD_VARS:
        os.environ[var] = str(threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)


THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def _mount_points() -> list[tuple[str, str]]:
    """(mount point, options) of this namespace, parents first."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        points.append((fields[4].replace("\\040", " "), fields[5]))
    return points


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _outermost(paths: list[str]) -> list[str]:
    """The paths not inside another one of them."""
    unique = sorted({str(Path(p)) for p in paths})
    return [p for p in unique if not any(q != p and _under(p, q) for q in unique)]


def _remount_read_only(libc, skip: set[str]) -> None:
    flag_of = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC}
    for point, options in _mount_points():
        if point in skip:
            continue
        flags = MS_BIND | MS_REMOUNT | MS_RDONLY
        for opt in options.split(","):
            flags |= flag_of.get(opt, 0)
        if libc.mount(None, point.encode(), None, flags, None) != 0 and point == "/":
            _check(-1, "make / read-only")


def _drop_capabilities(libc) -> None:
    for cap in range(64):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [
            ("effective", ctypes.c_uint32),
            ("permitted", ctypes.c_uint32),
            ("inheritable", ctypes.c_uint32),
        ]

    header = Header(0x20080522, 0)
    data = (Data * 2)()
    _check(libc.capset(ctypes.byref(header), data), "drop capabilities")
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no new privileges")


def _join_pids_cgroup(limit: int) -> None:
    """Best effort: a pids cgroup of our own bounds fork bombs; without cgroups, timeouts do."""
    try:
        base = CGROUP_PIDS / Path(
            next(
                ln.split(":", 2)[2]
                for ln in Path("/proc/self/cgroup").read_text().splitlines()
                if ":pids:" in ln
            )
        ).relative_to("/")
        group = base / f"course-kernel-{os.getpid()}-{random.getrandbits(32):08x}"
        group.mkdir()
        (group / "pids.max").write_text(str(limit))
        (group / "notify_on_release").write_text("1") if (
            group / "notify_on_release"
        ).exists() else None
        (group / "cgroup.procs").write_text("0")
    except (OSError, StopIteration, ValueError):
        pass


def _confine(box: Sandbox, workdir: str) -> None:
    """Apply ``box`` to the current process (pid 1 of its namespace when ``isolate``)."""
    libc = _libc()
    if box.max_processes is not None:
        _join_pids_cgroup(box.max_processes)
    mounts = box.isolate or bool(box.hide) or box.private_tmp
    if mounts:
        _check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
        tmps = [t for t in ("/tmp", "/dev/shm") if box.private_tmp and Path(t).is_dir()]
        # Hold what the kernel needs (its folder, the course code, Python) before a private
        # /tmp covers it, then mount it back; the hiding mounts come after, on top.
        held = [(workdir, os.open(workdir, os.O_RDONLY | os.O_DIRECTORY))]
        for path in _outermost(box.keep):
            if any(_under(path, t) for t in tmps) and Path(path).is_dir():
                held.append((path, os.open(path, os.O_RDONLY | os.O_DIRECTORY)))
        if box.isolate:
            _check(
                libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None),
                "mount /proc",
            )
        for tmp in tmps:
            opts = MS_NOSUID | MS_NODEV
            _check(
                libc.mount(b"tmpfs", tmp.encode(), b"tmpfs", opts, b"size=256m,mode=1777"),
                f"private {tmp}",
            )
        for path, fd in sorted(held[1:]) + held[:1]:  # the kernel's own folder last, on top
            os.makedirs(path, exist_ok=True)
            flags = MS_BIND | (MS_REC if path != workdir else 0)
            _check(
                libc.mount(f"/proc/self/fd/{fd}".encode(), path.encode(), None, flags, None),
                f"bind {path}",
            )
            os.close(fd)
        for path in box.hide:
            p = Path(path)
            if p.is_dir():
                opts = MS_RDONLY | MS_NOSUID | MS_NODEV
                _check(
                    libc.mount(b"tmpfs", str(p).encode(), b"tmpfs", opts, b"size=4k"), f"hide {p}"
                )
            elif p.exists():
                _check(libc.mount(b"/dev/null", str(p).encode(), None, MS_BIND, None), f"hide {p}")
        if box.isolate:
            _remount_read_only(libc, skip={workdir, "/proc", *tmps, *box.hide})
    if box.memory_bytes is not None:
        # The limit is on address space. glibc gives each thread that allocates at the
        # same time as others an arena of its own, 64 MiB reserved and mostly untouched:
        # a kernel with 16 torch threads lost over a GiB of its limit to them, and
        # correct answers failed for want of memory on a 16-core machine with one worker.
        # Two arenas make the limit measure memory, not threads.
        libc.mallopt(M_ARENA_MAX, 2)
        limit = _vm_size() + box.memory_bytes
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    if box.max_file_bytes is not None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (box.max_file_bytes, box.max_file_bytes))
    if box.isolate:
        _drop_capabilities(libc)
    os.chdir(workdir)


def _vm_size() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def _child(request: dict, server: int) -> None:
    """Become the kernel (or, when isolated, the parent that waits for it). Never returns."""
    code = 1
    try:
        die_with_parent(server)
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        log = os.open(request.get("log", os.devnull), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(devnull, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.closerange(3, 1 << 16)
        for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)  # the server ignores what the grader handles
        box = Sandbox(**request.get("sandbox", {}))
        flags = (CLONE_NEWPID | CLONE_NEWNS if box.isolate else 0) | (
            CLONE_NEWNET if box.no_network else 0
        )
        if flags:
            _check(_libc().unshare(flags), "unshare")
        if box.isolate:
            # This process stays outside and waits; its child is pid 1 of the new PID
            # namespace, a minimal init that confines the namespace and reaps; the kernel is
            # pid 2. The kernel sees nothing outside, can kill itself like any process, and
            # everything it starts dies with the init when the kernel ends.
            lifeline, held = os.pipe()
            init = os.fork()
            if init > 0:
                os.close(lifeline)
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, lambda *_: os.kill(init, signal.SIGKILL))
                _, status = os.waitpid(init, 0)
                os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
            # The waiter is outside this PID namespace (no pid here): the pipe tells whether
            # it died before the death signal was set. When init dies, so does everything
            # in the namespace, the kernel and whatever it started included.
            os.close(held)
            die_with_parent(lifeline=lifeline)
            os.close(lifeline)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            _confine(box, request["cwd"])
            kernel = os.fork()
            if kernel > 0:
                while True:
                    pid, status = os.waitpid(-1, 0)
                    if pid == kernel:
                        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
        else:
            _confine(box, request["cwd"])
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.environ.clear()
        os.environ.update(request["env"])
        threads_for_torch(request.get("threads"))
        forget_grader()
        # A fresh process would have fresh random state.
        random.seed()
        try:
            import numpy

            numpy.random.seed()
        except Exception:
            pass
        sys.argv = ["ipykernel_launcher", "-f", request["connection_file"]]
        if sys.path and sys.path[0] == "":
            sys.path.pop(0)
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        os._exit(code)


def serve(sock: socket.socket) -> None:
    """Answer fork requests until the socket closes."""
    signal.signal(signal.SIGCHLD, _reap)
    # Ctrl-C, SIGTERM or SIGHUP sent to the grader's process group are the grader's to
    # handle; this server ends when its parent does (see die_with_parent).
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    me = os.getpid()
    stream = sock.makefile("rwb", buffering=0)
    for line in stream:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            stream.close()
            sock.close()
            _child(request, me)
        stream.write(json.dumps({"pid": pid}).encode() + b"\n")


def _reap(signum, frame) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


# What a kernel must not find in memory when it was forked from a process that graded or
# prepared: the references and the catalogue of mistakes, and the grader's own code.
GRADER_MODULES = ("course_utils.exercises", "autograder", "nbgrader", "tests")


def forget_grader() -> None:
    """Drop the grader's modules from a forked kernel, so that no cell can import them.

    On disk they are hidden by the sandbox (:func:`autograder.grading.confinement.kernel_secrets`);
    in memory they were inherited by the fork. What is left is reachable only through means
    the grader forbids in every cell (``sys``, ``gc``, frames: :mod:`autograder.grading.rules`).
    """
    for name in list(sys.modules):
        if any(name == m or name.startswith(m + ".") for m in GRADER_MODULES):
            module = sys.modules.pop(name)
            parent, _, child = name.rpartition(".")
            if parent in sys.modules and getattr(sys.modules[parent], child, None) is module:
                delattr(sys.modules[parent], child)
    for name in ("course_utils.exercises", "autograder"):
        sys.modules[name] = None  # an import is refused, not looked for on disk (hidden anyway)


def preload() -> None:
    """Import what kernels use, so that forked kernels start with it loaded."""
    # debugpy warns on import that Python's frozen modules may hide breakpoints.
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    # Set here, not only when course_utils is first imported: a caller may have reset the
    # filters since (pytest does), and the kernels forked from this process keep them.
    from course_utils import quiet_torch_jit_deprecation

    quiet_torch_jit_deprecation()
    for name in PRELOAD:
        try:
            __import__(name)
        except Exception:  # a missing optional module only costs speed
            pass
    # Every lesson's exercises, for the grader's own process (a worker forked from this one):
    # 0.1 s, compiled from source where the environment writes no bytecode. A kernel forked
    # from here forgets them (forget_grader).
    from course_utils.exercises import all_exercises

    all_exercises()
    # Out of the garbage collector's sight: a full collection in a forked kernel or worker
    # walked the ~400,000 objects imported here, and touched (copied) their pages: 0.3-0.4 s
    # of every graded notebook. What is imported here lives as long as the process anyway.
    gc.freeze()


def main() -> None:
    fd = int(sys.argv[1])
    die_with_parent(int(sys.argv[2]))
    sock = socket.socket(fileno=fd)
    # Say hello first: the grader goes on starting up while we import torch.
    sock.sendall(b'{"ready": true}\n')
    preload()
    serve(sock)


class ForkServer:
    """Client side: start the server, then ask it for kernels.

    With ``fork=True`` the server is a fork of this process, which must have imported
    what kernels need (:func:`preload`) and must not yet run threads or hold sockets
    that kernels should not inherit. Otherwise it is a new Python that imports them.
    """

    def __init__(self, fork: bool = False) -> None:
        parent, child = socket.socketpair()
        self._pid = None
        self._proc = None
        me = os.getpid()
        if fork:
            pid = os.fork()
            if pid == 0:
                try:
                    die_with_parent(me)
                    parent.close()
                    keep = child.fileno()
                    os.closerange(3, keep)
                    os.closerange(keep + 1, 1 << 16)
                    child.sendall(b'{"ready": true}\n')
                    serve(child)
                finally:
                    os._exit(0)
            self._pid = pid
        else:
            self._proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "autograder.grading.forkserver",
                    str(child.fileno()),
                    str(me),
                ],
                pass_fds=[child.fileno()],
                stdin=subprocess.DEVNULL,
            )
        child.close()
        self._sock = parent
        self._stream = parent.makefile("rwb", buffering=0)
        ready = self._stream.readline()
        if not ready:
            raise RuntimeError("the kernel fork server did not start")

    def spawn(
        self,
        connection_file: str,
        cwd: str,
        env: dict[str, str],
        sandbox: Sandbox | None = None,
        log: str | None = None,
        threads: int | None = None,
    ) -> int:
        request = {"connection_file": connection_file, "cwd": cwd, "env": env, "threads": threads}
        if sandbox is not None:
            request["sandbox"] = asdict(sandbox)
        if log:
            request["log"] = log
        self._stream.write(json.dumps(request).encode() + b"\n")
        reply = self._stream.readline()
        if not reply:
            raise RuntimeError("the kernel fork server died")
        return int(json.loads(reply)["pid"])

    def close(self) -> None:
        try:
            # The stream holds the socket open: both must go for the server to see the end.
            self._stream.close()
            self._sock.close()
        finally:
            if self._proc is not None:
                try:
                    self._proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
            elif self._pid is not None:
                try:
                    os.waitpid(self._pid, 0)
                except ChildProcessError:
                    pass


if __name__ == "__main__":
    main()
