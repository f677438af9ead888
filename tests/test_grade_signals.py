"""No process that `course grade` starts outlives it, however it ends (issue 16).

Every process of a run is found by a tag: the grader is started with COURSE_TEST_RUN_TAG
in its environment, and its workers, fork servers, their helpers and the kernels are
all forks of it (or inherit its environment), so /proc/<pid>/environ carries the tag.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.test_grade import course_grade, make_submissions, read_grades

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("grade")]

STUDENTS = {"s0": "correct", "s1": "blank", "s2": "partial"}
TAG = "COURSE_TEST_RUN_TAG"


def tagged(tag: str) -> list[int]:
    """Live processes whose environment carries the tag."""
    wanted = f"{TAG}={tag}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if wanted in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            pass  # gone, or a zombie
    return found


def describe(pids: list[int]) -> str:
    lines = []
    for pid in pids:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            lines.append(f"{pid} ppid={stat[1]} state={stat[0]} {cmd[:100]}")
        except OSError:
            pass
    return "\n".join(lines)


def state_of(out: Path) -> dict:
    try:
        return json.loads((out / "state.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


MOMENTS = {
    # workers and fork servers are up (more than the grader carries the tag), nothing graded
    "starting": lambda st, n: st.get("phase") == "grading" and not st.get("graded") and n >= 3,
    "grading": lambda st, n: len(st.get("graded", {})) >= 1 and st.get("phase") == "grading",
    "exporting": lambda st, n: st.get("phase") == "exporting",
}


def start_and_stop(tmp_path: Path, moment: str, signum: int):
    expected = make_submissions(tmp_path / "sub", STUDENTS)
    out = tmp_path / "out"
    tag = uuid.uuid4().hex
    proc = subprocess.Popen(
        [sys.executable, "-m", "autograder.cli", "grade", "--quiet", str(tmp_path / "sub"),
         "--out", str(out), "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={**os.environ, TAG: tag},
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if MOMENTS[moment](state_of(out), len(tagged(tag))):
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before the moment to stop it:\n" + proc.stdout.read()
    started = tagged(tag)
    os.killpg(proc.pid, signum)
    stdout, _ = proc.communicate(timeout=60)

    # Within 5 s, nothing of that run is left.
    deadline = time.monotonic() + 5
    while (left := tagged(tag)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"left after {signal.Signals(signum).name} at {moment}:\n{describe(left)}"
    assert len(started) >= 2 or moment == "exporting"

    state = json.loads((out / "state.json").read_text())  # whole, whatever the moment
    return expected, out, proc, stdout, state


def resume(tmp_path: Path, out: Path, expected: dict[str, float]) -> None:
    proc = course_grade(str(tmp_path / "sub"), "--out", str(out), "--workers", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert read_grades(out) == expected, proc.stdout  # each grade exactly once, and right


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_sigkill_leaves_nothing_and_resumes(tmp_path, moment):
    expected, out, proc, _, _ = start_and_stop(tmp_path, moment, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    # A killed grader cannot remove its kernels' folder; the next run removes it.
    left = list(Path("/tmp").glob(f"course-kernels-{proc.pid}-*"))
    assert len(left) == (0 if moment == "exporting" else 1), left
    resume(tmp_path, out, expected)
    assert not any(folder.exists() for folder in left), left


@pytest.mark.parametrize(
    "signum,moment",
    [
        (signal.SIGTERM, "grading"),
        (signal.SIGHUP, "grading"),
        (signal.SIGINT, "grading"),
        (signal.SIGTERM, "starting"),
    ],
    ids=["SIGTERM-grading", "SIGHUP-grading", "SIGINT-grading", "SIGTERM-starting"],
)
def test_stop_signal_ends_cleanly_with_a_message(tmp_path, signum, moment):
    expected, out, proc, stdout, state = start_and_stop(tmp_path, moment, signum)
    code = proc.returncode
    name = signal.Signals(signum).name
    assert code == 128 + signum, stdout
    assert f"stopped by {name}" in stdout and f"评分被 {name} 中止" in stdout, stdout
    assert "run the same command again" in stdout and "course grade" in stdout
    kept = sum(bool(r.get("ok")) for r in state.get("graded", {}).values())
    assert f"{kept} of {len(STUDENTS)} submission(s) graded" in stdout
    assert "Traceback" not in stdout
    assert not list(Path("/tmp").glob(f"course-kernels-{proc.pid}-*")), "kernels' folder left"
    resume(tmp_path, out, expected)


HOLD = """
import time
from autograder.grading.forkkernel import kernels_folder
print(kernels_folder(), flush=True)
time.sleep(120)
"""


def test_only_folders_of_graders_that_are_gone_are_removed(tmp_path):
    """A running grader's kernels' folder is never swept, whatever its age; one whose
    grader was killed is; and nothing else under /tmp that merely looks like one."""
    from autograder.grading.forkkernel import remove_abandoned

    holder = subprocess.Popen([sys.executable, "-c", HOLD], stdout=subprocess.PIPE, text=True)
    try:
        held = Path(holder.stdout.readline().strip())
        assert (held / ".in-use").is_file()
        lookalike = Path("/tmp") / f"course-kernels-{uuid.uuid4().hex}"
        lookalike.mkdir()  # no lock file: not one of ours
        link = Path("/tmp") / f"course-kernels-{uuid.uuid4().hex}"
        link.symlink_to(tmp_path)
        (tmp_path / ".in-use").touch()
        try:
            removed = remove_abandoned()
            assert held not in removed and held.is_dir(), "a live grader's folder was swept"
            assert lookalike.is_dir() and link.is_symlink() and tmp_path.is_dir()
            holder.kill()
            holder.wait()
            assert held in remove_abandoned() and not held.exists()
            assert lookalike.is_dir() and link.is_symlink() and tmp_path.is_dir()
        finally:
            lookalike.rmdir()
            link.unlink()
    finally:
        holder.kill()
