"""`course serve`, the grading service: real nbgrader exchange, real kernels, real kills.

Learners submit with nbgrader's own exchange classes (autograder.grading.learner_side); the
service runs as `course serve` in a process of its own, killed with SIGKILL mid-burst."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

import nbformat
import pytest

from autograder.authoring.samples import fill, lesson_paths, points
from autograder.config import ROOT
from autograder.grading.learner_side import fetch_feedback, publish, submit
from tests import readme_commands as rc

LESSON = "02_derivatives"

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("grade")]


def notebooks() -> tuple[str, dict[str, nbformat.NotebookNode], float]:
    solution_path, released_path = lesson_paths(LESSON)
    solution = nbformat.read(solution_path, as_version=4)
    released = nbformat.read(released_path, as_version=4)
    kinds = {"correct": fill(released, solution), "blank": released}
    return solution_path.name, kinds, sum(points(solution).values())


# The README's command; the kill test runs it exactly as written (EXCHANGE and OUT replaced).
README_SERVE = ".venv/bin/course serve --exchange EXCHANGE --out OUT --workers 2 --per-hour 10"


def start(exchange: Path, out: Path, *extra: str) -> subprocess.Popen:
    """The service as the README starts it; ``extra`` options are added after its own."""
    words = [
        {"EXCHANGE": str(exchange), "OUT": str(out)}.get(word, word)
        for word in shlex.split(rc.command(README_SERVE))
    ]
    log = (out.parent / f"{out.name}.log").open("a")
    return subprocess.Popen(
        [*words, *extra], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def events(out: Path) -> list[dict]:
    path = out / "service" / "journal.jsonl"
    if not path.exists():
        return []
    found = []
    for line in path.read_text().splitlines():
        try:
            found.append(json.loads(line))
        except ValueError:
            pass
    return found


def wait_for(predicate, proc: subprocess.Popen, out: Path, timeout: float = 60) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = events(out)
        if predicate(found):
            return found
        assert proc.poll() is None, (out.parent / f"{out.name}.log").read_text()[-3000:]
        time.sleep(0.1)
    raise AssertionError(f"timed out; journal: {found[-5:]}")


def ids(found: list[dict], kind: str) -> list[str]:
    return [e["id"] for e in found if e["e"] == kind]


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


def test_killed_mid_burst_and_restarted_grades_every_submission_once(tmp_path: Path) -> None:
    """SIGKILL while grading; one submission arrives while the service is down; a malformed
    folder, a submission holding a link and an unreadable notebook are reported and skipped
    or graded as blank, and the service goes on."""
    exchange, out = tmp_path / "exchange", tmp_path / "out"
    publish(exchange, LESSON)
    name, kinds, total = notebooks()
    inbound = exchange / "autograd-course" / "inbound"
    proc = start(exchange, out)
    try:
        expected = {}
        for i in range(6):
            kind = "correct" if i % 2 == 0 else "blank"
            sid = submit(exchange, tmp_path / f"home{i}", f"s{i}", LESSON, kinds[kind], name)
            expected[sid] = total if kind == "correct" else 0.0
        (inbound / "not-a-submission").mkdir()
        linked = submit(exchange, tmp_path / "homeL", "linker", LESSON, kinds["blank"], name)
        os.symlink("/etc/passwd", inbound / linked / "passwd.ipynb")
        wait_for(lambda f: len(ids(f, "graded")) >= 1, proc, out)
        stop(proc)
        before = events(out)
        assert len(ids(before, "graded")) < len(expected), "killed mid-burst, not after it"

        late = submit(exchange, tmp_path / "home9", "s9", LESSON, kinds["correct"], name)
        expected[late] = total
        broken = submit(exchange, tmp_path / "homeB", "broken", LESSON, kinds["correct"], name)
        (inbound / broken / name).write_text("{ this is not a notebook")
        expected[broken] = 0.0

        proc = start(exchange, out)
        found = wait_for(lambda f: set(expected) <= set(ids(f, "released")), proc, out)
    finally:
        stop(proc)
    graded = ids(found, "graded")
    assert sorted(graded) == sorted(set(graded)) == sorted(expected), "each exactly once"
    scores = {e["id"]: e["result"]["score"] for e in found if e["e"] == "graded"}
    assert scores == expected
    notes = next(e["result"]["notes"] for e in found if e["e"] == "graded" and e["id"] == broken)
    assert any("unreadable" in n for n in notes), notes
    rejected = {e["id"]: e["reason"] for e in found if e["e"] == "rejected"}
    assert set(rejected) == {"not-a-submission", linked}, rejected
    assert "link" in rejected[linked]
    # Fetch Feedback shows the score, and no hidden test.
    pages = fetch_feedback(exchange, tmp_path / "home9", "s9", LESSON)
    assert len(pages) == 1
    page = pages[0].read_text()
    assert f"{total:g}" in page and "HIDDEN TESTS" not in page


def test_a_learner_submitting_in_a_loop_is_limited_and_the_others_are_served(
    tmp_path: Path,
) -> None:
    exchange, out = tmp_path / "exchange", tmp_path / "out"
    publish(exchange, LESSON)
    name, kinds, _ = notebooks()
    proc = start(exchange, out, "--lessons", LESSON, "--per-hour", "2")
    try:
        wait_for(lambda f: (out / "service" / "sources.json").exists(), proc, out, timeout=90)
        made: dict[str, float] = {}
        others = []
        loop = tmp_path / "loop"
        for i in range(20):  # 20 in about 8 s
            made[submit(exchange, loop, "looper", LESSON, kinds["blank"], name)] = time.time()
            time.sleep(0.4)
            if i % 5 == 4:
                sid = submit(
                    exchange, tmp_path / f"o{i}", f"other{i}", LESSON, kinds["blank"], name
                )
                made[sid] = time.time()
                others.append(sid)
        found = wait_for(
            lambda f: set(others) <= set(ids(f, "released")) and ids(f, "limited"), proc, out
        )
        time.sleep(2)  # room for a third grade of the looper, were the limit not held
        found = events(out)
    finally:
        stop(proc)
    mine = [e for e in found if e["id"] in made and e["id"] not in others]
    assert len([e for e in mine if e["e"] == "started"]) == 2, "two graded in the hour, no more"
    released = {e["id"]: e["at"] for e in found if e["e"] == "released"}
    latency = [released[sid] - made[sid] for sid in others]
    assert max(latency) < 20, latency
    # The learner is told, in both languages, where their feedback will be.
    pages = fetch_feedback(exchange, loop, "looper", LESSON)
    told = [p.read_text() for p in pages if "waiting" in p.read_text()]
    assert told and "排队" in told[0] and "2 submission(s) per learner per hour" in told[0]
