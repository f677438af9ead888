"""`course grade` end to end: real nbgrader, real kernels, SQLite and PostgreSQL gradebooks."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from autograder.authoring.samples import fill, lesson_paths, points
from tests.derivatives import KEPT_POWER, KEPT_POWER_DQ_DB
from tests.test_nbgrader_e2e import visible_text

LESSON = "02_derivatives"
WRONG = {"dq_db": KEPT_POWER_DQ_DB}

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("grade")]


def make_submissions(folder: Path, students: dict[str, str]) -> dict[str, float]:
    """Write submissions ('correct', 'blank' or 'partial' per student); return expected scores."""
    solution_path, released_path = lesson_paths(LESSON)
    solution = nbformat.read(solution_path, as_version=4)
    released = nbformat.read(released_path, as_version=4)
    total = sum(points(solution).values())
    kinds = {
        "correct": (fill(released, solution), total),
        "blank": (released, 0.0),
        "partial": (fill(released, solution, WRONG), total - points(solution)["dq_db_tests"]),
    }
    expected = {}
    for student, kind in students.items():
        nb, score = kinds[kind]
        path = folder / student / LESSON / solution_path.name
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
        expected[student] = score
    return expected


def course_grade(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "autograder.cli", "grade", "--quiet", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def read_grades(out: Path) -> dict[str, float]:
    rows = list(csv.DictReader((out / "grades.csv").open()))
    assert {"assignment", "student_id", "score", "max_score"} <= set(rows[0])
    keys = [(r["student_id"], r["assignment"]) for r in rows]
    assert len(keys) == len(set(keys)), "every grade exactly once"
    return {r["student_id"]: float(r["score"]) for r in rows if r["assignment"] == LESSON}


STUDENTS = {"correct1": "correct", "blank1": "blank", "partial1": "partial", "学生-張": "correct"}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("grade")
    expected = make_submissions(base / "submitted", STUDENTS)
    before = {p: p.read_bytes() for p in (base / "submitted").rglob("*.ipynb")}
    proc = course_grade(str(base / "submitted"), "--out", str(base / "out"), "--workers", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return SimpleNamespace(
        base=base, expected=expected, before=before, proc=proc, grades=read_grades(base / "out")
    )


def test_scores_are_what_each_submission_earns(graded):
    base, expected, proc = graded.base, graded.expected, graded.proc
    assert read_grades(base / "out") == expected
    assert "graded 4, unchanged 0, failed 0" in proc.stdout


def test_submissions_are_never_modified(graded):
    base, before = graded.base, graded.before
    assert {p: p.read_bytes() for p in (base / "submitted").rglob("*.ipynb")} == before


def test_feedback_per_student_without_hidden_tests(graded):
    base = graded.base
    pages = sorted((base / "out" / "feedback").rglob("*.html"))
    assert {p.parts[-3] for p in pages} == set(STUDENTS)
    for page in pages:
        text = visible_text(page.read_text(encoding="utf-8"))
        assert "hidden=True" not in text and "HIDDEN TESTS" not in text
    partial = visible_text(
        next(p for p in pages if p.parts[-3] == "partial1").read_text(encoding="utf-8")
    )
    assert KEPT_POWER[0] in partial and KEPT_POWER[1] in partial


def test_report_has_plots(graded):
    base = graded.base
    report = base / "out" / "report"
    page = (report / "index.html").read_text(encoding="utf-8")
    for png in ("scores.png", "exercises.png", "slowest.png"):
        assert (report / png).stat().st_size > 1000 and png in page


def test_second_run_grades_only_what_changed(graded):
    base, expected = graded.base, graded.expected
    proc = course_grade(str(base / "submitted"), "--out", str(base / "out"))
    assert "graded 0, unchanged 4" in proc.stdout, proc.stdout + proc.stderr
    # The blank learner finishes the work: only that submission is graded again.
    expected.update(make_submissions(base / "submitted", {"blank1": "correct"}))
    proc = course_grade(str(base / "submitted"), "--out", str(base / "out"))
    assert "graded 1, unchanged 3" in proc.stdout, proc.stdout + proc.stderr
    assert read_grades(base / "out") == expected


def test_zip_of_the_layout_into_a_deep_folder(tmp_path):
    """A zip, graded into a deep folder. When the kernels' folders lived in it, their Unix
    sockets (108 bytes at most) could not be made and every submission scored 0."""
    expected = make_submissions(tmp_path / "sub", {"zipped": "partial"})
    path = next((tmp_path / "sub" / "zipped" / LESSON).glob("*.ipynb"))
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(WHERE))  # last: ipykernel counts as tampering
    nbformat.write(nb, path)
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in (tmp_path / "sub").rglob("*"):
            zf.write(path, Path("submitted") / path.relative_to(tmp_path / "sub"))
    out = tmp_path / ("grading-run-" + "x" * 60) / "2026-fall" / "out"
    assert len(str(out / ".kernels/k-12345678/ipc-12345")) > 108  # the old place: too deep
    proc = course_grade(str(archive), "--out", str(out), "--workers", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert read_grades(out) == expected
    page = next((out / "feedback" / "zipped" / LESSON).glob("*.html")).read_text(encoding="utf-8")
    connection = Path(re.search(r"CONNECTION (\S+\.json)", page).group(1))
    assert len(str(connection)) < 80, connection
    scratch = next(p for p in connection.parents if p.name.startswith("course-kernels-"))
    assert scratch.parent == Path("/tmp") and not scratch.exists(), "the kernels' folder is removed"


WHERE = "from ipykernel import get_connection_file\nprint('CONNECTION', get_connection_file())\n"


PEEK = (
    "import glob, os\n"
    "print('SIBLINGS', sorted(os.listdir('..')), len(glob.glob('../*/connection.json')))\n"
)


def test_a_kernel_cannot_see_the_other_kernels():
    """Graded into a folder outside /tmp (as an instructor would), two workers: each kernel
    sees only its own folder, not the other worker's kernel nor the one started ahead."""
    base = Path("/var/tmp") / f"course-test-{uuid.uuid4().hex[:8]}"
    try:
        make_submissions(base / "sub", {"peek1": "correct", "peek2": "correct"})
        for student in ("peek1", "peek2"):
            path = next((base / "sub" / student / LESSON).glob("*.ipynb"))
            nb = nbformat.read(path, as_version=4)
            nb.cells.insert(1, nbformat.v4.new_code_cell(PEEK))
            nbformat.write(nb, path)
        proc = course_grade(str(base / "sub"), "--out", str(base / "out"), "--workers", "2")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        for student in ("peek1", "peek2"):
            page = next((base / "out" / "feedback" / student / LESSON).glob("*.html"))
            seen = re.search(r"SIBLINGS \[([^\]]*)\] (\d+)", page.read_text(encoding="utf-8"))
            assert seen, "the peeking cell ran"
            assert len(seen.group(1).split(",")) == 1 and seen.group(2) == "1", seen.group(0)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_missing_input_is_a_clear_error(tmp_path):
    proc = course_grade(str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2 and "does not exist" in proc.stdout


@pytest.mark.parametrize(
    ("db", "said"),
    [
        ("mysql://grader@127.0.0.1/course", "must be SQLite or PostgreSQL"),
        ("not a url", "is not a database URL"),
        # A port nothing listens on: refused at once, and the password is not shown.
        ("postgresql://grader:s3cret@127.0.0.1:9/course", "cannot open the gradebook"),
        ("sqlite:////nonexistent-folder/gradebook.db", "cannot open the gradebook"),
    ],
)
def test_an_unusable_gradebook_is_a_clear_error_before_any_work(tmp_path, db, said):
    submitted = tmp_path / "submitted"
    make_submissions(submitted, {"blank1": "blank"})
    proc = course_grade(str(submitted), "--out", str(tmp_path / "out"), "--db", db)
    assert proc.returncode == 2 and said in proc.stdout, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr and "s3cret" not in proc.stdout
    assert not (tmp_path / "out" / "course").exists(), "nothing prepared"


@pytest.mark.parametrize(
    "flag", ["--workers", "--threads", "--cell-timeout", "--notebook-timeout", "--memory"]
)
def test_a_limit_below_one_is_refused_before_any_work(tmp_path, flag):
    """A --memory of -1 once left every kernel unable to start: 60 s lost per submission."""
    for value in ("0", "-1"):
        proc = course_grade(str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"), flag, value)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert f"argument {flag}: must be more than 0, not {value}" in proc.stderr
    proc = course_grade(str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"), flag, "x")
    assert proc.returncode == 2 and f"argument {flag}: invalid" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_out_that_is_a_file_is_a_clear_error(tmp_path):
    submitted = tmp_path / "submitted"
    make_submissions(submitted, {"blank1": "blank"})
    (tmp_path / "out").write_text("keep me")
    proc = course_grade(str(submitted), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2 and "is a file" in proc.stdout, proc.stdout + proc.stderr
    assert (tmp_path / "out").read_text() == "keep me"


@pytest.mark.parametrize("kill_after", [0, 2], ids=["after-prepare", "mid-grading"])
def test_killed_then_resumed(tmp_path, kill_after):
    """Killed once the gradebook is prepared, or after some grades: a rerun ends with each grade once."""
    students = {f"s{i}": ("correct", "blank", "partial")[i % 3] for i in range(6)}
    expected = make_submissions(tmp_path / "sub", students)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "autograder.cli", "grade", "--quiet", str(tmp_path / "sub"), "--out", str(out), "--workers", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            state = json.loads((out / "state.json").read_text())
            if state.get("sources") and len(state.get("graded", {})) >= kill_after:
                break
        except (FileNotFoundError, json.JSONDecodeError):
            pass
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(json.loads((out / "state.json").read_text()).get("graded", {}))
    assert kill_after <= done < len(students)

    proc = course_grade(str(tmp_path / "sub"), "--out", str(out), "--workers", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"unchanged {done}" in proc.stdout
    assert read_grades(out) == expected


def postgres_url() -> str:
    url = os.environ.get("COURSE_TEST_POSTGRES")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must provide a PostgreSQL server (COURSE_TEST_POSTGRES)")
        pytest.skip("no PostgreSQL server: set COURSE_TEST_POSTGRES=postgresql://user@host:port")
    return url


@pytest.mark.postgres
def test_postgresql_gives_the_same_grades_as_sqlite(graded, tmp_path):
    import psycopg2

    server = postgres_url()
    name = f"course_test_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(f"{server}/postgres")
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")
    try:
        make_submissions(tmp_path / "sub", STUDENTS)  # the same submissions as the SQLite run
        proc = course_grade(
            str(tmp_path / "sub"), "--out", str(tmp_path / "out"), "--db", f"{server}/{name}"
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert read_grades(tmp_path / "out") == graded.grades
    finally:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


def seen(out: Path, student: str, label: str) -> str:
    """The line a graded notebook's cell printed after ``label``."""
    nb = nbformat.read(next((out / "course" / "autograded" / student / LESSON).glob("*.ipynb")), 4)
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    return text[text.index(label) :].split("\n")[0]


@pytest.mark.parametrize("flags,expected", [((), "1 1"), (("--threads", "3"), "3 3")])
def test_threads_reach_the_kernel(tmp_path, flags, expected):
    """Two workers on this machine's cores share them out; --threads overrides."""
    cores = len(os.sched_getaffinity(0))
    if not flags:
        expected = f"{max(1, cores // 2)} {max(1, cores // 2)}"
    make_submissions(tmp_path / "sub", {"t1": "correct", "t2": "blank"})
    for student in ("t1", "t2"):
        path = next((tmp_path / "sub" / student / LESSON).glob("*.ipynb"))
        nb = nbformat.read(path, as_version=4)
        nb.cells.append(
            nbformat.v4.new_code_cell(
                "import gc, os, torch\n"
                "print('THREADS', torch.get_num_threads(), os.environ.get('OMP_NUM_THREADS'))\n"
                "print('FROZEN', gc.get_freeze_count())"
            )
        )
        nbformat.write(nb, path)
    proc = course_grade(
        str(tmp_path / "sub"), "--out", str(tmp_path / "out"), "--workers", "2", *flags
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for student in ("t1", "t2"):
        assert seen(tmp_path / "out", student, "THREADS") == f"THREADS {expected}"
        # The kernel inherited the preload frozen out of its garbage collector's walks.
        assert int(seen(tmp_path / "out", student, "FROZEN").split()[1]) > 100_000


def test_one_student_many_lessons_in_parallel(tmp_path):
    """Workers grading one student's lessons at once must not both create the student."""
    from autograder.authoring.release import lessons

    chosen = lessons()[:4]
    for lesson in chosen:
        released = lesson_paths(lesson)[1]
        path = tmp_path / "in" / "ada" / lesson / released.name
        path.parent.mkdir(parents=True)
        path.write_bytes(released.read_bytes())
    out = tmp_path / "out"
    result = course_grade(str(tmp_path / "in"), "--out", str(out), "--workers", "2")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    rows = list(csv.DictReader((out / "grades.csv").open()))
    assert sorted((r["student_id"], r["assignment"]) for r in rows) == [
        ("ada", lesson) for lesson in chosen
    ]
    assert all(float(r["score"]) == 0 for r in rows)


def test_many_threads_leave_the_memory_limit_to_memory(tmp_path):
    """A kernel's limit is on address space, where every thread that allocates could
    reserve a 64 MiB malloc arena of its own. With one worker on a 16-core machine
    (16 torch threads) correct answers once scored 0 for want of memory; here 16
    threads and half a GiB, which failed before arenas were capped, get full marks."""
    lesson = "01_the_whole_game"
    solution_path, released_path = lesson_paths(lesson)
    solution = nbformat.read(solution_path, as_version=4)
    path = tmp_path / "sub" / "ada" / lesson / released_path.name
    path.parent.mkdir(parents=True)
    nbformat.write(fill(nbformat.read(released_path, as_version=4), solution), path)
    out = tmp_path / "out"
    proc = course_grade(
        str(tmp_path / "sub"), "--out", str(out), "--workers", "1",
        "--threads", "16", "--memory", "0.5",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    rows = list(csv.DictReader((out / "grades.csv").open()))
    assert [float(r["score"]) for r in rows] == [sum(points(solution).values())]


def test_a_lesson_that_cannot_be_prepared_is_a_clear_error(tmp_path):
    """The course is prepared in a forked process; its failure still reaches the grader."""
    from autograder.config import SOURCE_DIR
    from autograder.grading.grade import prepare_while_preloading

    lesson = tmp_path / "root" / SOURCE_DIR / "99_broken"
    lesson.mkdir(parents=True)
    (lesson / "99_broken.ipynb").write_text("{not a notebook", encoding="utf-8")
    state: dict = {"sources": {}}
    with pytest.raises(RuntimeError, match="cannot prepare 99_broken"):
        prepare_while_preloading(
            tmp_path / "course", ["99_broken"], f"sqlite:///{tmp_path / 'gb.db'}", state,
            tmp_path / "root",
        )  # fmt: skip
    assert state["sources"] == {}
