"""course check: the bilingual convention and the glossary, over the whole course, and
every message a learner may read (the tools' and the lessons' code) in both languages."""

from __future__ import annotations

import argparse
from pathlib import Path

from autograder.authoring.bilingual import check_tree, messages_tree
from autograder.config import ROOT


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="the course to check (default: this one)"
    )


def run(args: argparse.Namespace) -> int:
    problems = check_tree(args.root) + messages_tree(args.root)
    for p in problems:
        print(p)
    print(f"{len(problems)} problem(s).")
    return 1 if problems else 0
