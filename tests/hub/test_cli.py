"""`course hub`'s own checks, before it creates a user or starts a server."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.skipif(os.geteuid() != 0, reason="course hub runs as root only")
def test_an_unusable_gradebook_is_refused_before_anything_is_made(tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "autograder.cli", "hub", "--dir", str(tmp_path / "hub"),
         "--db", "mysql://grader:s3cret@127.0.0.1/course"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "course hub: the gradebook must be SQLite or PostgreSQL" in proc.stdout
    assert "s3cret" not in proc.stdout and not (tmp_path / "hub").exists()
