"""The commands the README shows, read from its fenced code blocks, and which test runs each.

Every command in a fenced block of README.md must appear in :data:`RUN_BY` (the test that runs
it, exactly as written) or in :data:`NOT_RUN_HERE` (with the reason it cannot run on a test
machine). tests/test_readme.py fails on a command in neither, so the README cannot drift from
what is tested again (``make lab`` once failed for weeks because tests started JupyterLab their
own way).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from autograder.config import ROOT
from tests.test_samples import QUICK_START

README = ROOT / "README.md"
SHELL_LANGS = {"bash", "sh", "shell"}

# command, exactly as in the README -> "test file::test name" that runs it
RUN_BY: dict[str, str] = {
    "make lab": "tests/browser/test_readme_lab.py::test_make_lab_opens_the_start_page",
    "COURSE_LANG=en make lab": "tests/browser/test_readme_lab.py::test_make_lab_opens_the_start_page",
    "COURSE_LANG=zh make lab": "tests/browser/test_readme_lab.py::test_make_lab_opens_the_start_page",
    "make test": "tests/test_readme.py::test_ci_runs_make_test",
    ".venv/bin/course workspace --reset 02_derivatives": (
        "tests/test_workspace.py::test_readme_reset_command"
    ),
    ".venv/bin/course release": "tests/test_readme.py::test_course_release_and_check",
    ".venv/bin/course release --check": "tests/test_readme.py::test_course_release_and_check",
    ".venv/bin/course check": "tests/test_readme.py::test_course_check",
    ".venv/bin/course edition --lang zh": "tests/test_readme.py::test_course_edition",
    ".venv/bin/course grade SUBMITTED --workers 2 --out OUT": (
        "tests/test_readme.py::test_course_grade_on_samples"
    ),
    ".venv/bin/python -m autograder.grading.benchmark --help": (
        "tests/test_readme.py::test_benchmark_help"
    ),
    ".venv/bin/course export OUT --lms canvas --map MAP": (
        "tests/test_class_view.py::test_lms_exports_from_the_readme"
    ),
    ".venv/bin/course export OUT --lms moodle --map MAP": (
        "tests/test_class_view.py::test_lms_exports_from_the_readme"
    ),
    ".venv/bin/course serve --exchange EXCHANGE --out OUT --workers 2 --per-hour 10": (
        "tests/test_service.py::test_killed_mid_burst_and_restarted_grades_every_submission_once"
    ),
    ".venv/bin/python -m autograder.grading.service_benchmark --help": (
        "tests/test_readme.py::test_benchmark_help"
    ),
    # The instructor's quick start: course samples, grade, open, export.
    **dict.fromkeys(
        QUICK_START, "tests/test_samples.py::test_the_quick_start_grades_the_planted_class"
    ),
    # The course on a JupyterHub (tests/hub/conftest.py starts it with `make hub`).
    "make hub": "tests/hub/test_hub.py::test_instructor_releases_the_lesson",
    "nbgrader release_assignment 02_derivatives": (
        "tests/hub/test_hub.py::test_instructor_releases_the_lesson"
    ),
    "nbgrader collect 02_derivatives": (
        "tests/hub/test_hub.py::test_instructor_collects_grades_and_releases_feedback"
    ),
    'course grade submitted --db "$COURSE_DB" --out grading-out': (
        "tests/hub/test_hub.py::test_instructor_collects_grades_and_releases_feedback"
    ),
    "nbgrader release_feedback 02_derivatives --CourseDirectory.root=grading-out/course": (
        "tests/hub/test_hub.py::test_instructor_collects_grades_and_releases_feedback"
    ),
}

# command -> why no test on this machine can run it
NOT_RUN_HERE: dict[str, str] = {
    "apt-get install -y --no-install-recommends make fonts-wqy-microhei fontconfig": (
        "installs system packages; .ci/run installs them on CI and "
        "tests/hub/test_k8s.py checks deploy/k8s/Dockerfile runs this very line"
    ),
    "make setup": (
        "make test runs the same recipe (its prerequisite) before every test run; "
        "tests/hub/test_k8s.py checks the Dockerfile runs it"
    ),
}


@dataclass(frozen=True)
class Block:
    line: int  # 1-based line of the opening fence
    lang: str
    commands: tuple[str, ...]


def _commands(lines: list[str]) -> tuple[str, ...]:
    """Shell commands of a block: comments dropped, backslash continuations joined."""
    commands, pending = [], ""
    for raw in lines:
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        line = re.sub(r"\s+#\s.*$", "", line)  # a trailing comment ("make lab  # opens ...")
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        commands.append((pending + line).strip())
        pending = ""
    if pending:
        commands.append(pending.strip())
    return tuple(c for c in commands if c)


def blocks(text: str | None = None) -> list[Block]:
    """Every fenced code block of the README (indented ones in lists too)."""
    text = README.read_text(encoding="utf-8") if text is None else text
    found, inside, start, lang, body, fence = [], False, 0, "", [], ""
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not inside:
            m = re.match(r"^(`{3,}|~{3,})\s*([\w+-]*)", stripped)
            if m:
                inside, start, fence, lang, body = True, number, m.group(1), m.group(2), []
        elif stripped.startswith(fence) and stripped.strip("`~") == "":
            found.append(Block(start, lang.lower(), _commands(body)))
            inside = False
        else:
            body.append(line)
    if inside:
        raise ValueError(f"README.md: the code block opened on line {start} is never closed")
    return found


def commands(text: str | None = None) -> list[str]:
    return [c for b in blocks(text) for c in b.commands]


def command(text: str) -> str:
    """The README's command ``text``, after checking the README still shows it."""
    if text not in commands():
        raise AssertionError(
            f"the README no longer shows `{text}`: update tests/readme_commands.py"
        )
    return text


def test_file(node: str) -> Path:
    return ROOT / node.split("::")[0]
