"""course exercises [--check]: docs/EXERCISES.md, every graded exercise and what it asks."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder.authoring.exercises_doc import DOC, generate
from autograder.config import ROOT


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--check",
        action="store_true",
        help=f"only compare: exit 1 when {DOC} is out of date or an exercise has no entry",
    )
    parser.add_argument("--root", type=Path, default=ROOT, help="the course (default: this one)")


def run(args: argparse.Namespace) -> int:
    text, problems = generate(args.root)
    for problem in problems:
        print(problem)
    path = args.root / DOC
    current = path.read_text(encoding="utf-8") if path.exists() else None
    if args.check:
        if current != text:
            print(f"{DOC} is out of date (run `course exercises`).")
            return 1
        return 1 if problems else 0
    if current != text:
        path.write_text(text, encoding="utf-8")
        print(f"{DOC} written.")
    else:
        print(f"{DOC} was already up to date.")
    return 1 if problems else 0


if __name__ == "__main__":  # until `course exercises` is registered in autograder/cli.py
    parser = argparse.ArgumentParser(prog="course exercises", description=__doc__)
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
