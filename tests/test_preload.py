"""What the grader imports once for all kernels (``forkserver.preload``): kernels and workers
are forks of it, so what it loads they start with, and no thread may be running in it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import gc, json, os, sys
{setup}
tasks = len(os.listdir("/proc/self/task"))
tracked, frozen = len(gc.get_objects()), gc.get_freeze_count()
before = set(sys.modules)
import torch
from torch.func import jvp
jvp(torch.sin, (torch.ones(3),), (torch.ones(3),))
from course_utils.exercises import all_exercises
all_exercises()
print(json.dumps({{"tasks": tasks, "new": sorted(set(sys.modules) - before),
                  "tracked": tracked, "frozen": frozen}}))
"""


def probe(setup: str) -> dict:
    code = PROBE.format(setup=setup)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def preloaded() -> dict:
    """A process that ran the preload, as the fork server and the grader do."""
    return probe("from autograder.grading import forkserver\nforkserver.preload()")


@pytest.fixture(scope="module")
def bare() -> dict:
    """A process that only imported torch, as a kernel started the stock way does."""
    return probe("import torch, torchvision")


def test_first_uses_import_nothing_more_in_what_kernels_are_forked_from(preloaded, bare) -> None:
    """Forward mode, and the first check() (which needs every lesson's exercises)."""
    assert preloaded["new"] == [], "a first use imported more in every kernel"
    assert "torch._decomp.decompositions_for_jvp" in bare["new"]  # what the preload spares
    assert "course_utils.exercises.vector_calculus" in bare["new"]


def test_preloading_starts_no_thread_beyond_importing_torch(preloaded, bare) -> None:
    """A fork copies one thread: a lock held by any other would stay held in every kernel."""
    assert preloaded["tasks"] <= bare["tasks"], (preloaded["tasks"], bare["tasks"])


def test_what_is_preloaded_is_out_of_the_garbage_collectors_sight(preloaded, bare) -> None:
    """Every full collection in a forked kernel walked (and copied) all of torch's objects."""
    assert bare["frozen"] == 0 and bare["tracked"] > 100_000, bare
    assert preloaded["frozen"] > bare["tracked"], (preloaded, bare["tracked"])
    assert preloaded["tracked"] < 1_000, preloaded
