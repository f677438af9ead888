"""course release [--check]"""

from __future__ import annotations

import argparse

from autograder.authoring.release import ReleaseError, release
from autograder.config import RELEASE_DIR, SOURCE_DIR


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--check",
        action="store_true",
        help=f"only compare: exit 1 and name the files of {RELEASE_DIR}/ that are out of date",
    )


def run(args: argparse.Namespace) -> int:
    try:
        diff = release(check=args.check)
    except ReleaseError as exc:
        print(f"course release: {exc}\n{RELEASE_DIR}/ was left as it was.")
        return 2
    if args.check:
        if diff:
            print(f"{RELEASE_DIR}/ is out of date with {SOURCE_DIR}/ (run `course release`):")
            print("\n".join(f"  {d}" for d in diff))
            return 1
        print(f"{RELEASE_DIR}/ is up to date.")
        return 0
    print(
        f"{RELEASE_DIR}/ regenerated ({len(diff)} file(s) changed)."
        if diff
        else f"{RELEASE_DIR}/ was already up to date."
    )
    return 0
