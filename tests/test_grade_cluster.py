"""`course grade --scheduler`: a real Dask scheduler and two workers on loopback (issue 14).

The gradebook is the CI's PostgreSQL (COURSE_TEST_POSTGRES). Workers run with one thread
and no nanny, so killing one really loses it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from tests.test_grade import (
    LESSON,
    course_grade,
    make_submissions,
    postgres_url,
    read_grades,
)
from tests.test_grade_signals import describe, tagged

pytest.importorskip("distributed", reason="the cluster extra is not installed")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.xdist_group("grade"),
]

BIN = Path(sys.executable).parent
SOCKET_PROBE = (
    "import socket\n"
    "try:\n"
    "    socket.create_connection(('127.0.0.1', {port}), timeout=2).close()\n"
    "    print('NETWORK-' + 'REACHED')\n"
    "except OSError:\n"
    "    print('NETWORK-' + 'BLOCKED')\n"
)
CHEAT = "import torch\ntorch.allclose = lambda *a, **k: True\ntorch.isclose = lambda a, b, **k: torch.ones_like(a, dtype=torch.bool)\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def corpus(folder: Path, port: int) -> None:
    """correct, blank, wrong, and two hostile: a cheat and a kernel that kills itself."""
    import nbformat

    make_submissions(
        folder,
        {"correct": "correct", "blank": "blank", "wrong": "partial", "cheat": "blank", "kill": "correct"},
    )  # fmt: skip
    cheat = next((folder / "cheat" / LESSON).glob("*.ipynb"))
    nb = nbformat.read(cheat, as_version=4)
    nb.cells.insert(1, nbformat.v4.new_code_cell(CHEAT + SOCKET_PROBE.format(port=port)))
    nbformat.write(nb, cheat)
    kill = next((folder / "kill" / LESSON).glob("*.ipynb"))
    nb = nbformat.read(kill, as_version=4)
    nb.cells.append(
        nbformat.v4.new_code_cell("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    )
    nbformat.write(nb, kill)


class Cluster:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.tag = uuid.uuid4().hex
        env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
        dask = str(BIN / "dask")
        self.scheduler = subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard"],
            stdout=subprocess.DEVNULL, stderr=(base / "scheduler.log").open("w"), env=env,
        )  # fmt: skip
        self.workers = []
        for i in range(2):
            self.workers.append(
                subprocess.Popen(
                    [
                        dask,
                        "worker",
                        self.address,
                        "--nthreads",
                        "1",
                        "--no-nanny",
                        "--no-dashboard",
                        "--host",
                        "127.0.0.1",
                        "--local-directory",
                        str(base / f"w{i}"),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=(base / f"worker{i}.log").open("w"),
                    env={**env, "COURSE_TEST_RUN_TAG": f"{self.tag}-{i}"},
                )  # fmt: skip
            )
        from distributed import Client

        with Client(self.address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n" + p.read_text(errors="replace")[-3000:]
            for p in sorted(self.base.glob("*.log"))
        )

    def stop(self) -> None:
        for proc in [*self.workers, self.scheduler]:
            if proc.poll() is None:
                proc.terminate()
        for proc in [*self.workers, self.scheduler]:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def cluster():
    # Not under tmp_path: the workers' folders must outlive nothing but this test.
    base = Path(tempfile.mkdtemp(prefix="course-dask-test-"))
    c = Cluster(base)
    try:
        yield c
    finally:
        c.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def database():
    import psycopg2

    server = postgres_url()
    name = f"course_test_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(f"{server}/postgres")
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")
    try:
        yield f"{server}/{name}"
    finally:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


def test_cluster_grades_like_local_workers(tmp_path, cluster, database):
    corpus(tmp_path / "sub", cluster.port)
    local = course_grade(str(tmp_path / "sub"), "--out", str(tmp_path / "local"), "--workers", "2")
    assert local.returncode in (0, 1), local.stdout + local.stderr
    try:
        remote = course_grade(
            str(tmp_path / "sub"), "--out", str(tmp_path / "dask"),
            "--scheduler", cluster.address, "--db", database, timeout=400,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("grading on the cluster hung:\n" + cluster.logs())
    assert remote.returncode == local.returncode, remote.stdout + remote.stderr + cluster.logs()
    assert read_grades(tmp_path / "dask") == read_grades(tmp_path / "local")
    assert read_grades(tmp_path / "dask")["cheat"] == 0
    # Feedback came back as bytes; the sandbox held on the worker (no network there).
    page = (tmp_path / "dask" / "feedback" / "cheat" / LESSON).glob("*.html")
    text = next(page).read_text(encoding="utf-8")
    assert "NETWORK-BLOCKED" in text and "NETWORK-REACHED" not in text


def test_losing_a_worker_mid_run_still_grades_everything_once(tmp_path, cluster, database):
    corpus(tmp_path / "sub", cluster.port)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "autograder.cli", "grade", "--quiet", str(tmp_path / "sub"),
         "--out", str(out), "--scheduler", cluster.address, "--db", database],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    # Wait until the first worker is grading (a kernel of its fork server runs), then kill it.
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if len(tagged(f"{cluster.tag}-0")) >= 4:  # worker, fork server, kernel helpers
            break
        time.sleep(0.05)
    assert proc.poll() is None
    before = json.loads((out / "state.json").read_text()).get("graded", {})
    assert len(before) < 5
    cluster.workers[0].send_signal(signal.SIGKILL)
    deadline = time.monotonic() + 5
    while (left := tagged(f"{cluster.tag}-0")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, "the killed worker's processes are still there:\n" + describe(left)
    try:
        stdout, _ = proc.communicate(timeout=400)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("grading on the cluster hung:\n" + cluster.logs())
    assert "graded 5, unchanged 0" in stdout, stdout
    grades = read_grades(out)  # every grade exactly once
    assert set(grades) == {"correct", "blank", "wrong", "cheat", "kill"}
    assert grades["cheat"] == 0 and grades["blank"] == 0 and grades["correct"] > grades["wrong"] > 0


def test_the_class_view_of_a_class_graded_on_the_cluster_and_resumed(tmp_path, cluster, database):
    """The sample class (course samples), stopped by SIGTERM part-way on the cluster and run
    again: misconceptions.csv, items.csv, grades.csv, similarity.csv and the report count what
    was planted, the submissions graded by the first run included."""
    from autograder.authoring.samples import DEFAULT_LESSON, sample_class, write_class
    from tests.test_samples import assert_class_view, stopped_part_way

    write_class(tmp_path, DEFAULT_LESSON)
    total = len(sample_class(DEFAULT_LESSON))
    out = tmp_path / "out"
    command = [
        sys.executable, "-m", "autograder.cli", "grade", "--quiet", str(tmp_path / "submitted"),
        "--out", str(out), "--scheduler", cluster.address, "--db", database,
    ]  # fmt: skip
    first = stopped_part_way(command, out)
    try:
        stdout, _ = first.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        first.kill()
        pytest.fail("the stopped run hung:\n" + cluster.logs())
    assert first.returncode == 128 + signal.SIGTERM, stdout
    done = len(json.loads((out / "state.json").read_text())["graded"])
    assert 3 <= done < total
    try:
        again = course_grade(
            str(tmp_path / "submitted"), "--out", str(out),
            "--scheduler", cluster.address, "--db", database, timeout=400,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("grading on the cluster hung:\n" + cluster.logs())
    assert again.returncode == 0, again.stdout + again.stderr + cluster.logs()
    assert f"graded {total - done}, unchanged {done}, failed 0" in again.stdout, again.stdout
    assert_class_view(out, DEFAULT_LESSON)
