"""`course samples` and the README's quick start for instructors, run as written.

The quick start writes lesson 2's sample class (autograder/authoring/samples.py), grades it,
opens the report and a feedback page (through a stand-in browser that notes what it was asked
to open) and exports the grades for Canvas. The class view must count what was planted:
:func:`assert_class_view`, which tests/test_grade_cluster.py asserts of a class graded on a
Dask cluster too.
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from autograder.authoring.samples import (
    DEFAULT_LESSON,
    Sample,
    lesson_paths,
    points,
    sample_class,
)
from autograder.config import ROOT

LESSON = DEFAULT_LESSON
QUICK_START = (
    ".venv/bin/course samples --dir demo",
    ".venv/bin/course grade demo/submitted --workers 2 --out demo/grading-out",
    ".venv/bin/python -m webbrowser demo/grading-out/report/index.html",
    ".venv/bin/python -m webbrowser "
    "demo/grading-out/feedback/power_kept_1/02_derivatives/02_derivatives.html",
    ".venv/bin/course export demo/grading-out --lms canvas --map demo/sample-students.csv",
)
COPIES = ("copy_a", "copy_b")


def course_samples(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "autograder.cli", "samples", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return h.hexdigest()


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def expected_categories(samples: list[Sample], lesson: str) -> dict[str, dict[str, list[str]]]:
    """test grade_id -> category -> the learners the class view must count there."""
    solution, _ = lesson_paths(lesson)
    found: dict[str, dict[str, list[str]]] = {}
    for gid in points(nbformat.read(solution, as_version=4)):
        for s in samples:
            category = "blank" if s.answers is None else s.expect.get(gid, "right")
            found.setdefault(gid, {}).setdefault(category, []).append(s.student)
    return {gid: {c: sorted(v) for c, v in cats.items()} for gid, cats in found.items()}


def assert_class_view(out: Path, lesson: str = LESSON) -> None:
    """misconceptions.csv, items.csv, grades.csv, similarity.csv and the report of a graded
    sample class count exactly what :func:`sample_class` planted."""
    samples = sample_class(lesson)
    everyone = sorted(s.student for s in samples)
    expected = expected_categories(samples, lesson)
    solution, _ = lesson_paths(lesson)
    full = points(nbformat.read(solution, as_version=4))

    counted: dict[str, dict[str, list[str]]] = {}
    for row in read_csv(out / "misconceptions.csv"):
        assert row["lesson"] == lesson
        learners = sorted(row["learners"].split(";")) if row["learners"] else []
        assert int(row["count"]) == len(learners)
        if learners:
            category = row["category"] + (f":{row['mistake']}" if row["mistake"] else "")
            counted.setdefault(row["grade_id"], {})[category] = learners
    assert counted == expected

    items = {r["grade_id"]: r for r in read_csv(out / "items.csv")}
    assert list(items) == list(full), "every exercise, in lesson order"
    for gid, row in items.items():
        assert int(row["n"]) == len(samples)
        assert int(row["right"]) == len(expected[gid].get("right", []))
        assert int(row["blank"]) == len(expected[gid].get("blank", []))
        assert int(row["rule"]) == len(expected[gid].get("rule", []))

    grades = {r["student_id"]: r for r in read_csv(out / "grades.csv")}
    assert sorted(grades) == everyone, "every learner once"
    for s in samples:
        for gid, most in full.items():
            right = s.answers is not None and gid not in s.expect
            assert float(grades[s.student][f"{lesson}:{gid}"]) == (most if right else 0), (s, gid)
        assert grades[s.student]["timestamp"].startswith("2027-03-01"), "nbgrader read its time"

    pairs = read_csv(out / "similarity.csv")
    assert {(p["learner_a"], p["learner_b"]) for p in pairs} == {COPIES}, pairs
    assert "notebook" in {p["exercise"] for p in pairs}

    report = out / "report" / "index.html"
    page = report.read_text(encoding="utf-8")
    assert f'data-pair="{" ".join(COPIES)}"' in page
    table = page[page.index('<table class="students">') :]
    table = table[: table.index("</table>")]
    assert re.findall(r'<tr data-learner="([^"]+)">', table) == everyone
    links = re.findall(r'href="([^"]+)"', table)
    assert len(links) == len(samples)
    for link in links:
        assert (report.parent / html.unescape(link)).resolve().is_file(), link


# --- the README's quick start, graded once -------------------------------------------------


@pytest.fixture(scope="module")
def quick_start(tmp_path_factory):
    from tests.test_readme import run_readme

    base = tmp_path_factory.mktemp("quick")
    demo = base / "demo"
    # The only words replaced: the folder, so that the test writes nowhere in the checkout.
    places = {
        word: str(base / word)
        for command in QUICK_START
        for word in command.split()
        if word.startswith("demo")
    }
    opened = base / "opened.txt"
    browser = base / "browser"
    browser.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
    browser.chmod(0o755)
    runs = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BROWSER", str(browser))  # python -m webbrowser opens it
        for command in QUICK_START:
            proc = run_readme(command, places)
            assert proc.returncode == 0, command + "\n" + proc.stdout[-3000:] + proc.stderr[-3000:]
            runs.append(proc)
    return SimpleNamespace(base=base, demo=demo, out=demo / "grading-out", runs=runs, opened=opened)


pytestmark = [pytest.mark.xdist_group("grade")]


@pytest.mark.slow
def test_the_quick_start_grades_the_planted_class(quick_start):
    samples = sample_class(LESSON)
    written, graded = quick_start.runs[0].stdout, quick_start.runs[1].stdout
    assert f"graded {len(samples)}, unchanged 0, failed 0" in graded, graded[-2000:]
    # What it wrote, in both languages, and the next command, which grades them.
    assert f"{len(samples)} sample submissions of {LESSON}" in written
    assert f"{len(samples)} 份示例提交" in written
    assert "∂Q/∂b still has b" in written and "指数没有降下来" in written
    assert "course grade" in written and str(quick_start.demo / "submitted") in written
    for s in samples:
        folder = quick_start.demo / "submitted" / s.student / LESSON
        assert (folder / f"{LESSON}.ipynb").is_file()
        assert (folder / "timestamp.txt").read_text().endswith(" UTC\n")
    assert_class_view(quick_start.out)
    # The browser was asked for the report and the feedback page, both there.
    opened = quick_start.opened.read_text().split()
    assert [Path(p).name for p in opened] == ["index.html", f"{LESSON}.html"]
    assert all(Path(p).is_file() for p in opened)
    feedback = Path(opened[1]).read_text(encoding="utf-8")
    assert "still has b" in feedback and "还留着 b" in feedback
    # Canvas's file has every sample learner, mapped by the file course samples wrote.
    with (quick_start.out / "canvas.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert sorted(r[2] for r in rows[2:]) == sorted(f"{s.student}@example.edu" for s in samples)


@pytest.mark.slow
def test_running_again_refuses_to_overwrite(quick_start):
    before = digest(quick_start.demo)
    again = course_samples("--dir", str(quick_start.demo))
    assert again.returncode == 1, again.stdout + again.stderr
    assert "nothing was written" in again.stderr and "什么也没有写" in again.stderr
    assert "--force" in again.stderr and "backward_1/02_derivatives" in again.stderr
    assert digest(quick_start.demo) == before


def test_it_never_mixes_samples_into_a_class_without_force(tmp_path):
    """Another learner's submission of the lesson: refused; with --force, left as it was."""
    mine = tmp_path / "submitted" / "real_learner" / LESSON / "mine.txt"
    mine.parent.mkdir(parents=True)
    mine.write_text("my work")
    refused = course_samples("--dir", str(tmp_path))
    assert refused.returncode == 1 and "real_learner/02_derivatives" in refused.stderr
    assert sorted(p.name for p in (tmp_path / "submitted").iterdir()) == ["real_learner"]
    assert not (tmp_path / "sample-students.csv").exists()
    forced = course_samples("--dir", str(tmp_path), "--force")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert mine.read_text() == "my work"
    assert len(list((tmp_path / "submitted").iterdir())) == len(sample_class(LESSON)) + 1
    mapping = read_csv(tmp_path / "sample-students.csv")
    assert [r["student_id"] for r in mapping] == [s.student for s in sample_class(LESSON)]


def test_an_unknown_lesson_is_a_clear_error(tmp_path):
    proc = course_samples("--dir", str(tmp_path), "--lesson", "02_derivative")
    assert proc.returncode == 2
    assert "no lesson 02_derivative in this course" in proc.stderr
    assert "本课程没有 02_derivative 这一课" in proc.stderr
    assert "02_derivatives" in proc.stderr, "the lessons there are are named"
    assert not any(tmp_path.iterdir()), "nothing written"


def test_other_lessons_get_a_plainer_class(tmp_path):
    proc = course_samples("--dir", str(tmp_path), "--lesson", "03_chain_rule", "--lesson", LESSON)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    submitted = tmp_path / "submitted"
    assert sorted(p.parent.name for p in submitted.glob("*/03_chain_rule")) == [
        "blank_1", "right_1", "right_2", "right_3", "wrong_1",
    ]  # fmt: skip
    wrong = nbformat.read(submitted / "wrong_1" / "03_chain_rule" / "03_chain_rule.ipynb", 4)
    assert any("return None" in c.source for c in wrong.cells if c.cell_type == "code")
    assert len(list(submitted.glob(f"*/{LESSON}"))) == len(sample_class(LESSON))


def test_the_default_folder_is_the_courses_own():
    import argparse

    from autograder.commands import samples

    parser = argparse.ArgumentParser()
    samples.add_arguments(parser)
    args = parser.parse_args([])
    assert args.dir == ROOT and args.lesson is None and not args.force


@pytest.mark.slow
def stopped_part_way(command: list[str], out: Path, graded: int = 3) -> subprocess.Popen:
    """``course grade`` started with ``command`` and sent SIGTERM once ``graded`` submissions
    are in its state file (``out``): the caller reads what it said as it stopped."""
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    found: dict = {}
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and run.poll() is None and len(found) < graded:
        time.sleep(0.2)
        try:
            found = json.loads((out / "state.json").read_text()).get("graded", {})
        except (OSError, ValueError):
            pass
    assert run.poll() is None, "the first run ended before it could be stopped"
    run.send_signal(signal.SIGTERM)
    return run


def test_a_resumed_run_counts_the_whole_class(tmp_path):
    """Stopped by SIGTERM part-way and run again: the class view covers both runs' learners."""
    from autograder.authoring.samples import write_class

    write_class(tmp_path, LESSON)
    total, out = len(sample_class(LESSON)), tmp_path / "out"
    command = [sys.executable, "-m", "autograder.cli", "grade", "--quiet", "--workers", "2"]
    command += [str(tmp_path / "submitted"), "--out", str(out)]
    first = stopped_part_way(command, out)
    stdout, _ = first.communicate(timeout=120)
    assert first.returncode == 128 + signal.SIGTERM, stdout
    done = len(json.loads((out / "state.json").read_text())["graded"])
    assert 3 <= done < total
    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert f"graded {total - done}, unchanged {done}, failed 0" in again.stdout, again.stdout
    assert_class_view(out)
