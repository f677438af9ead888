"""A corpus of hostile submissions, made from the released lesson, graded by `course grade`.

Every submission must get exactly what its honest content earns, the grader must not
crash or hang, nothing may leak or persist, and each event is noted for the learner.
"""

from __future__ import annotations

import copy
import csv
import json
import os
import socket
import threading
import uuid
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from autograder.authoring.samples import fill, grade_id, lesson_paths, points
from autograder.grading.grade import course_config_text
from tests.conftest import ROOT
from tests.test_grade import course_grade
from tests.test_nbgrader_e2e import visible_text

LESSON = "02_derivatives"
SOLUTION_PATH, RELEASED_PATH = lesson_paths(LESSON)
SOLUTION = nbformat.read(SOLUTION_PATH, as_version=4)
RELEASED = nbformat.read(RELEASED_PATH, as_version=4)
POINTS = points(SOLUTION)
TOTAL = sum(POINTS.values())
FIRST_TWO = POINTS["dq_da_tests"] + POINTS["dq_db_tests"]
MARKER = uuid.uuid4().hex[:10]

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("grade")]


def blank() -> nbformat.NotebookNode:
    return copy.deepcopy(RELEASED)


def correct() -> nbformat.NotebookNode:
    return fill(RELEASED, SOLUTION)


def index_of(nb, gid: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if grade_id(c) == gid)


def extra(nb, after: str, code: str):
    """Insert a learner's own code cell after the cell ``after`` (a grade_id)."""
    nb.cells.insert(index_of(nb, after) + 1, nbformat.v4.new_code_cell(code))
    return nb


def answer(nb, gid: str, code: str):
    nb.cells[index_of(nb, gid)].source = code
    return nb


def prepend(nb, gid: str, code: str):
    cell = nb.cells[index_of(nb, gid)]
    cell.source = code + "\n" + cell.source
    return nb


class Corpus:
    """Submissions by name, with the score each one's honest content earns."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.expected: dict[str, float] = {}
        self.notes: dict[str, str] = {}

    def add(
        self,
        student: str,
        nb,
        score: float,
        note: str | None = None,
        name: str = SOLUTION_PATH.name,
    ) -> None:
        path = self.folder / student / LESSON / name
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
        self.expected[student] = score
        if note:
            self.notes[student] = note

    def raw(self, student: str, data: bytes, score: float, note: str | None = None) -> None:
        path = self.folder / student / LESSON / SOLUTION_PATH.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.expected[student] = score
        if note:
            self.notes[student] = note


SCRIPT = f"window.pwned_{MARKER} = 1"


def displays_script(nb):
    """Script in every form a notebook can display it, and a markdown cell of the learner's."""
    extra(
        nb,
        "dq_da",
        "from IPython.display import HTML, SVG, Javascript, display\n"
        f'display(HTML("<b>bold</b><script>{SCRIPT}</script>"))\n'
        f'display(Javascript("{SCRIPT}"))\n'
        f"display(SVG('<svg xmlns=\"http://www.w3.org/2000/svg\"><script>{SCRIPT}</script></svg>'))",
    )
    mine = nbformat.v4.new_markdown_cell(f"My answer <script>{SCRIPT}</script>")
    nb.cells.insert(index_of(nb, "dq_da"), mine)
    return nb


def build(folder: Path, root: Path, out: Path, port: int) -> Corpus:
    c = Corpus(folder)
    c.add("honest-correct", correct(), TOTAL)
    c.add("honest-blank", blank(), 0)
    c.add("script-display", displays_script(blank()), 0)

    # Patching what the checks use: a cheat on a blank notebook gets what the blank gets.
    c.add(
        "patch-allclose",
        prepend(
            blank(),
            "dq_da",
            "import torch\ntorch.allclose = lambda *a, **k: True\ntorch.equal = lambda *a, **k: True\ntorch.isclose = lambda a, b, **k: torch.ones_like(a, dtype=torch.bool)",
        ),
        0,
    )
    c.add(
        "patch-testing",
        prepend(
            blank(),
            "dq_da",
            "import torch.testing, numpy.testing, math\ntorch.testing.assert_close = lambda *a, **k: None\nnumpy.testing.assert_allclose = lambda *a, **k: None\nmath.isclose = lambda *a, **k: True",
        ),
        0,
    )
    c.add(
        "patch-builtins",
        prepend(
            blank(),
            "dq_da",
            "import builtins\nbuiltins.abs = lambda x: 0\nbuiltins.all = lambda x: True\n_real = isinstance\nbuiltins.AssertionError = type('Quiet', (Exception,), {})",
        ),
        0,
    )
    c.add(
        "patch-check",
        prepend(
            blank(),
            "dq_da",
            "import course_utils, course_utils.exercises\ncourse_utils.exercises.check = lambda *a, **k: None\ncourse_utils.check = lambda *a, **k: None\ncheck = lambda *a, **k: None",
        ),
        0,
        "forbidden",
    )
    c.add(
        "patch-traceback",
        prepend(
            blank(),
            "dq_da",
            "ip = get_ipython()\nip.showtraceback = lambda *a, **k: None\nip.set_custom_exc((BaseException,), lambda *a, **k: None)",
        ),
        0,
    )
    c.add(
        "patch-display",
        prepend(
            blank(),
            "dq_da",
            "import IPython.display\nIPython.display.display = lambda *a, **k: None",
        ),
        0,
        "forbidden",
    )
    c.add(
        "patch-publish",
        prepend(
            blank(),
            "dq_da",
            "get_ipython().display_pub.publish = lambda *a, **k: None",
        ),
        0,
        "forbidden",
    )

    # Answers that lie.
    liar = "class Liar:\n    def __eq__(self, o): return True\n    def __bool__(self): return True\n    def __float__(self): return 36.0\n    def __array__(self, *a, **k): raise TypeError\n"
    c.add("lie-eq", answer(blank(), "dq_da", liar + "def dq_da(a):\n    return Liar()"), 0)
    subclass = (
        "import torch\nclass Sneaky(torch.Tensor):\n    @classmethod\n    def __torch_function__(cls, func, types, args=(), kwargs=None):\n"
        "        if func in (torch.isclose, torch.allclose, torch.equal):\n            return True\n"
        "        return super().__torch_function__(func, types, args, kwargs or {})\n"
    )
    c.add(
        "lie-subclass",
        answer(
            blank(),
            "dq_da",
            subclass + "def dq_da(a):\n    return torch.zeros_like(a).as_subclass(Sneaky)",
        ),
        0,
    )
    c.add("lie-identity", answer(blank(), "dq_da", "def dq_da(a):\n    return a"), 0)

    # Escaping: the tests that ran before the escape count, the rest do not run.
    # A learner's cell that imports sys, os, subprocess or socket reaches into the kernel: the
    # tests after it score 0 (rules.TAMPER), and the grader still survives what it does.
    c.add(
        "escape-sys-exit",
        extra(correct(), "dq_db_tests", "import sys\nsys.exit(3)"),
        FIRST_TWO,
        "forbidden",
    )
    c.add("escape-raise", extra(correct(), "dq_db_tests", "raise BaseException('bye')"), TOTAL)
    c.add("escape-keyboard", extra(correct(), "dq_db_tests", "raise KeyboardInterrupt"), TOTAL)
    c.add(
        "escape-os-exit",
        extra(correct(), "dq_db_tests", "import os\nos._exit(0)"),
        FIRST_TWO,
        "kernel-died",
    )
    c.add(
        "escape-kill",
        extra(correct(), "dq_db_tests", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"),
        FIRST_TWO,
        "kernel-died",
    )
    c.add(
        "escape-kill-parent",
        extra(
            correct(),
            "dq_db_tests",
            "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nos.kill(os.getpid(), signal.SIGKILL)",
        ),
        FIRST_TWO,
        "kernel-died",
    )
    c.add(
        "escape-alarm",
        extra(correct(), "dq_db_tests", "import signal, time\nsignal.alarm(1)\ntime.sleep(5)"),
        FIRST_TWO,
        "kernel-died",
    )

    # Exhausting.
    c.add(
        "loop-forever", extra(correct(), "dq_db_tests", "while True:\n    pass"), TOTAL, "timeout"
    )
    c.add(
        "sleep-forever",
        extra(correct(), "dq_db_tests", "import time\ntime.sleep(10**6)"),
        TOTAL,
        "timeout",
    )
    c.add(
        "loop-no-interrupt",
        extra(
            correct(),
            "dq_db_tests",
            "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass",
        ),
        FIRST_TWO,
        "timeout",
    )
    c.add(
        "memory-hog",
        extra(
            correct(),
            "dq_db_tests",
            "import torch\nx = torch.empty(4 * 2**30, dtype=torch.uint8)\nx.fill_(1)",
        ),
        TOTAL,
        "memory",
    )
    c.add(
        "processes",
        extra(
            correct(),
            "dq_db_tests",
            f"import os, subprocess, time\nsubprocess.Popen(['sleep', '4{MARKER[:3]}'.replace('a','1')])\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(1000)\n    os._exit(0)",
        ),
        FIRST_TWO,
        "forbidden",
    )
    c.add(
        "print-megabytes",
        extra(correct(), "dq_db_tests", "for _ in range(50):\n    print('x' * 100_000)"),
        TOTAL,
    )

    # Reaching out: nothing found, nothing written, no connection made.
    reach = (
        "import os, socket\nfound = []\n"
        f"for p in [{str(root / 'solutions' / LESSON / SOLUTION_PATH.name)!r}, {str(out / 'gradebook.db')!r}, "
        f"{str(folder / 'honest-correct' / LESSON / SOLUTION_PATH.name)!r}]:\n"
        "    try:\n        found.append(len(open(p, 'rb').read()))\n    except OSError as e:\n        found.append(type(e).__name__)\n"
        "print('FOUND', found)\n"
        f"for p in [{str(root / f'pwned-{MARKER}')!r}, {str(out / f'pwned-{MARKER}')!r}, '/tmp/pwned-{MARKER}', os.path.expanduser('~/pwned-{MARKER}')]:\n"
        "    try:\n        open(p, 'w').write('x')\n    except OSError:\n        pass\n"
        f"try:\n    socket.create_connection(('127.0.0.1', {port}), 2).sendall(b'{MARKER}')\nexcept OSError as e:\n    print('NET', e)"
    )
    c.add("reach-out", extra(correct(), "dq_db_tests", reach), FIRST_TWO, "forbidden")

    # Tampering with the notebook.
    edited = blank()
    edited.cells[index_of(edited, "dq_da_tests")].source = "pass"
    c.add("tamper-edit-test", edited, 0)
    deleted = correct()
    del deleted.cells[index_of(deleted, "dq_da_tests")]
    c.add("tamper-delete-test", deleted, TOTAL, "missing")
    deleted_blank = blank()
    del deleted_blank.cells[index_of(deleted_blank, "upstream_tests")]
    c.add("tamper-delete-test-blank", deleted_blank, 0, "missing")
    dup = correct()
    dup.cells.insert(
        index_of(dup, "dq_db_tests") + 1, copy.deepcopy(dup.cells[index_of(dup, "dq_db_tests")])
    )
    c.add("tamper-duplicate", dup, TOTAL, "duplicate")
    swapped = correct()
    i, j = index_of(swapped, "dq_da"), index_of(swapped, "dq_da_tests")
    swapped.cells[i], swapped.cells[j] = swapped.cells[j], swapped.cells[i]
    c.add("tamper-reorder", swapped, TOTAL, "reordered")
    inflated = correct()
    inflated.cells[index_of(inflated, "dq_da_tests")].metadata.nbgrader["points"] = 100
    c.add("tamper-points", inflated, TOTAL, "metadata")
    renamed = correct()
    renamed.cells[index_of(renamed, "dq_db_tests")].metadata.nbgrader["grade_id"] = "mine"
    c.add("tamper-grade-id", renamed, TOTAL, "unknown")
    ungraded = blank()
    cell = ungraded.cells[index_of(ungraded, "dq_da_tests")]
    cell.metadata.nbgrader["grade"] = False
    cell.metadata.nbgrader["locked"] = False
    c.add("tamper-ungrade", ungraded, 0, "metadata")
    markdown = blank()
    k = index_of(markdown, "dq_da_tests")
    markdown.cells[k] = nbformat.v4.new_markdown_cell(
        "nothing to see", metadata=markdown.cells[k].metadata
    )
    c.add("tamper-cell-type", markdown, 0, "metadata")
    c.raw("file-corrupt", b'{"cells": [', 0, "unreadable")
    # The grader's note quotes what it could not read, at the top of the feedback.
    c.raw("script-unreadable", f"<script>{SCRIPT}</script>".encode(), 0, "unreadable")
    c.raw("file-empty", b"", 0, "unreadable")
    c.raw("file-not-notebook", b"\x89PNG\r\n\x1a\n" + os.urandom(64), 0, "unreadable")
    c.raw(
        "file-old-nbformat",
        nbformat.writes(nbformat.convert(correct(), 3), version=3).encode(),
        TOTAL,
    )
    c.add("file-missing", correct(), 0, "missing-notebook", name="somewhere-else.ipynb")
    c.add("file-extra", correct(), TOTAL)
    nbformat.write(blank(), folder / "file-extra" / LESSON / "copy of lesson ü.ipynb")
    c.add("José Ñ a b", correct(), TOTAL)
    return c


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    out = base / "out"
    received: list[bytes] = []
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.5)
    stop = threading.Event()

    def listen() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                received.append(conn.recv(100))
                conn.close()
            except OSError:
                pass

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    corpus = build(base / "submitted", ROOT, out, server.getsockname()[1])
    before = {p: p.read_bytes() for p in (base / "submitted").rglob("*") if p.is_file()}
    proc = course_grade(
        str(base / "submitted"), "--out", str(out), "--workers", "2",
        "--cell-timeout", "5", "--notebook-timeout", "120", "--memory", "1",
        timeout=900,
    )  # fmt: skip
    stop.set()
    thread.join()
    server.close()
    return base, out, corpus, before, proc, received


def grades(out: Path) -> dict[str, float]:
    rows = list(csv.DictReader((out / "grades.csv").open(encoding="utf-8")))
    keys = [(r["student_id"], r["assignment"]) for r in rows]
    assert len(keys) == len(set(keys)), "every grade exactly once"
    return {r["student_id"]: float(r["score"]) for r in rows if r["assignment"] == LESSON}


def test_the_grader_finishes_and_reports_every_submission(hostile):
    _, _, corpus, _, proc, _ = hostile
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    for student in corpus.expected:
        assert f"{student}/{LESSON}:" in proc.stdout


@pytest.mark.parametrize(
    "kind",
    [
        "honest",
        "patch",
        "lie",
        "escape",
        "loop",
        "sleep",
        "memory",
        "processes",
        "print",
        "reach",
        "tamper",
        "file",
        "José",
        "script",
    ],
)
def test_each_submission_gets_what_its_honest_work_earns(hostile, kind):
    _, out, corpus, _, _, _ = hostile
    got = grades(out)
    cases = {s: v for s, v in corpus.expected.items() if s.startswith(kind)}
    assert cases
    assert {s: got.get(s) for s in cases} == cases


def test_each_event_is_logged_and_told_to_the_learner(hostile):
    _, out, corpus, _, proc, _ = hostile
    lines = {ln.split(":", 1)[0]: ln for ln in proc.stdout.splitlines() if f"/{LESSON}:" in ln}
    for student, note in corpus.notes.items():
        assert note in lines[f"{student}/{LESSON}"], lines[f"{student}/{LESSON}"]
        page = out / "feedback" / student / LESSON / SOLUTION_PATH.name.replace(".ipynb", ".html")
        text = visible_text(page.read_text(encoding="utf-8"))
        assert "What the grader noticed" in text and "评分时发现的情况" in text, student
    # Wrong answers that came back are the learner's own: no note blames interference.
    for student in set(corpus.expected) - set(corpus.notes):
        line = lines.get(f"{student}/{LESSON}", "")
        assert "interference" not in line, line


def test_nothing_leaks_persists_or_connects(hostile):
    base, out, _, _, _, received = hostile
    page = out / "feedback" / "reach-out" / LESSON / SOLUTION_PATH.name.replace(".ipynb", ".html")
    text = visible_text(page.read_text(encoding="utf-8"))
    assert "FOUND ['FileNotFoundError', " in text or "FOUND [" in text
    found = text.split("FOUND ", 1)[1].split("]", 1)[0]
    assert not any(ch.isdigit() for ch in found), f"the kernel could read a protected file: {found}"
    assert received == [], "a kernel opened a network connection"
    for path in (
        ROOT / f"pwned-{MARKER}",
        out / f"pwned-{MARKER}",
        Path(f"/tmp/pwned-{MARKER}"),
        Path.home() / f"pwned-{MARKER}",
    ):
        assert not path.exists(), path
    leftovers = []
    for proc_dir in Path("/proc").iterdir():
        try:
            cmd = (proc_dir / "cmdline").read_bytes()
        except OSError:
            continue
        if (
            cmd.startswith(b"sleep\x00")
            and b"\x00" + b"4" in cmd
            and cmd.split(b"\x00")[1] == f"4{MARKER[:3]}".replace("a", "1").encode()
        ):
            leftovers.append(proc_dir.name)
    assert leftovers == [], f"processes outlived their kernel: {leftovers}"


def test_submissions_are_not_modified(hostile):
    base, _, _, before, _, _ = hostile
    after = {p: p.read_bytes() for p in (base / "submitted").rglob("*") if p.is_file()}
    assert after == before


def test_feedback_hides_the_tests_and_state_is_consistent(hostile):
    _, out, corpus, _, _, _ = hostile
    for page in (out / "feedback").rglob("*.html"):
        text = visible_text(page.read_text(encoding="utf-8"))
        assert "hidden=True" not in text and "HIDDEN TESTS" not in text
        assert len(text) < 3_000_000
    state = json.loads((out / "state.json").read_text())
    assert set(state["graded"]) == {f"{s}/{LESSON}" for s in corpus.expected}


def formgrader_page(course: Path, student: str) -> str:
    """The page the Formgrader serves the instructor for this submission, from
    ``course/autograded``: its own extension reads the course's configuration there."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader.formgrader import FormgradeExtension

    here = Path.cwd()
    os.chdir(course)
    try:
        formgrader = FormgradeExtension()
        formgrader.root_dir = str(course)
        formgrader.initialize([])
        exporter = HTMLExporter(config=formgrader.config)
    finally:
        os.chdir(here)
    resources = {
        "assignment_id": LESSON, "notebook_id": SOLUTION_PATH.stem, "submission_id": "s",
        "index": 0, "total": 1, "base_url": "", "student": student, "last_name": "",
        "first_name": "", "notebook_path": "",
    }  # fmt: skip
    graded = course / "autograded" / student / LESSON / SOLUTION_PATH.name
    html, _ = exporter.from_filename(str(graded), resources=resources)
    return html


class ScriptText(HTMLParser):
    """The text of every <script> element of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.inside = False

    def handle_starttag(self, tag, attrs) -> None:
        self.inside = tag == "script"

    def handle_endtag(self, tag) -> None:
        self.inside = False

    def handle_data(self, data) -> None:
        if self.inside:
            self.scripts.append(data)


def test_what_a_learner_displays_never_runs_as_the_instructor(hostile):
    """Shown as text in the Formgrader and in the feedback, never run as script."""
    _, out, _, _, _, _ = hostile
    student = "script-display"
    # Escaped where it is stored, for whatever else opens autograded/ later.
    stored = nbformat.read(out / "course" / "autograded" / student / LESSON / SOLUTION_PATH.name, 4)
    shown = [
        (mime, value)
        for cell in stored.cells
        for output in cell.get("outputs", [])
        for mime, value in output.get("data", {}).items()
    ]
    assert ("text/html", f"<b>bold</b>&lt;script&gt;{SCRIPT}&lt;/script&gt;") in shown, shown
    assert not {"application/javascript", "image/svg+xml"} & {mime for mime, _ in shown}
    assert not [c for c in stored.cells if c.cell_type == "markdown" and "<script>" in c.source]
    html_name = SOLUTION_PATH.name.replace(".ipynb", ".html")
    for student in ("script-display", "script-unreadable"):
        pages = {
            "formgrader": formgrader_page(out / "course", student),
            "feedback": (out / "feedback" / student / LESSON / html_name).read_text("utf-8"),
        }
        for where, page in pages.items():
            parser = ScriptText()
            parser.feed(page)
            # The Formgrader's page has scripts of its own; a feedback page has none (its
            # formulas are MathML: autograder/grading/offline_math.py).
            assert bool(parser.scripts) == (where == "formgrader"), (student, where)
            assert not [s for s in parser.scripts if f"pwned_{MARKER}" in s], (student, where)
            assert "&lt;script&gt;" + SCRIPT in page, f"{student}, {where}: not shown as text"
            if student == "script-display":
                assert "<b>bold</b>" in page, f"{where}: harmless markup should stay"


def test_the_formgrader_escapes_notebooks_graded_before_escaping_existed(tmp_path):
    """A notebook in autograded/ with live script in it (as grading left them before
    EscapeLearnerHTML) is escaped as the Formgrader renders it."""
    nb = blank()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={"text/html": f"<script>{SCRIPT}</script>"}),
        nbformat.v4.new_output("display_data", data={"application/javascript": SCRIPT}),
    ]
    nb.cells += [cell, nbformat.v4.new_markdown_cell(f"<script>{SCRIPT}</script>")]
    graded = tmp_path / "autograded" / "old" / LESSON / SOLUTION_PATH.name
    graded.parent.mkdir(parents=True)
    nbformat.write(nb, graded)
    (tmp_path / "nbgrader_config.py").write_text(
        course_config_text(f"sqlite:///{tmp_path / 'gradebook.db'}"), encoding="utf-8"
    )
    parser = ScriptText()
    parser.feed(formgrader_page(tmp_path, "old"))
    assert parser.scripts and not [s for s in parser.scripts if f"pwned_{MARKER}" in s]
