"""What the grader noticed about a submission, for the log and, in both languages, the learner.

Preprocessors record notes in the notebook's metadata (``course_grader.notes``) as
``[code, detail]`` pairs; :class:`~autograder.grading.preprocessors.GraderNotes` turns them into
a bilingual cell at the top of the graded notebook, which the feedback shows.
"""

from __future__ import annotations

import nbformat
from nbformat import NotebookNode

from course_utils.i18n import Msg

KEY = "course_grader"

MESSAGES: dict[str, Msg] = {
    "unreadable": Msg(
        "The submitted notebook could not be read ({detail}); it was graded as the blank lesson.",
        "提交的笔记本无法读取（{detail}），因此按本课的空白笔记本评分。",
    ),
    "missing-notebook": Msg(
        "The lesson's notebook was not in the submission ({detail}); it was graded as blank.",
        "提交中没有本课的笔记本（{detail}），因此按空白笔记本评分。",
    ),
    "missing": Msg(
        "A graded cell was missing ({detail}); it was put back from the lesson.",
        "缺少一个评分单元格（{detail}），已按课程原样补回。",
    ),
    "duplicate": Msg(
        "A graded cell appeared more than once ({detail}); only the first copy is graded.",
        "一个评分单元格出现了不止一次（{detail}），只对第一个评分。",
    ),
    "reordered": Msg(
        "Graded cells were out of order; they were put back in the lesson's order.",
        "评分单元格的顺序被打乱，已恢复为课程中的顺序。",
    ),
    "metadata": Msg(
        "The nbgrader settings of a graded cell were changed ({detail}); the lesson's settings were used.",
        "一个评分单元格的 nbgrader 设置被修改过（{detail}），评分时使用了课程原来的设置。",
    ),
    "unknown": Msg(
        "A cell claimed to be graded with an unknown id ({detail}); it was treated as an ordinary cell.",
        "有一个单元格使用了未知的评分编号（{detail}），已当作普通单元格处理。",
    ),
    "timeout": Msg(
        "A cell ran longer than the time limit and was stopped (cell {detail}).",
        "有一个单元格运行超过了时间限制，已被中止（第 {detail} 个单元格）。",
    ),
    "notebook-timeout": Msg(
        "The notebook ran longer than its total time limit; the cells after {detail} were not run.",
        "整个笔记本的运行时间超过了上限；第 {detail} 个单元格之后的内容没有运行。",
    ),
    "memory": Msg(
        "A cell tried to use more memory than the grader allows (cell {detail}).",
        "有一个单元格试图使用超过评分程序允许的内存（第 {detail} 个单元格）。",
    ),
    "kernel-died": Msg(
        "The kernel stopped while running cell {detail} (for example sys.exit, os._exit or a crash); "
        "the cells after it were not run.",
        "内核在运行第 {detail} 个单元格时停止了（例如 sys.exit、os._exit 或程序崩溃），之后的单元格没有运行。",
    ),
    "interference": Msg(
        "The grader asked the notebook for a test's answers and got none back ({detail}): "
        "something in the notebook interfered with the request.",
        "评分程序向笔记本索取一道测试的答案，却没有收到（{detail}）：笔记本中的某些代码干扰了这次请求。",
    ),
    "forbidden": Msg(
        "An answer used what its exercise does not accept ({detail}); that exercise scores 0, "
        "and its test says why.",
        "有答案用了练习不允许使用的手段（{detail}），该练习记 0 分，原因见对应的测试。",
    ),
    "rebound": Msg(
        "A name that a test calls was given another value ({detail}); that test scores 0.",
        "测试要调用的一个名字被赋了别的值（{detail}），该测试记 0 分。",
    ),
    "grader-error": Msg(
        "The grader itself failed on this submission ({detail}); please tell your instructor.",
        "评分程序在处理这份提交时出错（{detail}），请告知老师。",
    ),
}

HEADING = Msg("**What the grader noticed**", "**评分时发现的情况**")


def add(nb: NotebookNode, code: str, detail: object = "") -> None:
    notes = nb.metadata.setdefault(KEY, {}).setdefault("notes", [])
    entry = [code, str(detail)[:200]]
    if entry not in notes:
        notes.append(entry)


def of(nb: NotebookNode) -> list[list[str]]:
    return list(nb.metadata.get(KEY, {}).get("notes", []))


def describe(notes: list[list[str]], lang: str = "en") -> list[str]:
    out = []
    for code, detail in notes:
        msg = MESSAGES.get(code, Msg(code, code)).format(detail=detail)
        out.append(msg.render(lang))
    return out


def log_line(notes: list[list[str]]) -> str:
    """Short form for the instructor's log: ``timeout(7), missing(dq_db_tests)``."""
    return ", ".join(f"{code}({detail})" if detail else code for code, detail in notes)


# Marks the grader's own "right on all inputs" line, which a later verdict takes back.
PASSED = "course_grader_passed"


def fail_cell(cell: NotebookNode, problem: Msg) -> None:
    """Add an error output to a graded test cell: nbgrader then scores it 0, and the learner
    reads ``problem`` in both languages where the test's own output would be."""
    text = problem.render("both")
    cell.outputs = [o for o in cell.get("outputs", []) if not o.get("metadata", {}).get(PASSED)]
    cell.outputs.append(
        nbformat.v4.new_output(
            "error", ename="GradingError", evalue=text, traceback=[f"GradingError: {text}"]
        )
    )


# What the grader concluded at each graded test cell, for the class view (``course_grader.verdicts``):
# one entry per cell, ``{"cell": grade_id, "exercise": id, "status": …, "mistake": name or None}``.
# VerifyAnswers writes them in the grader's own process; EnforceRules may turn one into "rule".
STATUSES = ("right", "blank", "wrong", "rule", "incomplete")


def clear_verdicts(nb: NotebookNode) -> None:
    """Forget any verdicts the submission itself carried: only the grader's own count."""
    nb.metadata.setdefault(KEY, {})["verdicts"] = []


def set_verdict(
    nb: NotebookNode,
    cell: str,
    exercise: str,
    status: str,
    mistake: str | None = None,
    detail: str | None = None,
    message: Msg | None = None,
) -> None:
    """Record (or replace) the verdict of the graded cell ``cell``; ``message``: what the
    learner is told there, which the feedback page shows as a block (VerdictBlocks)."""
    if status not in STATUSES:
        raise ValueError(f"unknown verdict status {status!r}")
    verdicts = nb.metadata.setdefault(KEY, {}).setdefault("verdicts", [])
    entry = {"cell": cell, "exercise": exercise, "status": status, "mistake": mistake}
    if detail:
        entry["detail"] = str(detail)[:200]
    if message is not None:
        entry["message"] = {"en": message.en, "zh": message.zh}
    verdicts[:] = [v for v in verdicts if not (isinstance(v, dict) and v.get("cell") == cell)]
    verdicts.append(entry)


def message_of(verdict: dict) -> Msg | None:
    """The message a verdict recorded (None for verdicts recorded without one)."""
    found = verdict.get("message")
    if not isinstance(found, dict):
        return None
    en, zh = found.get("en"), found.get("zh")
    return Msg(en, zh) if isinstance(en, str) and isinstance(zh, str) else None


def verdicts_of(nb: NotebookNode) -> list[dict]:
    """The verdicts a graded notebook holds (well-formed entries only)."""
    found = nb.metadata.get(KEY, {}).get("verdicts", [])
    if not isinstance(found, list):
        return []
    return [
        dict(v)
        for v in found
        if isinstance(v, dict) and isinstance(v.get("cell"), str) and v.get("status") in STATUSES
    ]
