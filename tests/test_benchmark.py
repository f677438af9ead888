"""The scaling benchmark, run the way the lent 16-core machine runs it (deploy/device/scale.sh),
on a few submissions: every row of its table, the per-submission breakdown, and stock nbgrader."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from autograder.config import ROOT


def test_scale_script_prints_the_whole_table(tmp_path) -> None:
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "WHEELS": str(tmp_path / "no-wheels"),  # this machine has the packages already
        "N": "2",
        "COUNTS": "1 2",
    }
    env.pop("COURSE_GRADER_SEED", None)
    result = subprocess.run(
        ["bash", str(ROOT / "deploy" / "device" / "scale.sh"), "--stock-n", "1"],
        cwd=tmp_path,  # the script finds the project from where it lives
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = result.stdout
    assert result.returncode == 0, (out + result.stderr)[-3000:]
    assert re.search(
        r"^cores: \d+ · python: 3\.\d+\.\d+ · torch \S+ · nbgrader 0\.9\.6$", out, re.M
    )
    assert "2 submissions over 2 lesson(s)" in out, out
    rows = re.findall(r"^workers +(\d+): +([\d.]+) s .* speed-up +([\d.]+)x", out, re.M)
    assert [w for w, _, _ in rows] == ["1", "2"], out
    assert float(rows[0][2]) == 1.0 and all(float(s) > 0 for _, s, _ in rows), out
    # Each row says where a warm worker's time went, step by step.
    assert (
        len(re.findall(r"per submission \(median, s\): copy [\d.]+ +kernel [\d.]+ +cells", out))
        == 2
    )
    assert "identical scores for every worker count: yes" in out, out
    assert re.search(r"^stock nbgrader autograde: [\d.]+ s for 1 ", out, re.M), out
