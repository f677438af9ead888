"""What every process pays before it does anything: the ``course`` command, the grader,
JupyterLab and nbgrader all start by importing, and seconds there are paid by every call."""

from __future__ import annotations

import subprocess
import sys

from autograder.cli import COMMANDS

HEAVY = ("torch", "nbgrader", "jupyterhub", "nbconvert", "distributed")


def loaded_after(code: str) -> set[str]:
    """Top-level modules that ``code``, run in a fresh interpreter, left imported."""
    probe = f"{code}\nimport sys\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    return set(done.stdout.strip().splitlines()[-1].split())


def test_course_help_lists_every_command_and_imports_none() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "autograder.cli", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    shown = " ".join(done.stdout.split())  # argparse wraps the lines
    for name, (_module, help_text) in COMMANDS.items():
        assert name in shown and help_text in shown
    code = (
        "from autograder import cli\ntry:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass"
    )
    assert not loaded_after(code) & set(HEAVY)


def test_a_command_imports_only_what_it_needs() -> None:
    code = "from autograder import cli\ntry:\n    cli.main(['grade', '--help'])\nexcept SystemExit:\n    pass"
    assert not loaded_after(code) & {"torch", "jupyterhub", "distributed"}
    done = subprocess.run(
        [sys.executable, "-m", "autograder.cli", "grade", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "--workers" in done.stdout and "--threads" in done.stdout
    wrong = subprocess.run(
        [sys.executable, "-m", "autograder.cli", "grad"], capture_output=True, text=True
    )
    assert wrong.returncode == 2 and "invalid choice" in wrong.stderr and "grade" in wrong.stderr


def test_the_course_package_loads_torch_only_for_the_checks() -> None:
    assert "torch" not in loaded_after("import course_utils\nfrom course_utils import say, Msg")
    assert "torch" in loaded_after("from course_utils import check_tensor, CheckFailure")
    code = (
        "import course_utils\nassert callable(course_utils.check_value)\nfrom course_utils import *"
    )
    assert {"torch", "course_utils"} <= loaded_after(code)
    missing = subprocess.run(
        [sys.executable, "-c", "import course_utils; course_utils.nothing_here"],
        capture_output=True,
        text=True,
    )
    assert "has no attribute 'nothing_here'" in missing.stderr


def test_reading_a_notebook_does_not_build_iri_parsers() -> None:
    # jsonschema >= 4.25 imports rfc3987-syntax, which builds ~40 Earley parsers with lark
    # (2 s) in every process that validates a notebook; constraints.txt keeps it below.
    loaded = loaded_after("import nbformat, jupyter_events.validators, nbgrader.apps")
    assert not loaded & {"rfc3987_syntax", "lark"}
