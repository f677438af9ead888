"""The class view of a grading run: what the class got wrong, exercise by exercise.

Every graded test cell of every submission carries the grader's own verdict
(:func:`autograder.grading.notes.set_verdict`, kept in the run's state by
:mod:`autograder.grading.grade`): right, blank (not answered), wrong (with the catalogued
mistake it is, if any), rule (the exercise's rules broken, or a rebound name) or incomplete
(no record of the answers). From them and the points, this module makes

- ``misconceptions.csv``: one row per lesson, exercise and category (right, blank, rule,
  each catalogued mistake by name with its message, unrecognised wrong answers, no record),
  with the count, the share of the lesson's submissions and the learners;
- ``items.csv``: item analysis per exercise, difficulty (the mean share of its points) and
  discrimination (the correlation of its score with the rest of the lesson's score);
- the report's sections: the class summary, each exercise by its title in lesson order,
  and a table of every learner's points per exercise with links to their feedback.
"""

from __future__ import annotations

import csv
import html
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import nbformat

from autograder.config import SOURCE_DIR
from course_utils.i18n import Msg

# Below this correlation with the rest of the lesson, an exercise does not tell strong
# learners from weak ones (a common rule of thumb for classroom tests).
LOW_DISCRIMINATION = 0.2
UNRECOGNISED = "unrecognised"
CATEGORIES = ("right", "blank", "rule", "incomplete")  # and "mistake:<name>", UNRECOGNISED
SHOWN_LEARNERS = 3  # unrecognised wrong answers: the ids shown so the instructor can look

LABELS = {
    "right": Msg("right", "正确"),
    "wrong": Msg("wrong", "错误"),
    "blank": Msg("not answered", "未作答"),
    "rule": Msg("rules broken", "违反规则"),
    "incomplete": Msg("no record", "无记录"),
    UNRECOGNISED: Msg("wrong, not a catalogued mistake", "错误，但不是目录中已知的错误"),
}


@dataclass(frozen=True)
class Item:
    """One graded test cell of a lesson: the exercise it checks, in lesson order."""

    lesson: str
    notebook: str
    grade_id: str
    exercise: str  # the exercise id ("" when the cell checks none the grader knows)
    title: Msg
    points: float

    @property
    def key(self) -> str:
        """How the run's state names the cell: ``<notebook>:<grade_id>``."""
        return f"{self.notebook}:{self.grade_id}"

    @property
    def column(self) -> str:
        """The cell's column in grades.csv: ``<lesson>:<grade_id>``."""
        where = self.lesson if self.notebook == self.lesson else f"{self.lesson}/{self.notebook}"
        return f"{where}:{self.grade_id}"


def catalog(course: Path) -> list[Item]:
    """The graded test cells of every lesson in ``course`` (its sources), in lesson order."""
    from autograder.grading.preprocessors import expected_checks

    items = []
    source = course / SOURCE_DIR
    lessons = sorted(p for p in source.iterdir() if p.is_dir()) if source.is_dir() else []
    for lesson in lessons:
        for path in sorted(lesson.glob("*.ipynb")):
            try:
                nb = nbformat.read(path, as_version=4)
            except Exception:  # an unreadable source: its cells are named by grade id
                continue
            for cell in nb.cells:
                meta = cell.get("metadata", {}).get("nbgrader", {})
                if not meta.get("grade") or not meta.get("grade_id"):
                    continue
                exercises = (
                    [e for e, _ in expected_checks(cell.source)] if cell.cell_type == "code" else []
                )
                exercise = exercises[0] if exercises else ""
                items.append(
                    Item(
                        lesson.name,
                        path.stem,
                        meta["grade_id"],
                        exercise,
                        _title(exercise, meta["grade_id"]),
                        float(meta.get("points", 0) or 0),
                    )
                )
    return items


def _title(exercise_id: str, grade_id: str) -> Msg:
    from course_utils.exercises import get

    try:
        return get(exercise_id).title
    except KeyError:
        return Msg(grade_id, grade_id)


def with_unlisted(items: list[Item], graded: dict[str, dict]) -> list[Item]:
    """``items``, and after them any graded cell of the run that the sources do not list."""
    known = {(i.lesson, i.key) for i in items}
    extra: dict[tuple[str, str], Item] = {}
    for r in graded.values():
        for key, (_, max_score) in (r.get("cells") or {}).items():
            if (r["assignment"], key) not in known:
                notebook, _, gid = key.partition(":")
                verdict = (r.get("verdicts") or {}).get(key, {})
                exercise = str(verdict.get("exercise") or "")
                extra[(r["assignment"], key)] = Item(
                    r["assignment"], notebook, gid, exercise, _title(exercise, gid), max_score
                )
    return items + [extra[k] for k in sorted(extra)]


# ---------------------------------------------------------------- analysis


def mistakes_of(exercise_id: str) -> list[tuple[str, Msg]]:
    """The catalogue of an exercise, by the names verdicts use (notes.set_verdict)."""
    from course_utils.exercises import PROCESS, get

    try:
        exercise = get(exercise_id)
    except KeyError:
        return []
    from autograder.grading.preprocessors import OTHER_VARIANT

    found = [(m.name, m.msg) for m in exercise.mistakes]
    # a family's members each have mistakes of their own, under the same names
    for member in getattr(exercise, "variants", ()) or ():
        found += [(m.name, m.msg) for m in member.mistakes if m.name not in dict(found)]
    found.append(
        (
            OTHER_VARIANT,
            Msg(
                "the answer is right for another learner's variant, not for their own",
                "答案对别人的变体是对的，对自己的变体却不对",
            ),
        )
    )
    found += [(f"diagnosis:{i}", msg) for i, (_, msg) in enumerate(exercise.diagnoses)]
    found += [(f"process:{name}", PROCESS[name][1]) for name in exercise.process]
    return found


@dataclass
class ItemView:
    item: Item
    learners: list[str] = field(default_factory=list)  # the lesson's graded submissions
    groups: dict[str, list[str]] = field(default_factory=dict)  # category -> learners
    messages: dict[str, Msg] = field(default_factory=dict)  # "mistake:<name>" -> message
    scores: dict[str, float] = field(default_factory=dict)  # learner -> points here
    difficulty: float | None = None
    discrimination: float | None = None

    @property
    def flagged(self) -> bool:
        return self.discrimination is None or self.discrimination < LOW_DISCRIMINATION

    def count(self, category: str) -> int:
        return len(self.groups.get(category, []))

    @property
    def wrong(self) -> int:
        return sum(len(v) for k, v in self.groups.items() if k.startswith("mistake:")) + self.count(
            UNRECOGNISED
        )

    def share(self, category: str) -> float:
        return self.count(category) / len(self.learners) if self.learners else 0.0

    def categories(self) -> list[str]:
        """Every category of this exercise, in the order the CSV and the report list them."""
        mistakes = [k for k in self.messages]
        return ["right", "blank", "rule", *mistakes, UNRECOGNISED, "incomplete"]


@dataclass
class ClassView:
    items: list[ItemView]
    students: dict[str, dict[str, dict]]  # lesson -> learner -> the run's result
    unrecorded: dict[str, list[str]]  # lesson -> learners graded before verdicts existed

    def lessons(self) -> list[str]:
        return list(dict.fromkeys(v.item.lesson for v in self.items))

    def of_lesson(self, lesson: str) -> list[ItemView]:
        return [v for v in self.items if v.item.lesson == lesson]

    def common_mistakes(self, lesson: str, top: int = 5) -> list[tuple[ItemView, str]]:
        """The most frequent catalogued mistakes of a lesson, across its exercises."""
        found = [
            (view, category)
            for view in self.of_lesson(lesson)
            for category in view.messages
            if view.count(category)
        ]
        found.sort(key=lambda vc: -vc[0].count(vc[1]))
        return found[:top]


def student_of(key: str, assignment: str) -> str:
    """The learner of a state key ``<student>/<assignment>``."""
    return key[: -len(assignment) - 1] if key.endswith("/" + assignment) else key.split("/")[0]


def analyse(graded: dict[str, dict], items: list[Item]) -> ClassView:
    """Counts per exercise and category, and the item analysis, from the run's state."""
    items = with_unlisted(items, graded)
    students: dict[str, dict[str, dict]] = {}
    for key, r in sorted(graded.items()):
        students.setdefault(r["assignment"], {})[student_of(key, r["assignment"])] = r
    unrecorded = {
        lesson: [s for s, r in by.items() if "verdicts" not in r] for lesson, by in students.items()
    }
    views = []
    for item in items:
        by_learner = students.get(item.lesson, {})
        view = ItemView(item, learners=sorted(by_learner))
        for name, msg in mistakes_of(item.exercise):
            view.messages[f"mistake:{name}"] = msg
        for learner in view.learners:
            r = by_learner[learner]
            verdict = (r.get("verdicts") or {}).get(item.key) or {}
            status = verdict.get("status", "incomplete")
            category = status
            if status == "wrong":
                name = verdict.get("mistake")
                category = f"mistake:{name}" if name else UNRECOGNISED
                if name and category not in view.messages:  # named, but not in today's list
                    view.messages[category] = Msg(str(name), str(name))
            elif status not in CATEGORIES:
                category = "incomplete"
            view.groups.setdefault(category, []).append(learner)
            cell = (r.get("cells") or {}).get(item.key)
            if cell is not None:
                view.scores[learner] = float(cell[0])
        item_analysis(view, by_learner)
        views.append(view)
    return ClassView(views, students, {k: v for k, v in unrecorded.items() if v})


def item_analysis(view: ItemView, by_learner: dict[str, dict]) -> None:
    """Difficulty: the mean share of the exercise's points. Discrimination: the correlation
    of its score with the rest of the lesson's score (the other cells), over its learners."""
    points = view.item.points
    learners = [s for s in view.learners if s in view.scores]
    if not learners or not points:
        return
    mine = [view.scores[s] for s in learners]
    view.difficulty = sum(x / points for x in mine) / len(mine)
    rest = [
        sum(c[0] for k, c in (by_learner[s].get("cells") or {}).items() if k != view.item.key)
        for s in learners
    ]
    view.discrimination = correlation(mine, rest)


def correlation(xs: list[float], ys: list[float]) -> float | None:
    """Pearson's r; None when it is undefined (fewer than three pairs, or no spread)."""
    n = len(xs)
    if n < 3:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx <= 1e-12 or syy <= 1e-12:
        return None
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


# ---------------------------------------------------------------- CSV files

MISCONCEPTION_COLUMNS = (
    "lesson", "exercise", "grade_id", "title", "category", "mistake", "message",
    "count", "share", "learners",
)  # fmt: skip
ITEM_COLUMNS = (
    "lesson", "exercise", "grade_id", "title", "points", "n", "right", "wrong", "blank",
    "rule", "incomplete", "difficulty", "discrimination", "flag",
)  # fmt: skip


def _number(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def write_csvs(out: Path, view: ClassView) -> None:
    """``misconceptions.csv`` and ``items.csv`` in ``out``."""
    rows = []
    for v in view.items:
        for category in v.categories():
            kind, _, name = category.partition(":")
            rows.append(
                {
                    "lesson": v.item.lesson,
                    "exercise": v.item.exercise,
                    "grade_id": v.item.grade_id,
                    "title": v.item.title.en,
                    "category": kind,
                    "mistake": name,
                    "message": v.messages[category].en if kind == "mistake" else "",
                    "count": v.count(category),
                    "share": _number(v.share(category)),
                    "learners": ";".join(v.groups.get(category, [])),
                }
            )
    _write(out / "misconceptions.csv", MISCONCEPTION_COLUMNS, rows)
    items = [
        {
            "lesson": v.item.lesson,
            "exercise": v.item.exercise,
            "grade_id": v.item.grade_id,
            "title": v.item.title.en,
            "points": f"{v.item.points:g}",
            "n": len(v.learners),
            "right": v.count("right"),
            "wrong": v.wrong,
            "blank": v.count("blank"),
            "rule": v.count("rule"),
            "incomplete": v.count("incomplete"),
            "difficulty": _number(v.difficulty),
            "discrimination": _number(v.discrimination),
            "flag": "low discrimination" if v.flagged and v.learners else "",
        }
        for v in view.items
    ]
    _write(out / "items.csv", ITEM_COLUMNS, items)


def _write(path: Path, columns: tuple[str, ...], rows: list[dict]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)  # never half a file


def per_exercise_scores(db_url: str, course_id: str) -> dict[tuple[str, str], dict[str, float]]:
    """``(assignment, student) -> {"<notebook>:<grade_id>": score}`` from the gradebook (manual
    grades included), in one query."""
    from nbgrader.api import (
        Assignment,
        BaseCell,
        Grade,
        Gradebook,
        Notebook,
        SubmittedAssignment,
        SubmittedNotebook,
    )

    found: dict[tuple[str, str], dict[str, float]] = {}
    with Gradebook(db_url, course_id) as gb:
        rows = (
            gb.db.query(
                Assignment.name,
                SubmittedAssignment.student_id,
                Notebook.name,
                BaseCell.name,
                Grade.score,
            )
            .select_from(Grade)
            .join(SubmittedNotebook, Grade.notebook_id == SubmittedNotebook.id)
            .join(Notebook, SubmittedNotebook.notebook_id == Notebook.id)
            .join(SubmittedAssignment, SubmittedNotebook.assignment_id == SubmittedAssignment.id)
            .join(Assignment, SubmittedAssignment.assignment_id == Assignment.id)
            .join(BaseCell, Grade.cell_id == BaseCell.id)
            .filter(BaseCell.type == "GradeCell")
            .all()
        )
    for assignment, student, notebook, cell, score in rows:
        found.setdefault((assignment, student), {})[f"{notebook}:{cell}"] = float(score or 0)
    return found


def add_exercise_columns(
    path: Path, items: list[Item], scores: dict[tuple[str, str], dict[str, float]]
) -> None:
    """nbgrader's columns of ``path`` first, then one column per exercise (``<lesson>:<grade_id>``,
    in lesson order); a lesson's row leaves the other lessons' columns empty."""
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        columns = list(reader.fieldnames or [])
        rows = list(reader)
    listed = {(i.lesson, i.key) for i in items}
    extra = sorted(
        {
            Item(a, key.partition(":")[0], key.partition(":")[2], "", Msg("", ""), 0)
            for (a, _), cells in scores.items()
            for key in cells
            if (a, key) not in listed
        },
        key=lambda i: (i.lesson, i.key),
    )
    cells = [*items, *extra]
    added = [i.column for i in cells if i.column not in columns]
    for row in rows:
        mine = scores.get((row.get("assignment"), row.get("student_id")), {})
        for item in cells:
            if item.lesson == row.get("assignment") and item.key in mine:
                row[item.column] = f"{mine[item.key]:g}"
    _write(path, tuple(columns + added), rows)


# ---------------------------------------------------------------- the report

H = html.escape


def _both(msg: Msg) -> str:
    return f"{H(msg.en)} · {H(msg.zh)}" if msg.en != msg.zh else H(msg.en)


def _pct(share: float) -> str:
    return f"{100 * share:.0f}%"


def _learners(learners: list[str], limit: int | None = None) -> str:
    shown = learners if limit is None else learners[:limit]
    text = ", ".join(f"<code>{H(s)}</code>" for s in shown)
    if limit is not None and len(learners) > limit:
        more = len(learners) - limit
        text += f" … (+{more} more · 另有 {more} 人)"
    return text


def report_sections(view: ClassView) -> str:
    """The class view's HTML: summary, each exercise, every learner's points."""
    parts = [
        "<h2>Misconceptions · 常见错误</h2>",
        "<p>From the grader's own verdict at every graded test: right, not answered, rules "
        "broken, each catalogued mistake, and wrong answers that are none of them. "
        "Difficulty is the mean share of an exercise's points (1 = everyone right); "
        f"discrimination is the correlation of its score with the rest of the lesson's score, "
        f"flagged ⚑ below {LOW_DISCRIMINATION} or when undefined (everyone scored the same).</p>"
        "<p>以下数据来自评分程序对每道评分测试给出的结论：正确、未作答、违反规则、目录中每一种已知错误，"
        "以及不属于其中任何一种的错误答案。难度是这道练习平均得分占满分的比例（1 表示全部答对）；"
        f"区分度是这道练习的得分与本课其余得分的相关系数，低于 {LOW_DISCRIMINATION} "
        "或无法计算（所有人得分相同）时标记为 ⚑。</p>",
    ]
    for lesson in view.lessons():
        parts.append(_lesson_section(view, lesson))
    return "\n".join(parts)


def _lesson_section(view: ClassView, lesson: str) -> str:
    views = view.of_lesson(lesson)
    n = len(view.students.get(lesson, {}))
    out = [f'<section class="lesson" data-lesson="{H(lesson)}"><h3>{H(lesson)}</h3>']
    if lesson in view.unrecorded:
        k = len(view.unrecorded[lesson])
        out.append(
            f"<p>{k} submission(s) were graded by an earlier grader that recorded no verdicts: "
            f"they count as “no record” until graded again. · {k} 份提交由较早版本的评分程序评阅，"
            "当时没有记录结论：重新评分之前，它们计为“无记录”。</p>"
        )
    common = view.common_mistakes(lesson)
    out.append("<h4>Most common mistakes · 最常见的错误</h4>")
    if common:
        out.append('<ol class="summary">')
        for v, category in common:
            out.append(
                f'<li data-exercise="{H(v.item.exercise)}" data-category="{H(category)}" '
                f'data-count="{v.count(category)}"><b>{_both(v.item.title)}</b>: '
                f"{_both(v.messages[category])} — {v.count(category)} of {n} · {n} 人中 "
                f"{v.count(category)} 人 ({_pct(v.share(category))})</li>"
            )
        out.append("</ol>")
    else:
        out.append("<p>No catalogued mistake was made. · 没有人犯目录中的已知错误。</p>")
    out.append(_overview(views))
    for v in views:
        out.append(_exercise_block(v))
    out.append(_students_table(view, lesson, views))
    out.append("</section>")
    return "\n".join(out)


def _overview(views: list[ItemView]) -> str:
    head = "".join(
        f"<th>{_both(m)}</th>"
        for m in (
            Msg("exercise", "练习"),
            Msg("points", "分值"),
            LABELS["right"],
            LABELS["wrong"],
            LABELS["blank"],
            LABELS["rule"],
            LABELS["incomplete"],
            Msg("difficulty", "难度"),
            Msg("discrimination", "区分度"),
        )
    )
    rows = []
    for v in views:
        flag = " ⚑" if v.flagged and v.learners else ""
        disc = _number(v.discrimination, 2) or "—"
        rows.append(
            f'<tr data-exercise="{H(v.item.exercise)}" data-grade-id="{H(v.item.grade_id)}">'
            f"<td>{_both(v.item.title)}</td><td>{v.item.points:g}</td>"
            f'<td data-count="right">{v.count("right")}</td>'
            f'<td data-count="wrong">{v.wrong}</td>'
            f'<td data-count="blank">{v.count("blank")}</td>'
            f'<td data-count="rule">{v.count("rule")}</td>'
            f'<td data-count="incomplete">{v.count("incomplete")}</td>'
            f'<td data-difficulty="{_number(v.difficulty)}">{_number(v.difficulty, 2) or "—"}</td>'
            f'<td data-discrimination="{_number(v.discrimination)}">{disc}{flag}</td></tr>'
        )
    return f'<table class="items"><tr>{head}</tr>{"".join(rows)}</table>'


def _exercise_block(v: ItemView) -> str:
    out = [
        f'<div class="exercise" data-exercise="{H(v.item.exercise)}">'
        f"<h4>{_both(v.item.title)} <small>({H(v.item.grade_id)})</small></h4><ul>"
    ]
    for category in v.categories():
        count = v.count(category)
        if category.startswith("mistake:"):
            if not count:
                continue
            what = _both(v.messages[category])
            who = _learners(v.groups[category])
        elif category == UNRECOGNISED:
            what = _both(LABELS[UNRECOGNISED])
            who = _learners(v.groups.get(category, []), SHOWN_LEARNERS)
        elif category == "incomplete" and not count:
            continue
        else:
            what = _both(LABELS[category])
            who = (
                _learners(v.groups.get(category, []), SHOWN_LEARNERS) if category == "rule" else ""
            )
        tail = f" — {who}" if who and count else ""
        out.append(
            f'<li data-category="{H(category)}" data-count="{count}"><b>{count}</b> '
            f"({_pct(v.share(category))}) {what}{tail}</li>"
        )
    out.append("</ul></div>")
    return "".join(out)


def _students_table(view: ClassView, lesson: str, views: list[ItemView]) -> str:
    head = "".join(f"<th>{H(v.item.title.en)}<br>{H(v.item.title.zh)}</th>" for v in views)
    rows = []
    for learner, r in sorted(view.students.get(lesson, {}).items()):
        cells = []
        for v in views:
            verdict = (r.get("verdicts") or {}).get(v.item.key) or {}
            status = verdict.get("status", "incomplete")
            score = v.scores.get(learner)
            shown = "—" if score is None else f"{score:g}"
            tip = verdict.get("mistake") or status
            cells.append(f'<td class="{H(status)}" title="{H(str(tip))}">{shown}</td>')
        links = " ".join(
            f'<a href="../feedback/{quote(learner)}/{quote(lesson)}/{quote(Path(p).name)}" '
            f'title="{H(Path(p).stem)}">view · 查看</a>'
            for p in r.get("feedback") or []
        )
        rows.append(
            f'<tr data-learner="{H(learner)}"><td><code>{H(learner)}</code></td>{"".join(cells)}'
            f"<td>{r.get('score', 0):g}/{r.get('max_score', 0):g}</td><td>{links or '—'}</td></tr>"
        )
    return (
        "<h4>Every learner · 每位学习者</h4>"
        '<p>Points per exercise; <span class="wrong">wrong</span>, <span class="blank">not '
        'answered</span>, <span class="rule">rules broken</span>, <span class="incomplete">no '
        "record</span>; hover a cell for the mistake. · 每道练习的得分；"
        '<span class="wrong">错误</span>、<span class="blank">未作答</span>、'
        '<span class="rule">违反规则</span>、<span class="incomplete">无记录</span>；'
        "鼠标悬停可看到具体错误。</p>"
        f'<div class="wide"><table class="students"><tr><th>learner · 学习者</th>{head}'
        f"<th>total · 总分</th><th>feedback · 反馈</th></tr>{''.join(rows)}</table></div>"
    )


STYLE = (
    "table.items td,table.students td{text-align:right}"
    "table.items td:first-child,table.students td:first-child{text-align:left}"
    ".wrong{background:#fde2e1}.blank{background:#eee}.rule{background:#fff0c2}"
    ".incomplete{background:#e8e0f5}table{border-collapse:collapse}"
    "th{font-weight:normal;font-size:.85em}div.wide{overflow-x:auto}"
    "table.students th{font-size:.75em;max-width:8em;overflow-wrap:anywhere}"
    "table.students td:last-child{white-space:nowrap}"
)
