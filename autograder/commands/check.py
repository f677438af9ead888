"""course check: the bilingual convention and the glossary, over the whole course."""

from __future__ import annotations

import argparse

from autograder.authoring.bilingual import check_tree


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    problems = check_tree()
    for p in problems:
        print(p)
    print(f"{len(problems)} problem(s).")
    return 1 if problems else 0
