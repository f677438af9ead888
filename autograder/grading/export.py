"""What ``course grade`` leaves in its output folder: grades.csv, feedback, a report."""

from __future__ import annotations

import contextlib
import html
import multiprocessing as mp
import os
import shutil
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from autograder.config import COURSE_ID
from course_utils.i18n import Msg

SCORE = Msg("score %", "成绩 %")
SUBMISSIONS = Msg("submissions", "提交数")
PASS_RATE = Msg("pass rate %", "通过率 %")
SECONDS = Msg("seconds", "秒")


def export(out: Path, db_url: str, state: dict) -> None:
    from autograder.grading import class_view

    graded = state.get("graded", {})
    items = view = None
    with _unless_it_fails("the exercises' titles"):
        items = class_view.with_unlisted(class_view.catalog(out / "course"), graded)
    charts = Charts(out / "report", graded, items)  # drawn by other processes meanwhile
    export_csv(out / "grades.csv", db_url, items)
    if items is not None:
        with _unless_it_fails("misconceptions.csv, items.csv"):
            view = class_view.analyse(graded, items)
            class_view.write_csvs(out, view)
    similar = None
    with _unless_it_fails("similarity.csv"):
        from autograder.grading import similarity

        similar = similarity.find(out / "course", graded)
        similarity.write_csv(out / "similarity.csv", similar)
    copy_feedback(out)
    write_report(out / "report", graded, charts, view, similar, items)


CLASS_VIEW_FAILED = Msg(
    "warning: the class view could not make {what} ({error}); the grades are not affected.",
    "警告：全班视图未能生成 {what}（{error}）；成绩不受影响。",
)


@contextlib.contextmanager
def _unless_it_fails(what: str):
    """The class view is extra: a failure there is told, never costs grades.csv or feedback."""
    try:
        yield
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:300]
        print(CLASS_VIEW_FAILED.format(what=what, error=error).render("both"), file=sys.stderr)


def export_csv(path: Path, db_url: str, items: list | None = None) -> None:
    """nbgrader's own CSV export (the columns of ``nbgrader export``), then one column per
    exercise (``<lesson>:<grade_id>``, lessons in order) with its points from the gradebook."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    plugin = CsvExportPlugin()
    tmp = path.with_name(f".{path.name}.tmp")
    plugin.to = str(tmp)
    plugin.log.setLevel("ERROR")
    with Gradebook(db_url, COURSE_ID) as gb:
        plugin.export(gb)
    if items is not None:
        from autograder.grading.class_view import add_exercise_columns, per_exercise_scores

        with _unless_it_fails("grades.csv's columns per exercise"):
            add_exercise_columns(tmp, items, per_exercise_scores(db_url, COURSE_ID))
    os.replace(tmp, path)  # a run stopped half-way never leaves half a grades.csv


def copy_feedback(out: Path) -> None:
    """One HTML page per student and notebook, under ``out/feedback/<student>/<assignment>/``."""
    src = out / "course" / "feedback"
    if src.is_dir():
        dest = out / "feedback"
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(src, dest, ignore=shutil.ignore_patterns("*.json"))


class Charts:
    """The report's PNG charts, each drawn in a forked process of its own.

    Drawing them one after the other took ~2 s of one core after the last submission
    (on 16 cores, a sixth of a whole run). The parent writes grades.csv and copies the
    feedback meanwhile; a chart whose process failed is drawn again in the parent.
    """

    def __init__(self, folder: Path, graded: dict[str, dict], items: list | None = None) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot  # noqa: F401  (once, before the forks)

        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.specs = _chart_specs(graded, items)
        self.processes = []
        if "fork" in mp.get_all_start_methods():
            fork = mp.get_context("fork")
            for spec in self.specs:
                process = fork.Process(target=_draw, args=(spec, folder), daemon=True)
                process.start()
                self.processes.append(process)

    def wait(self) -> list[tuple[str, str, str]]:
        """(file, English title, Chinese title) of every chart, once each is drawn."""
        for process in self.processes:
            process.join()
        for i, spec in enumerate(self.specs):
            failed = i >= len(self.processes) or self.processes[i].exitcode != 0
            if failed or not (self.folder / spec[0]).is_file():
                _draw(spec, self.folder)
        return [spec[:3] for spec in self.specs]


def _draw(spec: tuple, folder: Path) -> None:
    png, _, _, draw, args = spec
    draw(folder / png, *args)


def _chart_specs(graded: dict[str, dict], items: list | None = None) -> list[tuple]:
    """(file, English title, Chinese title, drawing function, its arguments) per chart.

    With ``items`` (:func:`autograder.grading.class_view.catalog`), exercises are named by
    their titles in lesson order; without, by ``<lesson>:<grade_id>``, sorted."""
    by_lesson = _percent_by_lesson(graded)
    passes: dict[str, list[bool]] = defaultdict(list)
    timings = []
    for key, r in sorted(graded.items()):
        for cell, (score, max_score) in (r.get("cells") or {}).items():
            passes[f"{r['assignment']}:{cell.split(':', 1)[-1]}"].append(score >= max_score)
        timings.append((r.get("seconds", 0.0), key))
    specs = []
    if by_lesson:
        specs.append(
            (
                "scores.png",
                "Score distribution per lesson",
                "各课成绩分布",
                _histograms,
                (dict(by_lesson), _label(SCORE), _label(SUBMISSIONS)),
            )
        )
    if passes:
        names = sorted(passes)
        labels = names
        if items:
            order = {f"{i.lesson}:{i.grade_id}": n for n, i in enumerate(items)}
            names.sort(key=lambda n: (order.get(n, len(order)), n))
            titles = {f"{i.lesson}:{i.grade_id}": _title_label(i) for i in items}
            labels = [titles.get(n, n) for n in names]
        rates = [100 * sum(passes[n]) / len(passes[n]) for n in names]
        specs.append(
            ("exercises.png", "Pass rate per exercise", "各练习通过率", _bars,
             (labels, rates, _label(PASS_RATE), "#55a868", 100))
        )  # fmt: skip
    slowest = sorted(timings, reverse=True)[:10]
    if slowest:
        specs.append(
            ("slowest.png", "Slowest submissions", "耗时最长的提交", _bars,
             ([k for _, k in slowest], [t for t, _ in slowest], _label(SECONDS), "#c44e52"))
        )  # fmt: skip
    return specs


def _label(msg: Msg) -> str:
    """An axis label in both languages, as on the report's page; English alone where no
    installed font has Chinese glyphs (they would be drawn as boxes)."""
    from course_utils.plots import use_cjk_font

    return f"{msg.en} · {msg.zh}" if use_cjk_font() else msg.en


def _title_label(item) -> str:
    """An exercise on a chart: its lesson's number and its title (both languages where a
    font can draw the Chinese)."""
    number = item.lesson.split("_", 1)[0]
    title = item.title.en if item.title.en == item.title.zh else _label(item.title)
    return f"{number} {title}"


def _percent_by_lesson(graded: dict[str, dict]) -> dict[str, list[float]]:
    """Each graded submission's score in percent, by lesson, in the order of their keys."""
    by_lesson: dict[str, list[float]] = defaultdict(list)
    for _, r in sorted(graded.items()):
        if r.get("max_score"):
            by_lesson[r["assignment"]].append(100 * r["score"] / r["max_score"])
    return by_lesson


def write_report(
    folder: Path,
    graded: dict[str, dict],
    charts: Charts | None = None,
    view=None,
    similar: list | None = None,
    items: list | None = None,
) -> None:
    """An HTML page with PNG plots: scores per lesson, pass rate per exercise, slowest
    submissions; with ``view`` (:func:`autograder.grading.class_view.analyse`), the class
    view too: misconceptions and item analysis per exercise, every learner's points; with
    ``similar`` (:func:`autograder.grading.similarity.find`), the pairs of similar answers."""
    from autograder.grading import similarity
    from autograder.grading.class_view import STYLE, report_sections

    figures = (charts or Charts(folder, graded)).wait()
    by_lesson = _percent_by_lesson(graded)
    rows = "".join(
        f"<tr><td>{html.escape(lesson)}</td><td>{len(v)}</td><td>{statistics.mean(v):.1f}</td>"
        f"<td>{statistics.median(v):.1f}</td></tr>"
        for lesson, v in sorted(by_lesson.items())
    )
    notes = "".join(
        f"<li>{html.escape(key)}: {html.escape('; '.join(r['notes']))}</li>"
        for key, r in sorted(graded.items())
        if r.get("notes")
    )
    body = "".join(f'<h2>{en} · {zh}</h2><img src="{png}" alt="{en}">' for png, en, zh in figures)
    sections = ""
    if view is not None:
        with _unless_it_fails("the report's class view"):
            sections = report_sections(view)
    if similar is not None:
        with _unless_it_fails("the report's similar answers"):
            sections += "\n" + similarity.report_section(similar, similarity.titles(items or []))
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Grading report · 评分报告</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}td,th{{padding:.2em .8em}}{STYLE}{similarity.STYLE}</style></head>
<body><h1>Grading report · 评分报告</h1>
<p>{len(graded)} submission(s) graded · 共评阅 {len(graded)} 份提交</p>
<table><tr><th>lesson · 课</th><th>n</th><th>mean % · 平均</th><th>median % · 中位数</th></tr>{rows}</table>
{body}
{sections}
<h2>What the grader noticed · 评分时发现的情况</h2><ul>{notes or "<li>nothing · 无</li>"}</ul>
</body></html>"""
    (folder / "index.html").write_text(page, encoding="utf-8")


def _histograms(path: Path, by_lesson: dict[str, list[float]], xlabel: str, ylabel: str) -> None:
    """One histogram of scores per lesson, side by side."""
    import matplotlib.pyplot as plt

    lessons = sorted(by_lesson)
    fig, axes = plt.subplots(1, len(lessons), figsize=(3.2 * len(lessons), 2.8), squeeze=False)
    for ax, lesson in zip(axes[0], lessons, strict=True):
        ax.hist(
            by_lesson[lesson],
            bins=[0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100.01],
            color="#4c72b0",
        )
        ax.set_title(lesson, fontsize=9)
        ax.set_xlabel(xlabel)
    axes[0][0].set_ylabel(ylabel)
    fig.tight_layout()
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


def _bars(
    path: Path,
    names: list[str],
    values: list[float],
    xlabel: str,
    color: str,
    xlim: float | None = None,
) -> None:
    """A horizontal bar chart, first item on top."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.28 * len(names) + 1))
    ax.barh(names, values, color=color)
    if xlim is not None:
        ax.set_xlim(0, xlim)
    ax.set_xlabel(xlabel)
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
