"""The class view: a synthetic class of lessons 2 and 10, graded by one `course grade` run.

32 learners, each submitting both lessons, made from the released lessons with mistakes
planted in known numbers. Lesson 2 gives each learner a Q of their own (a variant family), so
the planted answers are written for the learner's own member, as a learner would (from `MY_Q`,
the notebook's own record of their Q): 7 whose ∂Q/∂b still has the power of b (a catalogued
mistake), 4 whose ∂Q/∂a lost its coefficient (another), 2 whose ∂Q/∂b is wrong in no
catalogued way, 2 that answer ∂Q/∂a with .backward() (its rules forbid autograd), 1 whose ∂Q/∂a
is another learner's right answer (other-variant), 3 blank, 13 right. misconceptions.csv,
items.csv, the report, grades.csv's per-exercise columns and the LMS files must count each of
them exactly.

In lesson 10, among the right ones, two pairs of copies (central differences, one copy renamed
and recommented; an unusual relative error) and honest answers of their own
(tests/test_similarity.py): similarity.csv and the report must flag those two pairs and
nothing else.
"""

from __future__ import annotations

import csv
import html
import json
import re
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

# The planted answers read the learner's own Q from MY_Q, as the notebook's cell sets it.
from autograder.authoring.samples import (
    BACKWARD,
    NO_COEFFICIENT,
    ODD,
    STILL_POWER,
    copied_from_another,
    fill,
    lesson_paths,
    points,
)
from autograder.grading.class_view import Item, analyse, correlation
from autograder.grading.grade import Result
from course_utils.i18n import Msg
from tests.test_grade import course_grade
from tests.test_similarity import CD_COPY, CD_COPY_RENAMED, CD_HONEST, RE_COPY, RE_HONEST

LESSON = "02_derivatives"
CHECKS = "10_gradient_checks"
LESSONS = (LESSON, CHECKS)
PLAN: dict[str, dict | None] = {
    **{f"b2_{i}": STILL_POWER for i in range(7)},
    **{f"c3_{i}": NO_COEFFICIENT for i in range(4)},
    **{f"odd_{i}": ODD for i in range(2)},
    **{f"bw_{i}": BACKWARD for i in range(2)},
    "cp_0": copied_from_another("cp_0"),
    **{f"blank_{i}": None for i in range(3)},
    **{f"ok_{i:02d}": {} for i in range(13)},
}
# Lesson 10's answers: the copies and the honest answers of their own, among the right ones.
PLAN_10: dict[str, dict] = {
    "ok_00": {"central_difference": CD_COPY},
    "ok_01": {"central_difference": CD_COPY_RENAMED},
    "ok_02": {"relative_error": RE_COPY},
    "ok_03": {"relative_error": RE_COPY},
    **{f"ok_{4 + i:02d}": {"central_difference": code} for i, code in enumerate(CD_HONEST)},
}
for _i, _code in enumerate(RE_HONEST):
    PLAN_10[f"ok_{6 + _i:02d}"] = {**PLAN_10.get(f"ok_{6 + _i:02d}", {}), "relative_error": _code}
COPIES = [("ok_00", "ok_01"), ("ok_02", "ok_03")]
GROUPS = {
    prefix: sorted(s for s in PLAN if s.startswith(prefix + "_"))
    for prefix in ("b2", "c3", "odd", "bw", "cp", "blank", "ok")
}
EVERYONE = sorted(PLAN)
EXERCISES = {
    LESSON: (
        "dq_da_tests",
        "dq_db_tests",
        "upstream_tests",
        "accumulated_tests",
        "grads_match_tests",
    ),
    CHECKS: (
        "central_difference_tests",
        "relative_error_tests",
        "gradcheck_rejects_tests",
        "kink_flagged_tests",
    ),
}
ALL_EXERCISES = EXERCISES[LESSON] + EXERCISES[CHECKS]

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("grade")]


def _minus(*groups: str) -> list[str]:
    left = set(EVERYONE)
    for g in groups:
        left -= set(GROUPS[g])
    return sorted(left)


# What every exercise must count: category -> learners.
EXPECTED = {
    "dq_da_tests": {
        "right": _minus("c3", "bw", "cp", "blank"),
        "blank": GROUPS["blank"],
        "rule": GROUPS["bw"],
        "mistake:constant_dropped": GROUPS["c3"],
        "mistake:other-variant": GROUPS["cp"],
        "unrecognised": [],
    },
    "dq_db_tests": {
        "right": _minus("b2", "odd", "blank"),
        "blank": GROUPS["blank"],
        "rule": [],
        "mistake:exponent_not_lowered": GROUPS["b2"],
        "unrecognised": GROUPS["odd"],
    },
    **{
        gid: {"right": _minus("blank"), "blank": GROUPS["blank"], "rule": [], "unrecognised": []}
        for gid in ALL_EXERCISES[2:]
    },
}
LESSON_OF = {gid: lesson for lesson, gids in EXERCISES.items() for gid in gids}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("class")
    total = {}
    for lesson, plan in ((LESSON, PLAN), (CHECKS, {s: PLAN_10.get(s, {}) for s in PLAN})):
        solution_path, released_path = lesson_paths(lesson)
        solution = nbformat.read(solution_path, as_version=4)
        released = nbformat.read(released_path, as_version=4)
        for student, answers in plan.items():
            blank = PLAN[student] is None
            nb = released if blank else fill(released, solution, answers)
            path = base / "submitted" / student / lesson / solution_path.name
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, path)
        total[lesson] = points(solution)
    out = base / "out"
    proc = course_grade(str(base / "submitted"), "--out", str(out), "--workers", "2")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    graded_n = 2 * len(PLAN)
    assert f"graded {graded_n}, unchanged 0, failed 0" in proc.stdout, proc.stdout[-2000:]
    return SimpleNamespace(base=base, out=out, points=total)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_the_state_keeps_each_cells_verdict(graded):
    """What export reads, and a resumed run or the Dask path carries (a Result as a dict)."""
    state = json.loads((graded.out / "state.json").read_text())
    entry = state["graded"][f"b2_0/{LESSON}"]
    assert entry["verdicts"][f"{LESSON}:dq_db_tests"] == {
        "exercise": "differentiation.grad_b",
        "status": "wrong",
        "mistake": "exponent_not_lowered",
    }
    rule = state["graded"][f"bw_0/{LESSON}"]["verdicts"][f"{LESSON}:dq_da_tests"]
    assert rule["status"] == "rule" and "backward" in rule["detail"]
    # The cluster sends a Result as a dict and rebuilds it: the verdicts travel with it.
    again = Result(**{**entry, "student": "b2_0"})
    assert asdict(again)["verdicts"] == entry["verdicts"]


def test_misconceptions_csv_counts_each_category_exactly(graded):
    rows = read_csv(graded.out / "misconceptions.csv")
    assert list(rows[0]) == [
        "lesson", "exercise", "grade_id", "title", "category", "mistake", "message",
        "count", "share", "learners",
    ]  # fmt: skip
    found: dict[str, dict[str, list[str]]] = {}
    for row in rows:
        assert row["lesson"] == LESSON_OF[row["grade_id"]]
        category = row["category"] + (f":{row['mistake']}" if row["mistake"] else "")
        learners = row["learners"].split(";") if row["learners"] else []
        assert int(row["count"]) == len(learners)
        assert float(row["share"]) == pytest.approx(len(learners) / len(PLAN), abs=1e-3)
        found.setdefault(row["grade_id"], {})[category] = sorted(learners)
        if row["category"] == "mistake":
            assert row["message"], "a catalogued mistake comes with its message"
    assert list(found) == list(ALL_EXERCISES), "exercises in lesson order"
    for gid, expected in EXPECTED.items():
        for category, learners in expected.items():
            assert found[gid][category] == learners, (gid, category)
        named = {c: v for c, v in found[gid].items() if c.startswith("mistake:")}
        assert {c for c, v in named.items() if v} == {c for c in expected if c.startswith("mis")}
        assert found[gid]["incomplete"] == []
    still_b2 = next(r for r in rows if r["mistake"] == "exponent_not_lowered" and r["count"] == "7")
    assert "still has b" in still_b2["message"] and still_b2["title"] == "∂Q/∂b by hand"
    # an answer copied from another learner's variant is counted as such, not as a mistake
    copied = next(r for r in rows if r["mistake"] == "other-variant" and r["count"] == "1")
    assert copied["grade_id"] == "dq_da_tests" and copied["learners"] == "cp_0"
    assert "another learner's variant" in copied["message"]


def test_items_csv_has_difficulty_and_discrimination(graded):
    rows = {r["grade_id"]: r for r in read_csv(graded.out / "items.csv")}
    assert list(rows) == list(ALL_EXERCISES)
    for gid, row in rows.items():
        assert int(row["n"]) == len(PLAN)
        difficulty, discrimination = float(row["difficulty"]), float(row["discrimination"])
        assert 0.0 <= difficulty <= 1.0 and -1.0 <= discrimination <= 1.0
        right = len(EXPECTED[gid]["right"])
        assert int(row["right"]) == right
        assert difficulty == pytest.approx(right / len(PLAN), abs=1e-3)
        assert int(row["blank"]) == 3
    assert (rows["dq_db_tests"]["wrong"], rows["dq_da_tests"]["wrong"]) == ("9", "5")
    assert (rows["dq_da_tests"]["rule"], rows["dq_db_tests"]["rule"]) == ("2", "0")


def _report(graded) -> str:
    return (graded.out / "report" / "index.html").read_text(encoding="utf-8")


def _section(page: str, exercise: str) -> str:
    start = page.index(f'<div class="exercise" data-exercise="{exercise}">')
    return page[start : page.index("</div>", start)]


def test_the_report_counts_each_category_exactly(graded):
    page = _report(graded)
    a, b = _section(page, "differentiation.grad_a"), _section(page, "differentiation.grad_b")
    counts = {
        (name, c): int(n)
        for name, section in (("a", a), ("b", b))
        for c, n in re.findall(r'data-category="([^"]+)" data-count="(\d+)"', section)
    }
    assert counts[("b", "mistake:exponent_not_lowered")] == 7
    assert counts[("a", "mistake:constant_dropped")] == 4
    assert counts[("a", "rule")] == 2 and counts[("b", "rule")] == 0
    assert counts[("a", "blank")] == counts[("b", "blank")] == 3
    assert counts[("b", "unrecognised")] == 2 and counts[("a", "unrecognised")] == 0
    assert counts[("a", "mistake:other-variant")] == 1
    assert counts[("a", "right")] == 22 and counts[("b", "right")] == 20
    # Both languages: the titles, the mistake's message, the labels.
    assert "∂Q/∂b by hand · 手算 ∂Q/∂b" in b
    assert "still has b" in b and "还留着 b" in b
    assert "not answered · 未作答" in b and "rules broken · 违反规则" in a
    # The unrecognised wrong answers name their learners, so the instructor can look.
    assert all(f"<code>{s}</code>" in b for s in GROUPS["odd"])
    # Exercises by title, in lesson order (not by grade id).
    titles = re.findall(r'<div class="exercise" data-exercise="([^"]+)"', page)
    assert titles[:3] == [
        "differentiation.grad_a",
        "differentiation.grad_b",
        "differentiation.upstream",
    ]


def test_the_report_summarises_the_class_and_flags_items(graded):
    page = _report(graded)
    summary = page[page.index('<ol class="summary">') : page.index("</ol>")]
    common = re.findall(r'data-category="([^"]+)" data-count="(\d+)"', summary)
    assert common == [
        ("mistake:exponent_not_lowered", "7"),
        ("mistake:constant_dropped", "4"),
        ("mistake:other-variant", "1"),
    ]
    assert "Most common mistakes · 最常见的错误" in page
    rows = re.findall(
        r'<tr data-exercise="([^"]+)" data-grade-id="([^"]+)">.*?data-difficulty="([\d.]*)".*?'
        r'data-discrimination="(-?[\d.]*)"',
        page,
    )
    assert [gid for _, gid, _, _ in rows] == list(ALL_EXERCISES)
    for _, _, difficulty, discrimination in rows:
        float(difficulty), float(discrimination)  # numbers, not blanks
    assert "difficulty · 难度" in page and "discrimination · 区分度" in page


def test_the_report_has_every_learner_with_links_to_their_feedback(graded):
    page = _report(graded)
    assert page.count('<table class="students">') == len(LESSONS)  # one per lesson
    table = page[page.index('<table class="students">') :]  # lesson 2's
    table = table[: table.index("</table>")]
    learners = re.findall(r'<tr data-learner="([^"]+)">', table)
    assert learners == EVERYONE
    row = table[table.index('<tr data-learner="b2_0">') :]
    row = row[: row.index("</tr>")]
    cells = re.findall(r'<td class="(\w+)"[^>]*>([^<]*)</td>', row)
    assert cells[:2] == [("right", "1"), ("wrong", "0")]
    links = re.findall(r'href="([^"]+)"', table)
    assert len(links) == len(PLAN)
    for link in links:
        assert (graded.out / "report" / html.unescape(link)).resolve().is_file(), link


def test_grades_csv_has_a_column_per_exercise_after_nbgraders(graded):
    rows = read_csv(graded.out / "grades.csv")
    columns = list(rows[0])
    nbgrader = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name"]
    assert columns[: len(nbgrader)] == nbgrader and "max_score" in columns[:11]
    assert columns[11:] == [f"{LESSON_OF[gid]}:{gid}" for gid in ALL_EXERCISES]
    by = {(r["student_id"], r["assignment"]): r for r in rows}
    assert len(by) == len(rows) == 2 * len(PLAN)
    assert by[("b2_0", LESSON)][f"{LESSON}:dq_db_tests"] == "0"
    assert by[("b2_0", LESSON)][f"{LESSON}:dq_da_tests"] == "1"
    assert by[("cp_0", LESSON)][f"{LESSON}:dq_da_tests"] == "0"
    for r in rows:
        mine = [c for c in columns[11:] if c.startswith(r["assignment"] + ":")]
        assert all(r[c] == "" for c in columns[11:] if c not in mine)
        assert sum(float(r[c]) for c in mine) == pytest.approx(float(r["score"]))
    for lesson in LESSONS:
        assert float(by[("ok_00", lesson)]["score"]) == sum(graded.points[lesson].values())


MAP_LINES = ["student_id,lms_id,name,section"] + [
    f"{s},{s}@example.edu,Learner {s},{'A' if i % 2 else 'B'}"
    for i, s in enumerate(EVERYONE)
    if s != "odd_1"  # one learner the mapping forgot
]


def test_lms_exports_from_the_readme(graded):
    from tests.test_readme import run_readme

    mapping = graded.base / "students.csv"
    mapping.write_text("\n".join(MAP_LINES) + "\n", encoding="utf-8")
    places = {"OUT": str(graded.out), "MAP": str(mapping)}
    canvas = run_readme(".venv/bin/course export OUT --lms canvas --map MAP", places)
    assert canvas.returncode == 0, canvas.stdout + canvas.stderr
    assert "odd_1" in canvas.stderr and "不在映射文件" in canvas.stderr
    with (graded.out / "canvas.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *LESSONS]
    assert rows[1][0].strip() == "Points Possible"
    full = [f"{sum(graded.points[lesson].values()):g}" for lesson in LESSONS]
    assert rows[1][5:] == full
    people = {r[2]: r for r in rows[2:]}
    assert len(people) == len(PLAN) - 1 and "odd_1@example.edu" not in people
    assert people["b2_0@example.edu"] == [
        "Learner b2_0", "", "b2_0@example.edu", "", "B",
        f"{sum(graded.points[LESSON].values()) - 1:g}", full[1],
    ]  # fmt: skip
    notes = (graded.out / "canvas-notes.txt").read_text(encoding="utf-8")
    assert "odd_1" in notes and "1 learner(s)" in notes and "1 名" in notes

    moodle = run_readme(".venv/bin/course export OUT --lms moodle --map MAP", places)
    assert moodle.returncode == 0, moodle.stdout + moodle.stderr
    assert "odd_1" in moodle.stderr
    with (graded.out / "moodle.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["email", *LESSONS]
    scores = {r[0]: r[1:] for r in rows[1:]}
    assert len(scores) == len(PLAN) - 1 and scores["blank_0@example.edu"] == ["0", "0"]
    assert "odd_1" in (graded.out / "moodle-notes.txt").read_text(encoding="utf-8")


def test_similarity_flags_the_two_copied_pairs_and_nothing_else(graded):
    rows = read_csv(graded.out / "similarity.csv")
    assert list(rows[0]) == ["lesson", "exercise", "learner_a", "learner_b", "similarity", "tokens"]
    found = [(r["exercise"], r["learner_a"], r["learner_b"]) for r in rows]
    # Each pair in the exercise it copied and in the notebook as a whole; the honest answers,
    # those who wrote the lesson's own answer, the one-liners and the identical 3-line
    # .backward() answers (too short to tell anything) are not flagged.
    assert sorted(found) == sorted(
        [
            ("central_difference", *COPIES[0]),
            ("notebook", *COPIES[0]),
            ("relative_error", *COPIES[1]),
            ("notebook", *COPIES[1]),
        ]
    )
    for r in rows:
        assert r["lesson"] == CHECKS
        assert float(r["similarity"]) >= 0.8 and int(r["tokens"]) >= 80
    similarities = [float(r["similarity"]) for r in rows]
    assert similarities == sorted(similarities, reverse=True)

    page = _report(graded)
    section = page[page.index('<section class="similarity">') :]
    assert "Similar answers · 相似的答案" in section
    assert "the instructor decides" in section and "由教师来判断" in section
    listed = re.findall(r'<tr data-pair="([^"]+)" data-exercise="([^"]+)"', section)
    assert [(e, *p.split()) for p, e in listed] == found
    assert "A central-difference gradient · 中心差分梯度" in section  # the exercise's title
    # Side by side: both answers' code, the shared part marked.
    pair = section[section.index('<details class="pair" data-pair="ok_00 ok_01"') :]
    pair = pair[: pair.index("</details>")]
    assert "zeta" in pair and "tiny" in pair and "<mark>" in pair


# --- without a grading run -------------------------------------------------------------------


def test_discrimination_is_undefined_without_spread():
    assert correlation([1, 1, 1, 1], [0, 3, 5, 9]) is None
    assert correlation([1, 0], [3, 1]) is None  # fewer than three learners
    assert correlation([0, 1, 1, 0], [1, 3, 4, 0]) == pytest.approx(3 / 10**0.5)


def test_submissions_graded_before_verdicts_count_as_no_record():
    item = Item(LESSON, LESSON, "dq_db_tests", "differentiation.grad_b", Msg("t", "t"), 1.0)
    cells = {f"{LESSON}:dq_db_tests": [1.0, 1.0]}
    graded = {
        f"new/{LESSON}": {
            "assignment": LESSON,
            "score": 1.0,
            "max_score": 1.0,
            "cells": cells,
            "verdicts": {f"{LESSON}:dq_db_tests": {"status": "right", "mistake": None}},
        },
        f"old/{LESSON}": {"assignment": LESSON, "score": 1.0, "max_score": 1.0, "cells": cells},
    }
    view = analyse(graded, [item])
    (only,) = view.items
    assert only.groups == {"right": ["new"], "incomplete": ["old"]}
    assert view.unrecorded == {LESSON: ["old"]}
    assert only.flagged  # two learners: no correlation to speak of


def test_a_diagnosis_and_a_blank_are_named_from_recorded_answers():
    import torch

    from autograder.grading.preprocessors import wrong_verdict
    from course_utils.exercises import encode, get

    cases = get("differentiation.grads_match").inputs(7, False)
    tensors = [encode(torch.tensor(True)) for _ in cases]
    assert wrong_verdict("differentiation.grads_match", 7, False, tensors) == (
        "wrong",
        "diagnosis:0",
    )
    stubs = [{"t": "error", "type": "NotImplementedError"}] * len(cases)
    assert wrong_verdict("differentiation.grads_match", 7, False, stubs) == ("blank", None)
    assert wrong_verdict("differentiation.grads_match", 7, False, stubs[:1]) == (
        "incomplete",
        None,
    )
