"""Answers compared across learners: pairs of submissions whose answers are much alike.

The tool is copydetect (PyPI, MIT): a pure-Python implementation of winnowing, the
fingerprinting algorithm of MOSS. Code is tokenized (names, strings and comments are
normalised away, so renaming variables does not hide a copy), cut into k-grams whose hashes
are winnowed into fingerprints, and two answers are scored by the share of their tokens that
their common fingerprints cover. It takes a template to exclude and scores every pair; Dolos,
the other maintained tool for programming courses, needs Node.js and a browser for its UI.

What is compared: the answer cells (nbgrader ``solution``) of each submitted notebook, matched
to the lesson's cells by grade_id as RepairNotebook does (the first copy counts; a missing one
is the stub), one exercise at a time, and all of a notebook's answers together. Excluded, as
copydetect's boilerplate: the released starter code of each cell (the stubs), and every
fingerprint that at least :func:`common_count` learners share, i.e. the class's common answer
(MOSS's ``-m``). An answer whose fingerprints cover fewer than ``min_tokens`` tokens after
that carries no signal (``return 9 * a**2`` is what everyone writes) and is not scored. A pair
is flagged at ``threshold`` (the larger of the two answers' shares) or above. It flags; the
instructor decides.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.config import RELEASE_DIR, ROOT
from course_utils.i18n import Msg

THRESHOLD = 0.8  # the share of an answer's tokens covered by fingerprints of the other one
# Tokens (copydetect's: characters of the normalised code) an answer keeps after the stub and
# the common answer: `return 9 * a**2` keeps ~30, a three-line answer ~60, five lines ~90+.
MIN_TOKENS = 80
COMMON_SHARE = 0.2  # a fingerprint in this share of the answers (and at least 3) is common
NOISE = 25  # copydetect's k: shorter matches are noise (its default)
GUARANTEE = 25  # matches this long are always found (copydetect's default): window 1
NOTEBOOK = "notebook"
SHOWN = 20  # pairs shown side by side per lesson in the report (all are in similarity.csv)

THRESHOLD_ENV = "COURSE_SIMILARITY_THRESHOLD"
MIN_TOKENS_ENV = "COURSE_SIMILARITY_MIN_TOKENS"


@dataclass(frozen=True)
class Pair:
    lesson: str
    exercise: str  # an answer cell's grade_id, or NOTEBOOK (``notebook:<name>`` when several)
    a: str
    b: str
    similarity: float
    tokens: int  # tokens the two answers share, beyond the stub and the common answer
    test: str = field(default="", compare=False)  # the grade_id of the test cell that checks it
    code_a: str = field(default="", compare=False)
    code_b: str = field(default="", compare=False)
    marked_a: str = field(default="", compare=False)  # HTML, shared code in <mark>
    marked_b: str = field(default="", compare=False)


def common_count(learners: int) -> int:
    """How many learners share a fingerprint for it to be the class's common answer."""
    return max(3, math.ceil(COMMON_SHARE * learners))


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def stubs(released: nbformat.NotebookNode) -> dict[str, str]:
    """grade_id -> the released starter code of every code answer cell, in lesson order."""
    found: dict[str, str] = {}
    for cell in released.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution") and meta.get("grade_id"):
            found.setdefault(meta["grade_id"], cell.source)
    return found


def tests_of(released: nbformat.NotebookNode) -> dict[str, str]:
    """grade_id of an answer cell -> the grade_id of the first graded test cell after it."""
    found: dict[str, str] = {}
    waiting: list[str] = []
    for cell in released.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and meta.get("grade_id"):
            waiting.append(meta["grade_id"])
        elif meta.get("grade") and meta.get("grade_id"):
            found.update(dict.fromkeys(waiting, meta["grade_id"]))
            waiting = []
    return found


def titles(items: list) -> dict[tuple[str, str], Msg]:
    """(lesson, test cell's grade_id) -> the exercise's title, from the class view's items."""
    return {(i.lesson, i.grade_id): i.title for i in items}


def answers_of(submitted: Path, stub: dict[str, str]) -> dict[str, str]:
    """The learner's answer per grade_id (the first copy; the stub where it is missing or the
    notebook cannot be read)."""
    mine: dict[str, str] = {}
    try:
        nb = nbformat.read(submitted, as_version=4)
        for cell in nb.cells:
            gid = _grade_id(cell)
            if gid in stub and gid not in mine and isinstance(cell.get("source"), str):
                mine[gid] = cell.source
    except Exception:  # graded as blank (grade.replace_unreadable): the stubs
        pass
    return {gid: mine.get(gid, source) for gid, source in stub.items()}


# ---------------------------------------------------------------- scoring


def _fingerprint(code: str, name: str, boilerplate=None):
    from copydetect.detector import CodeFingerprint

    return CodeFingerprint(
        name,
        NOISE,
        GUARANTEE - NOISE + 1,
        boilerplate=boilerplate,
        language="python",
        fp=io.StringIO(code),
    )


def score_pairs(
    answers: dict[str, str],
    stub: str = "",
    threshold: float = THRESHOLD,
    min_tokens: int = MIN_TOKENS,
    common: int | None = None,
) -> list[tuple[str, str, float, int, object, object]]:
    """Every pair of learners (``answers``: learner -> code) at ``threshold`` or above, most
    alike first: (a, b, similarity, tokens, fingerprint of a, fingerprint of b).

    ``stub`` is excluded as boilerplate, and so is every fingerprint that ``common`` learners
    or more share (default :func:`common_count`); answers with fewer than ``min_tokens``
    tokens left are not scored."""
    import numpy as np
    from copydetect.detector import compare_files

    learners = sorted(answers)
    common = common_count(len(learners)) if common is None else common
    template = _fingerprint(stub, "stub.py").hashes if stub.strip() else set()
    first = {s: _fingerprint(answers[s], f"{s}.py", np.array(sorted(template))) for s in learners}
    counts: dict[int, int] = {}
    for fp in first.values():
        for h in fp.hashes:
            counts[h] = counts.get(h, 0) + 1
    shared = {h for h, n in counts.items() if n >= common}
    excluded = np.array(sorted(template | shared), dtype=np.int64)
    prints = {
        s: (_fingerprint(answers[s], f"{s}.py", excluded) if shared else first[s]) for s in learners
    }
    long_enough = [s for s in learners if prints[s].token_coverage >= min_tokens]
    found = []
    for i, a in enumerate(long_enough):
        for b in long_enough[i + 1 :]:
            if not prints[a].hashes & prints[b].hashes:
                continue
            overlap, (sim_a, sim_b), _ = compare_files(prints[a], prints[b])
            similarity = float(max(sim_a, sim_b))
            if similarity >= threshold:
                found.append((a, b, similarity, int(overlap), prints[a], prints[b]))
    found.sort(key=lambda p: (-p[2], -p[3], p[0], p[1]))
    return found


def _marked(fp_a, fp_b) -> tuple[str, str]:
    from copydetect.detector import compare_files
    from copydetect.utils import highlight_overlap

    _, _, (slices_a, slices_b) = compare_files(fp_a, fp_b)
    out = []
    for fp, slices in ((fp_a, slices_a), (fp_b, slices_b)):
        if len(slices) and slices.shape[-1]:
            text, _ = highlight_overlap(fp.raw_code, slices, "<mark>", "</mark>", escape_html=True)
        else:
            import html

            text = html.escape(fp.raw_code)
        out.append(text)
    return out[0], out[1]


def _pairs(lesson, exercise, test, answers, stub, threshold, min_tokens) -> list[Pair]:
    found = []
    for a, b, sim, tokens, fa, fb in score_pairs(answers, stub, threshold, min_tokens):
        marked_a, marked_b = _marked(fa, fb)
        code = (fa.raw_code, fb.raw_code, marked_a, marked_b)
        found.append(Pair(lesson, exercise, a, b, round(sim, 3), tokens, test, *code))
    return found


# ---------------------------------------------------------------- a grading run


def find(
    course: Path,
    graded: dict[str, dict],
    threshold: float | None = None,
    min_tokens: int | None = None,
    root: Path = ROOT,
) -> list[Pair]:
    """The flagged pairs of every lesson of a ``course grade`` run (``OUT/course``, its
    state's ``graded``), most alike first, from the learners' submitted notebooks."""
    threshold = float(os.environ.get(THRESHOLD_ENV, THRESHOLD)) if threshold is None else threshold
    min_tokens = (
        int(os.environ.get(MIN_TOKENS_ENV, MIN_TOKENS)) if min_tokens is None else min_tokens
    )
    from autograder.grading.class_view import student_of

    learners: dict[str, list[str]] = {}
    for key, r in graded.items():
        learners.setdefault(r["assignment"], []).append(student_of(key, r["assignment"]))
    pairs: list[Pair] = []
    for lesson, students in sorted(learners.items()):
        for released_path in _released(course, lesson, root):
            released = nbformat.read(released_path, as_version=4)
            stub = stubs(released)
            tests = tests_of(released)
            if not stub:
                continue
            answers = {
                s: answers_of(course / "submitted" / s / lesson / released_path.name, stub)
                for s in sorted(students)
                if (course / "submitted" / s / lesson).is_dir()
            }
            if len(answers) < 2:
                continue
            for gid, template in stub.items():
                mine = {s: a[gid] for s, a in answers.items()}
                pairs += _pairs(
                    lesson, gid, tests.get(gid, ""), mine, template, threshold, min_tokens
                )
            whole = {s: "\n\n".join(a.values()) for s, a in answers.items()}
            name = NOTEBOOK if released_path.stem == lesson else f"{NOTEBOOK}:{released_path.stem}"
            template = "\n\n".join(stub.values())
            pairs += _pairs(lesson, name, "", whole, template, threshold, min_tokens)
    pairs.sort(key=lambda p: (-p.similarity, -p.tokens, p.lesson, p.exercise, p.a, p.b))
    return pairs


def _released(course: Path, lesson: str, root: Path) -> list[Path]:
    """The lesson's released notebooks: the ones this run generated, else the checkout's."""
    for folder in (course / RELEASE_DIR / lesson, root / RELEASE_DIR / lesson):
        found = sorted(folder.glob("*.ipynb"))
        if found:
            return found
    return []


COLUMNS = ("lesson", "exercise", "learner_a", "learner_b", "similarity", "tokens")


def write_csv(path: Path, pairs: list[Pair]) -> None:
    """``similarity.csv``: one row per flagged pair, most alike first."""
    from autograder.grading.class_view import _write

    rows = [
        {
            "lesson": p.lesson,
            "exercise": p.exercise,
            "learner_a": p.a,
            "learner_b": p.b,
            "similarity": f"{p.similarity:.3f}",
            "tokens": p.tokens,
        }
        for p in pairs
    ]
    _write(path, COLUMNS, rows)


# ---------------------------------------------------------------- the report


def report_section(pairs: list[Pair], titles: dict[tuple[str, str], Msg] | None = None) -> str:
    """The report's similarity section: per lesson, the flagged pairs side by side."""
    from autograder.grading.class_view import H, _both

    titles = titles or {}
    threshold = float(os.environ.get(THRESHOLD_ENV, THRESHOLD))
    min_tokens = int(os.environ.get(MIN_TOKENS_ENV, MIN_TOKENS))
    out = [
        '<section class="similarity"><h2>Similar answers · 相似的答案</h2>',
        "<p>Each exercise's answer cells, and each notebook's answers together, compared between "
        "every two learners with copydetect (the winnowing algorithm of MOSS: names, strings and "
        "comments do not count, the structure of the code does). The released starter code is "
        "left out, and so is what many learners wrote alike (the class's common answer); "
        f"answers with fewer than {min_tokens} tokens left are too short to tell anything and "
        f"are not compared. A pair is listed when at least {threshold:.0%} of one answer's "
        "tokens match the other's; matching code is highlighted. "
        "<b>This flags; the instructor decides.</b> Short exercises with one right answer, "
        "a shared study group or a common source can make honest answers alike.</p>"
        "<p>每道练习的答案单元格，以及每个笔记本的全部答案，都用 copydetect（MOSS 所用的 winnowing "
        "算法：变量名、字符串和注释不计，只看代码的结构）在每两位学习者之间比较。发布时的起始代码不计，"
        "许多学习者写得相同的部分（全班常见的答案）也不计；剩余少于 "
        f"{min_tokens} 个词元的答案太短，说明不了什么，不参与比较。一份答案至少 {threshold:.0%} "
        "的词元与另一份相同时列出这一对，相同的代码会高亮显示。"
        "<b>这里只是标记，由教师来判断。</b>只有一种正确写法的短练习、同一个学习小组或共同的参考资料，"
        "都可能让诚实的答案相似。</p>",
    ]
    if not pairs:
        out.append("<p>No pair of answers is that alike. · 没有这样相似的答案。</p></section>")
        return "\n".join(out)
    for lesson in dict.fromkeys(p.lesson for p in pairs):
        mine = [p for p in pairs if p.lesson == lesson]
        per_exercise: dict[tuple[str, str], int] = {}
        for p in mine:
            if not p.exercise.startswith(NOTEBOOK):
                per_exercise[(p.a, p.b)] = per_exercise.get((p.a, p.b), 0) + 1
        out.append(f'<div class="similar" data-lesson="{H(lesson)}"><h3>{H(lesson)}</h3>')
        out.append(
            '<table class="pairs"><tr><th>#</th><th>exercise · 练习</th>'
            "<th>learners · 学习者</th><th>similarity · 相似度</th><th>tokens · 词元</th>"
            "<th>exercises alike · 相似的练习数</th></tr>"
        )
        for n, p in enumerate(mine, 1):
            what = (
                Msg("all answers of the notebook", "笔记本的全部答案")
                if p.exercise.startswith(NOTEBOOK)
                else titles.get((lesson, p.test), Msg(p.exercise, p.exercise))
            )
            out.append(
                f'<tr data-pair="{H(p.a)} {H(p.b)}" data-exercise="{H(p.exercise)}">'
                f"<td>{n}</td><td>{_both(what)} <small>({H(p.exercise)})</small></td>"
                f"<td><code>{H(p.a)}</code> · <code>{H(p.b)}</code></td>"
                f'<td data-similarity="{p.similarity:.3f}">{p.similarity:.0%}</td>'
                f"<td>{p.tokens}</td><td>{per_exercise.get((p.a, p.b), 0)}</td></tr>"
            )
        out.append("</table>")
        for p in mine[:SHOWN]:
            out.append(
                f'<details class="pair" data-pair="{H(p.a)} {H(p.b)}" '
                f'data-exercise="{H(p.exercise)}"><summary>{H(p.exercise)}: '
                f"<code>{H(p.a)}</code> · <code>{H(p.b)}</code> ({p.similarity:.0%})</summary>"
                '<div class="side">'
                f"<div><b>{H(p.a)}</b><pre>{p.marked_a}</pre></div>"
                f"<div><b>{H(p.b)}</b><pre>{p.marked_b}</pre></div></div></details>"
            )
        if len(mine) > SHOWN:
            more = len(mine) - SHOWN
            out.append(
                f"<p>{more} more pair(s) in similarity.csv. · 另有 {more} 对见 similarity.csv。</p>"
            )
        out.append("</div>")
    out.append("</section>")
    return "\n".join(out)


STYLE = (
    "div.side{display:flex;gap:1em}div.side>div{flex:1;min-width:0}"
    "div.side pre{overflow-x:auto;background:#f6f6f6;padding:.4em;font-size:.8em}"
    "mark{background:#ffe08a}"
)

# ---------------------------------------------------------------- command line

SUMMARY = Msg(
    "{n} pair(s) at {threshold:.0%} or more, answers of {min_tokens} tokens or more; "
    "written to {path}. It flags; the instructor decides.",
    "相似度不低于 {threshold:.0%}、答案不少于 {min_tokens} 个词元的共 {n} 对；已写入 {path}。"
    "这里只是标记，由教师来判断。",
)


def main(argv: list[str] | None = None) -> int:
    """Compare again with other settings: ``python -m autograder.grading.similarity OUT``."""
    import json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="course grade's output folder")
    parser.add_argument("--threshold", type=float, default=THRESHOLD)
    parser.add_argument("--min-tokens", type=int, default=MIN_TOKENS)
    args = parser.parse_args(argv)
    state = json.loads((args.out / "state.json").read_text(encoding="utf-8"))
    pairs = find(args.out / "course", state.get("graded", {}), args.threshold, args.min_tokens)
    write_csv(args.out / "similarity.csv", pairs)
    for p in pairs:
        print(f"{p.similarity:.3f}  {p.tokens:5d}  {p.lesson}  {p.exercise}  {p.a}  {p.b}")
    print(
        SUMMARY.format(
            n=len(pairs),
            threshold=args.threshold,
            min_tokens=args.min_tokens,
            path=args.out / "similarity.csv",
        ).render("both"),
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
