"""The grading report: its charts are drawn by forked processes, and by the grader when
one of those processes dies."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from autograder.grading.export import Charts, write_report

GRADED = {
    f"s{i}/{lesson}": {
        "assignment": lesson,
        "score": float(i % 3),
        "max_score": 2.0,
        "cells": {f"{lesson}:a_tests": [float(i % 2), 1.0], f"{lesson}:b_tests": [1.0, 1.0]},
        "seconds": 1.0 + i / 10,
        "notes": ["memory(3)"] if i == 4 else [],
    }
    for i in range(6)
    for lesson in ("01_forward_backward", "03_differentiation")
}
PNGS = ("scores.png", "exercises.png", "slowest.png")


def charts_of(folder: Path) -> dict[str, bytes]:
    return {png: (folder / png).read_bytes()[:8] for png in PNGS}


def test_every_chart_is_drawn_in_its_own_process(tmp_path: Path) -> None:
    charts = Charts(tmp_path / "report", GRADED)
    assert len({p.pid for p in charts.processes} - {os.getpid()}) == 3
    write_report(tmp_path / "report", GRADED, charts)
    assert set(charts_of(tmp_path / "report").values()) == {b"\x89PNG\r\n\x1a\n"}
    page = (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    assert all(png in page for png in PNGS)
    assert "s4/03_differentiation: memory(3)" in page


def test_a_chart_whose_process_died_is_drawn_by_the_grader(tmp_path: Path) -> None:
    charts = Charts(tmp_path / "report", GRADED)
    for process in charts.processes:
        os.kill(process.pid, signal.SIGKILL)
    for png in PNGS:
        (tmp_path / "report" / png).unlink(missing_ok=True)
    write_report(tmp_path / "report", GRADED, charts)
    assert [p.exitcode for p in charts.processes] == [-signal.SIGKILL] * 3
    assert set(charts_of(tmp_path / "report").values()) == {b"\x89PNG\r\n\x1a\n"}


def test_the_charts_axes_are_labelled_in_both_languages(tmp_path: Path) -> None:
    from course_utils.plots import cjk_font

    labels = [
        arg for *_, args in Charts(tmp_path / "report", GRADED).specs for arg in args
        if isinstance(arg, str) and arg.startswith(("score", "submissions", "pass rate", "seconds"))
    ]  # fmt: skip
    assert len(labels) == 4
    if cjk_font() is None:  # no font could draw the Chinese: English alone, never boxes
        assert not any("·" in label for label in labels)
    else:
        assert labels == [
            "score % · 成绩 %",
            "submissions · 提交数",
            "pass rate % · 通过率 %",
            "seconds · 秒",
        ]
