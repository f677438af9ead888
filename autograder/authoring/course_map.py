"""The course map: each lesson's place in the arc, its time, its points and what it assumes.

A lesson's source notebook carries ``metadata.course``: ``minutes`` (the time a learner
needs), ``requires`` and ``arc`` (one sentence each, ``en`` and ``zh``). Its points are not
written anywhere by hand: they are summed from its graded cells, so the start page and the
line under each lesson's title cannot drift from what the grader counts
(``tests/test_course_map.py`` checks both).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

TITLE = re.compile(r"^# (?:Lesson|第) ?(\d+) ?(?:课)? · (.+)$")


@dataclass(frozen=True)
class LessonInfo:
    folder: str
    notebook: str
    number: int
    title: dict[str, str]
    minutes: int | None
    points: int | float
    requires: dict[str, str]
    arc: dict[str, str]

    def header(self, lang: str) -> str:
        """The line under the lesson's title: time, points, what to know first."""
        line = HEADER[1] if lang == "zh" else HEADER[0]
        return line.format(m=self.minutes, p=self.points, req=self.requires[lang])


HEADER = (
    "**About {m} minutes · {p} points · Before you start:** {req}",
    "**约 {m} 分钟 · {p} 分 · 学前准备：**{req}",
)


def graded_points(nb: nbformat.NotebookNode) -> int | float:
    """The points of a notebook's graded cells, as nbgrader counts them (whole when they are)."""
    total = 0.0
    for cell in nb.cells:
        grading = cell.get("metadata", {}).get("nbgrader", {})
        if grading.get("grade"):
            total += float(grading.get("points", 0) or 0)
    return int(total) if total.is_integer() else total


def lesson_info(path: Path) -> LessonInfo:
    """What the course map says about one lesson notebook."""
    nb = nbformat.read(path, as_version=4)
    titles: dict[str, str] = {}
    number = 0
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type != "markdown":
            continue
        for lang in ("en", "zh"):
            if f"lang:{lang}" in tags and lang not in titles:
                first = cell.source.splitlines()[0] if cell.source else ""
                match = TITLE.match(first.strip())
                if match:
                    number = int(match.group(1))
                    titles[lang] = match.group(2).strip()
        if len(titles) == 2:
            break
    meta = nb.metadata.get("course", {})
    empty = {"en": "", "zh": ""}
    return LessonInfo(
        folder=path.parent.name,
        notebook=path.name,
        number=number,
        title={"en": titles.get("en", path.stem), "zh": titles.get("zh", path.stem)},
        minutes=meta.get("minutes"),
        points=graded_points(nb),
        requires=dict(meta.get("requires", empty)),
        arc=dict(meta.get("arc", empty)),
    )


def _hours(minutes: int) -> str:
    return f"{minutes / 60:.1f}".rstrip("0").rstrip(".")


def table(infos: list[LessonInfo], lang: str) -> str:
    """The course map as a Markdown table in one language."""
    k = 1 if lang == "zh" else 0
    head = TABLE_HEAD[k] + "\n|---|---|---|---|---|"
    row = TABLE_ROW[k]
    rows = [
        row.format(
            n=i.number,
            t=i.title[lang],
            link=f"{i.folder}/{i.notebook}",
            arc=i.arc[lang],
            m=i.minutes if i.minutes is not None else "?",
            p=i.points,
            req=i.requires[lang],
        )
        for i in infos
    ]
    return head + "\n" + "\n".join(rows)


TABLE_HEAD = (
    "| lesson | what you do | time | points | before you start |",
    "| 课 | 内容 | 时间 | 分数 | 学前准备 |",
)
TABLE_ROW = (
    "| [Lesson {n} · {t}]({link}) | {arc} | ~{m} min | {p} | {req} |",
    "| [第 {n} 课 · {t}]({link}) | {arc} | 约 {m} 分钟 | {p} | {req} |",
)

# The arc in one picture (JupyterLab draws Mermaid diagrams in Markdown cells).
ARC_STAGES = (  # (lessons, English, Chinese)
    ("1", "the whole game", "全局概览"),
    ("2–3", "one derivative, then a chain", "一个导数，再到一条链"),
    ("4–5", "the graph, then your own engine", "计算图，再到你自己的引擎"),
    ("6–7", "vectors, then a network by hand", "向量，再到手算整个网络"),
    ("8–9", "training: optimizers, freezing", "训练：优化器与冻结"),
    ("10–11", "tools: checks, hooks, forward mode", "工具：检验、钩子、前向模式"),
    ("12–13", "debugging, the final project", "调试与综合项目"),
)
STAGE_LABEL = ("{nums}: {label}", "第 {nums} 课：{label}")


def arc_picture(lang: str, last: int) -> str:
    """A left-to-right diagram of the arc, up to the last lesson the course has."""
    k = 1 if lang == "zh" else 0
    stages = [stage for stage in ARC_STAGES if int(stage[0].split("–")[0]) <= last]
    nodes = [
        f'    s{i}["{STAGE_LABEL[k].format(nums=s[0], label=s[1 + k])}"]'
        for i, s in enumerate(stages)
    ]
    edges = " --> ".join(f"s{i}" for i in range(len(stages)))
    return "```mermaid\nflowchart LR\n" + "\n".join(nodes) + f"\n    {edges}\n```"


def total(infos: list[LessonInfo]) -> tuple[int, int]:
    """The course's minutes and points, all lessons together."""
    return sum(i.minutes or 0 for i in infos), sum(i.points for i in infos)


def intro(infos: list[LessonInfo], lang: str) -> str:
    """The course map section of the start page."""
    minutes, points = total(infos)
    last = max((i.number for i in infos), default=0)
    if lang == "zh":
        text = (
            "## 课程地图\n\n"
            "先把整个流程看一遍，再从一个导数出发，一步步搭到整个网络："
            f"共 {len(infos)} 课，约 {_hours(minutes)} 小时，{points} 分。\n\n"
            "**学前准备。** 导数，以及幂法则、乘积法则和链式法则；矩阵乘法；"
            "Python 的函数、类与闭包（第 5 课要用）；张量的基础用法。"
            "每一课还会注明它用到前面的哪几课。\n\n"
        )
    else:
        text = (
            "## The course map\n\n"
            "The whole game first, then bottom-up from one derivative to a network: "
            f"{len(infos)} lessons, about {_hours(minutes)} hours, {points} points.\n\n"
            "**Before you start.** Derivatives and the power, product and chain rules; matrix "
            "products; Python functions, classes and closures (lesson 5 needs them); basic "
            "tensors. Each lesson also says which earlier lessons it builds on.\n\n"
        )
    return text + arc_picture(lang, last) + "\n\n" + table(infos, lang)
