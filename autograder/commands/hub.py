"""course hub [--learners N] [--instructor NAME] [--dir DIR] [--ip IP] [--port PORT] [--db URL]"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from autograder.lab.hub import add_arguments as hub_arguments

    hub_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from autograder.lab.hub import run as run_hub

    return run_hub(args)
