"""Grades for a learning management system: Canvas's and Moodle's grade import CSV files.

Both are made from ``grades.csv`` (what ``course grade`` wrote) and a mapping file from
nbgrader's student ids to the LMS's ids, a CSV file ``student_id,lms_id[,name,section]``
(a header row with those names is optional):

- Canvas (Grades → Import): ``Student, ID, SIS User ID, SIS Login ID, Section``, then one
  column per lesson with its points, and a ``Points Possible`` row under the header, as
  Canvas's own export has it. The LMS id goes in the column Canvas matches on (``--id-column``;
  by default ``SIS User ID``).
- Moodle (Grades → Import → CSV file): an identifier column (``email``, ``username`` or
  ``idnumber``; Moodle asks which user field it maps to), then one column per lesson.

A learner with grades but no line in the mapping is never dropped silently: they are not in
the file (the LMS could not match them), and they are listed in the notes beside it and on
stderr. A lesson a mapped learner did not submit is left empty (the LMS keeps what it has).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

from course_utils.i18n import Msg

FORMATS = ("canvas", "moodle")
CANVAS_ID_COLUMNS = ("ID", "SIS User ID", "SIS Login ID")
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
MOODLE_FIELDS = ("email", "username", "idnumber")
POINTS_POSSIBLE = "    Points Possible"  # Canvas's own export spells its row this way

UNMAPPED = Msg(
    "{n} learner(s) with grades are not in the mapping file {map}, so they are not in {file}: {who}",
    "有 {n} 名有成绩的学习者不在映射文件 {map} 中，因此没有写入 {file}：{who}",
)
NOT_GRADED = Msg(
    "{n} learner(s) of the mapping file have no grade in grades.csv: {who}",
    "映射文件中有 {n} 名学习者在 grades.csv 中没有成绩：{who}",
)
MISSING = Msg(
    "{who}: no submission of {lesson}; the cell is left empty (the LMS keeps what it has).",
    "{who}：没有提交 {lesson}；该格留空（LMS 保留原有成绩）。",
)
WROTE = Msg(
    "wrote {file} ({n} learner(s), {k} lesson(s)); notes: {notes}",
    "已写入 {file}（{n} 名学习者，{k} 课）；说明：{notes}",
)


class MappingError(ValueError):
    """The mapping file cannot be used as it is."""


@dataclass(frozen=True)
class Person:
    lms_id: str
    name: str = ""
    section: str = ""


@dataclass
class Grades:
    lessons: list[str]  # in course order
    points: dict[str, float]  # lesson -> most points
    scores: dict[str, dict[str, float]] = field(default_factory=dict)  # student -> lesson -> score


def read_grades(path: Path) -> Grades:
    """Per learner and lesson, the score of ``grades.csv`` (nbgrader's columns)."""
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    grades = Grades(lessons=sorted({r["assignment"] for r in rows}), points={})
    for r in rows:
        lesson, student = r["assignment"], r["student_id"]
        max_score = float(r.get("max_score") or 0)
        grades.points[lesson] = max(grades.points.get(lesson, 0.0), max_score)
        grades.scores.setdefault(student, {})[lesson] = float(r.get("score") or 0)
    return grades


def read_mapping(path: Path) -> dict[str, Person]:
    """``student_id -> Person`` from ``student_id,lms_id[,name,section]`` lines."""
    mapping: dict[str, Person] = {}
    owners: dict[str, str] = {}
    with path.open(newline="", encoding="utf-8-sig") as f:
        for number, row in enumerate(csv.reader(f), start=1):
            row = [c.strip() for c in row]
            if not row or not any(row) or row[0].startswith("#"):
                continue
            if number == 1 and row[0].lower() == "student_id":
                continue  # the header
            if len(row) < 2 or not row[0] or not row[1]:
                raise MappingError(
                    f"{path}, line {number}: expected student_id,lms_id[,name,section] · "
                    f"{path} 第 {number} 行：应为 student_id,lms_id[,name,section]"
                )
            student, lms_id = row[0], row[1]
            if student in mapping:
                raise MappingError(
                    f"{path}, line {number}: {student} is mapped twice · "
                    f"{path} 第 {number} 行：{student} 出现了两次"
                )
            if lms_id in owners:
                raise MappingError(
                    f"{path}, line {number}: {lms_id} is the LMS id of both {owners[lms_id]} "
                    f"and {student} · {path} 第 {number} 行：{owners[lms_id]} 和 {student} "
                    f"的 LMS 编号都是 {lms_id}"
                )
            owners[lms_id] = student
            extra = row[2:] + ["", ""]
            mapping[student] = Person(lms_id, extra[0], extra[1])
    return mapping


@dataclass
class Export:
    path: Path
    notes_path: Path
    rows: int
    unmapped: list[str]
    notes: list[Msg]


def export(
    grades_csv: Path,
    mapping_file: Path,
    to: str,
    dest: Path,
    *,
    id_column: str = "SIS User ID",
    moodle_field: str = "email",
) -> Export:
    """Write ``dest`` (the LMS's CSV) and ``<dest>-notes.txt`` beside it."""
    if to not in FORMATS:
        raise ValueError(f"unknown LMS {to!r}: {', '.join(FORMATS)} · 未知的 LMS：{to!r}")
    grades = read_grades(grades_csv)
    mapping = read_mapping(mapping_file)
    unmapped = sorted(s for s in grades.scores if s not in mapping)
    mapped = sorted((s for s in grades.scores if s in mapping), key=lambda s: mapping[s].lms_id)
    notes: list[Msg] = []
    if unmapped:
        notes.append(
            UNMAPPED.format(
                n=len(unmapped), map=mapping_file, file=dest.name, who=", ".join(unmapped)
            )
        )
    idle = sorted(s for s in mapping if s not in grades.scores)
    if idle:
        notes.append(NOT_GRADED.format(n=len(idle), who=", ".join(idle)))
    for student in mapped:
        for lesson in grades.lessons:
            if lesson not in grades.scores[student]:
                notes.append(MISSING.format(who=student, lesson=lesson))
    if to == "canvas":
        if id_column not in CANVAS_ID_COLUMNS:
            raise ValueError(
                f"--id-column must be one of {', '.join(CANVAS_ID_COLUMNS)} · --id-column 只能是其中之一"
            )
        header = [*CANVAS_COLUMNS, *grades.lessons]
        rows = [[POINTS_POSSIBLE, "", "", "", "", *(_n(grades.points[x]) for x in grades.lessons)]]
        for student in mapped:
            person = mapping[student]
            ids = {c: (person.lms_id if c == id_column else "") for c in CANVAS_ID_COLUMNS}
            rows.append(
                [
                    person.name or student,
                    ids["ID"],
                    ids["SIS User ID"],
                    ids["SIS Login ID"],
                    person.section,
                    *_scores(grades, student),
                ]
            )
    else:
        if moodle_field not in MOODLE_FIELDS:
            raise ValueError(
                f"--moodle-field must be one of {', '.join(MOODLE_FIELDS)} · --moodle-field 只能是其中之一"
            )
        header = [moodle_field, *grades.lessons]
        rows = [[mapping[s].lms_id, *_scores(grades, s)] for s in mapped]
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    os.replace(tmp, dest)
    notes_path = dest.with_name(f"{dest.stem}-notes.txt")
    lines = (
        [m.en for m in notes] + [""] + [m.zh for m in notes]
        if notes
        else ["Every learner with grades is in the file. · 所有有成绩的学习者都已写入文件。"]
    )
    notes_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Export(dest, notes_path, len(mapped), unmapped, notes)


def _n(value: float) -> str:
    return f"{value:g}"


def _scores(grades: Grades, student: str) -> list[str]:
    mine = grades.scores[student]
    return [_n(mine[lesson]) if lesson in mine else "" for lesson in grades.lessons]
