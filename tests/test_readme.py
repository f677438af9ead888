"""Every command the README shows is run by a test, exactly as written (see readme_commands.py).

``make lab`` and its language variants run in Chromium (tests/browser/test_readme_lab.py);
the instructor's commands run here, from the checkout, as an instructor types them.
"""

from __future__ import annotations

import ast
import csv
import fcntl
import hashlib
import os
import shlex
import subprocess
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest

from autograder.authoring.samples import fill, lesson_paths, points
from autograder.config import RELEASE_DIR, ROOT
from tests import readme_commands as rc

COMMAND_S = 600


def run_readme(command: str, substitute: dict[str, str] | None = None, **kwargs):
    """Run a README command in a shell from the checkout; placeholders (SUBMITTED, OUT) are
    the only words replaced."""
    words = shlex.split(rc.command(command))
    for i, word in enumerate(words):
        if substitute and word in substitute:
            words[i] = substitute[word]
    env = {k: v for k, v in os.environ.items() if k not in {"COURSE_LANG", "COURSE_GRADER_SEED"}}
    return subprocess.run(
        shlex.join(words),
        shell=True,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=COMMAND_S,
        **kwargs,
    )


@contextmanager
def editions_lock():
    """`course edition` and `COURSE_LANG=zh make lab` both write editions/zh/: one at a time."""
    with open(ROOT / ".git" / "readme-editions.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


def test_every_readme_command_is_run_by_a_test():
    problems = []
    for block in rc.blocks():
        if block.lang not in rc.SHELL_LANGS:
            problems.append(
                f"README.md line {block.line}: a ```{block.lang or '(no language)'} block; "
                "show commands in ```bash blocks (each one tested) and link files for the rest"
            )
    shown = rc.commands()
    for command in shown:
        if command not in rc.RUN_BY and command not in rc.NOT_RUN_HERE:
            problems.append(f"README command `{command}` is run by no test: add it to RUN_BY")
    for command in [*rc.RUN_BY, *rc.NOT_RUN_HERE]:
        if command not in shown:
            problems.append(
                f"`{command}` is no longer in the README: remove it from readme_commands"
            )
    for command, node in rc.RUN_BY.items():
        path, name = rc.test_file(node), node.split("::")[1]
        if not path.is_file() or name not in _defined_tests(path):
            problems.append(f"`{command}`: its test {node} does not exist")
    for command, why in rc.NOT_RUN_HERE.items():
        if len(why.split()) < 4:
            problems.append(f"`{command}`: say why no test runs it")
    assert not problems, "\n".join(problems)
    assert "make lab" in shown and "make test" in shown


def test_the_parser_reads_blocks_as_a_shell_would():
    text = (
        "intro\n```bash\nmake lab   # opens it\n# a comment\n\nCOURSE_LANG=zh make lab\n```\n"
        "- a list item\n\n  ```bash\n  .venv/bin/course grade X \\\n    --workers 2\n  ```\n"
        "```yaml\nkey: value\n```\n"
    )
    blocks = rc.blocks(text)
    assert [b.lang for b in blocks] == ["bash", "bash", "yaml"]
    assert blocks[0].commands == ("make lab", "COURSE_LANG=zh make lab")
    assert blocks[1].commands == (".venv/bin/course grade X --workers 2",)
    with pytest.raises(ValueError, match="never closed"):
        rc.blocks("```bash\nmake lab\n")


def test_ci_runs_make_test():
    """CI's script ends with the README's test command (it cannot run itself from a test)."""
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    lines = [ln.strip() for ln in script.splitlines() if ln.strip() and not ln.startswith("#")]
    assert lines[-1] == rc.command("make test")


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and ".ipynb_checkpoints" not in path.parts:
            h.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return h.hexdigest()


def test_course_release_and_check():
    check = run_readme(".venv/bin/course release --check")
    assert check.returncode == 0, check.stdout + check.stderr
    # notebooks/ is up to date, so releasing again must change nothing.
    before = _digest(ROOT / RELEASE_DIR)
    release = run_readme(".venv/bin/course release")
    assert release.returncode == 0, release.stdout + release.stderr
    assert _digest(ROOT / RELEASE_DIR) == before


def test_course_check():
    result = run_readme(".venv/bin/course check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_course_edition():
    with editions_lock():
        result = run_readme(".venv/bin/course edition --lang zh")
        assert result.returncode == 0, result.stdout + result.stderr
        start = nbformat.read(ROOT / "editions" / "zh" / "START_HERE.ipynb", as_version=4)
    prose = "\n".join(c.source for c in start.cells if c.cell_type == "markdown")
    assert "学习 torch.autograd" in prose and "Welcome" not in prose


def test_course_grade_on_samples(tmp_path):
    lesson = "02_derivatives"
    solution_path, released_path = lesson_paths(lesson)
    solution = nbformat.read(solution_path, as_version=4)
    released = nbformat.read(released_path, as_version=4)
    submitted = tmp_path / "submitted"
    for student, nb in {"ada": fill(released, solution), "bo": released}.items():
        path = submitted / student / lesson / solution_path.name
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
    out = tmp_path / "out"
    result = run_readme(
        ".venv/bin/course grade SUBMITTED --workers 2 --out OUT",
        {"SUBMITTED": str(submitted), "OUT": str(out)},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with (out / "grades.csv").open(newline="") as f:
        scores = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
    assert scores == {"ada": sum(points(solution).values()), "bo": 0.0}
    assert (out / "feedback" / "ada" / lesson / f"{lesson}.html").is_file()


def test_benchmark_help():
    result = run_readme(".venv/bin/python -m autograder.grading.benchmark --help")
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout and "--n" in result.stdout
    result = run_readme(".venv/bin/python -m autograder.grading.service_benchmark --help")
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout and "--learners" in result.stdout
