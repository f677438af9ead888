"""The lesson's scoreboard behind ``progress()``, from the checks run in this kernel.

Each exercise of the open notebook, in order, by its title, with what its last check said:
✓ right, ✗ wrong (with the first line of the diagnosis: the recognised mistake), … not
answered, or · not checked yet; its points and the total. The notebook is read for its graded
test cells (their points and the exercises they check) and the exercises' titles; the
verdicts are those of :func:`course_utils.check` in this kernel, local or from the hub's
checking service. It is the learner's own view: the grade is the grader's.
"""

from __future__ import annotations

import ast
import json
import os
import re
from dataclasses import dataclass

from course_utils.i18n import Msg, current_lang

# exercise id -> (status, the first line of what its last check said)
RESULTS: dict[str, tuple[str, Msg | None]] = {}

RIGHT, WRONG, BLANK = "right", "wrong", "blank"


def record(exercise_id: str, passed: bool, message: Msg | None) -> None:
    """What one check said (called by :func:`course_utils.check`)."""
    if passed:
        RESULTS[exercise_id] = (RIGHT, None)
        return
    first = Msg(
        (message.en.splitlines() or [""])[0] if message else "",
        (message.zh.splitlines() or [""])[0] if message else "",
    )
    blank = message is not None and "NotImplementedError" in message.en
    RESULTS[exercise_id] = (BLANK if blank else WRONG, first)


@dataclass
class Row:
    title: Msg
    exercises: list[str]
    points: float


_EXERCISE = re.compile(r"^#+\s*((?:Exercise|练习)\s*\d+.*)$", re.M)


def _checks(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "check"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ]


def rows(notebook: dict) -> list[Row]:
    """The graded test cells of a notebook, titled by the exercise headings above them."""
    out: list[Row] = []
    heading = {"en": "", "zh": ""}
    for cell in notebook.get("cells", []):
        source = "".join(cell.get("source", ""))
        if cell.get("cell_type") == "markdown":
            found = _EXERCISE.search(source)
            if found:
                tags = cell.get("metadata", {}).get("tags", [])
                lang = "zh" if "lang:zh" in tags else "en"
                heading[lang] = found.group(1).strip()
                if lang == "en":
                    heading["zh"] = ""
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") == "code" and meta.get("grade"):
            ids = list(dict.fromkeys(_checks(source)))
            en = heading["en"] or (ids[0] if ids else meta.get("grade_id", "?"))
            title = Msg(en, heading["zh"] or en)
            out.append(Row(title, ids, float(meta.get("points", 0) or 0)))
    return out


def _notebook_path(path: str | None) -> str | None:
    if path:
        return path
    try:
        from IPython import get_ipython

        session = get_ipython().user_ns.get("__session__")
    except Exception:
        session = None
    if isinstance(session, str) and session.endswith(".ipynb"):
        local = os.path.basename(session)  # the kernel runs in the notebook's folder
        return local if os.path.exists(local) else session
    return None


def scoreboard(notebook: dict) -> Msg:
    """The scoreboard of ``notebook`` as text, in both languages."""
    head = Msg("Your progress in this lesson:", "本课进度：")
    lines_en, lines_zh = [head.en], [head.zh]
    earned = total = 0.0
    for row in rows(notebook):
        total += row.points
        states = [RESULTS.get(e, (None, None)) for e in row.exercises]
        if row.exercises and all(s == RIGHT for s, _ in states):
            mark, gained, note = "✓", row.points, Msg("", "")
        elif any(s == WRONG for s, _ in states):
            first = next(m for s, m in states if s == WRONG)
            mark, gained = "✗", 0.0
            en, zh = first.en.split(": ", 1)[-1], first.zh.split("：", 1)[-1]
            note = Msg(f"  {en[:110]}", f"  {zh[:80]}")
        elif any(s == BLANK for s, _ in states):
            mark, gained, note = "…", 0.0, Msg("  not answered yet", "  还没有作答")
        else:
            mark, gained, note = "·", 0.0, Msg("  not checked yet", "  还没有检查")
        earned += gained
        score = f"{gained:g}/{row.points:g}"
        lines_en.append(f"  {mark} {row.title.en}  {score}{note.en}")
        lines_zh.append(f"  {mark} {row.title.zh}  {score}{note.zh}")
    tail = Msg(
        f"  Total: {earned:g}/{total:g} (your own checks; the grade is the grader's)",
        f"  合计：{earned:g}/{total:g}（这是你自己检查的结果，成绩以评分程序为准）",
    )
    lines_en.append(tail.en)
    lines_zh.append(tail.zh)
    return Msg("\n".join(lines_en), "\n".join(lines_zh))


def progress(path: str | None = None) -> None:
    """Print the scoreboard of the open notebook (or of the notebook at ``path``)."""
    if path is None and os.environ.get("COURSE_GRADING"):
        return  # a grading kernel: the learner reads the grader's verdicts instead
    found = _notebook_path(path)
    if found is None or not os.path.exists(found):
        print(
            Msg(
                "progress(): this kernel does not know its notebook; "
                'call progress("name_of_the_notebook.ipynb").',
                'progress()：这个内核不知道自己属于哪个笔记本；请这样调用：progress("笔记本文件名.ipynb")。',
            ).render(current_lang())
        )
        return
    with open(found, encoding="utf-8") as f:
        notebook = json.load(f)
    print(scoreboard(notebook).render(current_lang()))
