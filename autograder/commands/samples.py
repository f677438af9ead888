"""course samples [--dir COURSE] [--lesson LESSON ...] [--force]

A small class of sample submissions to try ``course grade`` and its class view on: in
nbgrader's layout ``<course>/submitted/<student>/<lesson>/<lesson>.ipynb`` with a
``timestamp.txt``, some right, one blank, some with the catalogue's mistakes, a rule broken,
a wrong answer no catalogue names, a pair of copies (:mod:`autograder.authoring.samples`);
and ``<course>/sample-students.csv``, a mapping for ``course export``. It never writes over a
learner's submission without ``--force``.
"""

from __future__ import annotations

import argparse
import csv
import shlex
import sys
from pathlib import Path

from autograder.config import ROOT
from course_utils.i18n import Msg

MAP_FILE = "sample-students.csv"

UNKNOWN = Msg(
    "course samples: no lesson {lesson} in this course. Its lessons: {known}",
    "course samples：本课程没有 {lesson} 这一课。现有的课：{known}",
)
TAKEN = Msg(
    "course samples: {folder} already holds {n} submission(s) of {lessons} ({names}). Sample "
    "submissions would overwrite or mix with them: nothing was written. Give another folder "
    "with --dir, or add --force to write the samples anyway (other learners' submissions are "
    "left as they are).",
    "course samples：{folder} 中已有 {lessons} 的 {n} 份提交（{names}）。示例提交会覆盖它们或与之"
    "混在一起，因此什么也没有写。请用 --dir 指定另一个文件夹，或加上 --force 照样写入"
    "（其他学习者的提交不会改动）。",
)
WROTE = Msg(
    "course samples: {n} sample submissions of {lesson} in {folder}:",
    "course samples：已在 {folder} 中写入 {lesson} 的 {n} 份示例提交：",
)
MAPPING = Msg(
    "and {path}: their ids for course export --map (made-up e-mail addresses, sections A and B).",
    "以及 {path}：供 course export --map 使用的学号对照表（虚构的邮箱地址，分为 A、B 两个班）。",
)
NEXT = Msg("Next, grade them:\n  {command}", "下一步，为它们评分：\n  {command}")

# What each group of sample learners handed in.
GROUPS = {
    "right": Msg("every answer right", "全部答对"),
    "copies": Msg(
        "right, in a style of their own, and a copy of it with every name changed "
        "(the similarity report's pair)",
        "答案正确且写法独特，另一份是改了所有名字的抄袭（相似度报告会标出这一对）",
    ),
    "b2": Msg(
        "∂Q/∂b still has b to its full power (a catalogued mistake)",
        "∂Q/∂b 里 b 的指数没有降下来（错误目录中的一种错误）",
    ),
    "c": Msg(
        "∂Q/∂a lost its coefficient (a catalogued mistake)",
        "∂Q/∂a 丢了系数（错误目录中的一种错误）",
    ),
    "rule": Msg(
        "∂Q/∂a with backward() where it must be derived by hand (a rule broken)",
        "∂Q/∂a 本应手算，却用了 backward()（违反规则）",
    ),
    "odd": Msg(
        "∂Q/∂b wrong in a way no catalogued mistake names",
        "∂Q/∂b 错了，但不属于错误目录中的任何一种",
    ),
    "cp": Msg(
        "∂Q/∂a of another learner's Q (copied from a classmate)",
        "∂Q/∂a 答的是别人的 Q（抄了同学的答案）",
    ),
    "wrong": Msg("the first answer returns None", "第一道题返回 None"),
    "blank": Msg("handed in blank", "交了空白的笔记本"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from autograder.authoring.samples import DEFAULT_LESSON

    parser.add_argument(
        "--dir",
        type=Path,
        default=ROOT,
        help="the course folder whose submitted/ gets the samples (default: this course's own)",
    )
    parser.add_argument(
        "--lesson",
        action="append",
        metavar="LESSON",
        help=f"a lesson to make samples of; repeat for more (default: {DEFAULT_LESSON})",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="write even where submissions of these lessons are already there",
    )


def taken(course: Path, lessons: list[str]) -> list[Path]:
    """Submission folders of these lessons already in ``course/submitted/``."""
    submitted = course / "submitted"
    return sorted(p for lesson in lessons for p in submitted.glob(f"*/{lesson}") if p.is_dir())


def run(args: argparse.Namespace) -> int:
    from autograder.authoring.release import lessons as course_lessons
    from autograder.authoring.samples import DEFAULT_LESSON, write_class

    chosen = list(dict.fromkeys(args.lesson or [DEFAULT_LESSON]))
    known = course_lessons(ROOT)
    for lesson in chosen:
        if lesson not in known:
            print(
                UNKNOWN.format(lesson=lesson, known=", ".join(known)).render("both"),
                file=sys.stderr,
            )
            return 2
    course = args.dir
    there = taken(course, chosen)
    mapping = course / MAP_FILE
    if (there or mapping.exists()) and not args.force:
        names = [f"{p.parent.name}/{p.name}" for p in there[:5]] + (["…"] if len(there) > 5 else [])
        names += [MAP_FILE] if mapping.exists() else []
        print(
            TAKEN.format(
                folder=shown(course / "submitted"),
                n=len(there),
                lessons=", ".join(chosen),
                names=", ".join(names),
            ).render("both"),
            file=sys.stderr,
        )
        return 1
    students: list[str] = []
    for lesson in chosen:
        written = write_class(course, lesson)
        print(
            WROTE.format(n=len(written), lesson=lesson, folder=shown(course / "submitted")).render(
                "both"
            )
        )
        groups: dict[str, list[str]] = {}
        for sample, _ in written:
            groups.setdefault(sample.group, []).append(sample.student)
            students.append(sample.student)
        for group, who in groups.items():
            print(f"  {', '.join(who)}: {GROUPS[group].en} · {GROUPS[group].zh}")
    write_mapping(mapping, list(dict.fromkeys(students)))
    print(MAPPING.format(path=shown(mapping)).render("both"))
    words = [Path(sys.prefix) / "bin" / "course", "grade", course / "submitted", "--workers", "2"]
    words += ["--out", course / "grading-out"]
    command = shlex.join(shown(w) if isinstance(w, Path) else w for w in words)
    print(NEXT.format(command=command).render("both"))
    return 0


def shown(path: Path) -> str:
    """``path`` as the instructor would type it from here: relative when it is below."""
    path, here = path.resolve(), Path.cwd().resolve()
    return str(path.relative_to(here)) if path.is_relative_to(here) else str(path)


def write_mapping(path: Path, students: list[str]) -> None:
    """``student_id,lms_id,name,section`` for every sample learner (course export --map)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["student_id", "lms_id", "name", "section"])
        for i, student in enumerate(students):
            out.writerow([student, f"{student}@example.edu", f"Sample {student}", "AB"[i % 2]])
