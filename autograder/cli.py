"""The ``course`` command: one subcommand per task (``workspace`` is the learner's)."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from autograder.config import ensure_tools_on_path

# subcommand -> module with ``add_arguments(parser)`` and ``run(args) -> int``
COMMANDS = {
    "release": ("autograder.commands.release", "regenerate notebooks/ from solutions/"),
    "check": ("autograder.commands.check", "check the bilingual convention and the glossary"),
    "grade": (
        "autograder.commands.grade",
        "autograde submissions in parallel: grades.csv, feedback, report",
    ),
    "serve": (
        "autograder.commands.serve",
        "grade submissions as they arrive in the exchange, warm, and release feedback",
    ),
    "exercises": (
        "autograder.commands.exercises",
        "docs/EXERCISES.md: every graded exercise, its points and what it asks (--check)",
    ),
    "samples": (
        "autograder.commands.samples",
        "a small class of sample submissions to try course grade on (right, blank, mistakes, copies)",
    ),
    "export": (
        "autograder.commands.export",
        "grades for an LMS: Canvas's or Moodle's grade import CSV, from course grade's output",
    ),
    "edition": (
        "autograder.commands.edition",
        "build a one-language edition (en / zh) of the learner notebooks",
    ),
    "workspace": (
        "autograder.commands.workspace",
        "make or update the learner's workspace (what make lab serves); --reset a lesson",
    ),
    "hub": (
        "autograder.commands.hub",
        "run the course on a local JupyterHub: learners, an instructor, nbgrader's exchange",
    ),
}


def main(argv: list[str] | None = None) -> int:
    ensure_tools_on_path()
    parser = argparse.ArgumentParser(
        prog="course", description="Tools for the torch.autograd course."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    # Only the command asked for is imported: the others' imports (torch, nbgrader,
    # JupyterHub) would cost every command seconds before it starts.
    words = sys.argv[1:] if argv is None else argv
    chosen = next((w for w in words if not w.startswith("-")), None)
    module = None
    for name, (module_name, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            module = importlib.import_module(module_name)
            module.add_arguments(command)
    args = parser.parse_args(argv)
    return module.run(args)


def run() -> None:
    """The ``course`` script: :func:`main`, then an exit that skips the interpreter's
    teardown. Unloading torch, nbgrader and their kin takes one to three seconds
    that every ``course grade`` would wait for, and by then everything is written."""
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(code or 0))


if __name__ == "__main__":
    run()
