"""nbgrader preprocessors the course adds: one concern each."""

from __future__ import annotations

import copy
import os
import re
import secrets

import nbformat
from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from traitlets import Bool, Integer

from autograder.grading import notes
from autograder.grading.harness import for_student, learner_of
from course_utils.exercises import (
    ANSWER_MIME,
    PROCESS,
    Exercise,
    answers_from_record,
    diagnose,
    first_problem_of,
    get,
    named_mistake,
    other_variant,
    process_problem,
)
from course_utils.harness import clean_names
from course_utils.i18n import Msg


class SanitizeFeedback(Preprocessor):
    """Keep what a learner needs from a graded cell's outputs and nothing that leaks tests.

    A traceback quotes the lines around the failing call, and so the hidden tests; the
    exception's own message (our bilingual diagnosis) is what the learner needs. The
    machine-readable answers the grader reads are dropped too.
    """

    enabled = Bool(True).tag(config=True)

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int):
        if cell.cell_type != "code":
            return cell, resources
        is_graded = cell.metadata.get("nbgrader", {}).get("grade", False)
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") in (
                "display_data",
                "execute_result",
            ) and ANSWER_MIME in out.get("data", {}):
                continue
            if is_graded and out.get("output_type") == "error":
                out.traceback = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
            kept.append(out)
        cell.outputs = kept
        return cell, resources


CHECK_CALL = re.compile(
    r"""check\(\s*["']([\w.]+)["']\s*,\s*[\w.]+\s*(,\s*hidden\s*=\s*True\s*)?\)"""
)


class AssignSeed(Preprocessor):
    """Choose this submission's random inputs: a fresh seed that stays in the grader's process.

    The learner's kernel never sees it (not in its environment, not in a file): the grader
    sends each test's inputs when it asks for the answers (:mod:`autograder.grading.harness`).
    """

    enabled = Bool(True).tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict):
        resources["course_seed"] = secrets.randbits(32)
        return nb, resources


def expected_checks(source: str) -> list[tuple[str, bool]]:
    """The ``check(...)`` calls of a (trusted, restored from the gradebook) test cell."""
    return [(m.group(1), bool(m.group(2))) for m in CHECK_CALL.finditer(source)]


def verify_outcomes(
    exercise_id: str,
    seed: int,
    hidden: bool,
    outcomes: object,
    names: object = (),
    learner: str | None = None,
) -> Msg | None:
    """Recompute the references here and compare the learner's recorded answers with them.

    ``learner``: the submission's student, whose member of a family is the reference."""
    exercise = for_student(get(exercise_id), learner)
    answered = recorded_answers(exercise, seed, hidden, outcomes)
    if answered is None:
        return INCOMPLETE
    # The feedback is final: no "next try" pointer; the inputs shown by the learner's own names.
    found = first_problem_of(
        exercise, answered, names=clean_names(names), pointer=False, learner=learner
    )
    return None if found is None else found[0]


def recorded_answers(
    exercise: Exercise, seed: int, hidden: bool, outcomes: object
) -> list[tuple[tuple, object, BaseException | None]] | None:
    """``(args, answer, error)`` per input, rebuilt from the record; None if it is incomplete."""
    return answers_from_record(exercise.inputs(seed, hidden), outcomes)


def wrong_verdict(
    exercise_id: str, seed: int, hidden: bool, outcomes: object, learner: str | None = None
) -> tuple[str, str | None]:
    """For answers that did not pass: ``("blank", None)`` when every one is the stub's
    NotImplementedError, else ``("wrong", name)`` with the catalogued mistake that
    :func:`first_problem_of` names (None when it names none), ``OTHER_VARIANT`` for answers
    right for another member of the family than the student's."""
    exercise = for_student(get(exercise_id), learner)
    answered = recorded_answers(exercise, seed, hidden, outcomes)
    if answered is None:
        return "incomplete", None
    stubs = [isinstance(error, NotImplementedError) for _, _, error in answered]
    if stubs and all(stubs):
        return "blank", None
    if exercise.prediction and any(stubs):
        return "wrong", None  # first_problem_of tells "not answered yet", no mistake
    if other_variant(exercise, answered) is not None:
        return "wrong", OTHER_VARIANT
    history = [(args, actual) for args, actual, error in answered if error is None]
    for args, actual, error in answered:
        if isinstance(error, NotImplementedError):
            return "wrong", None
        if diagnose(exercise, args, actual, error, 0, history, pointer=False) is None:
            continue
        return "wrong", mistake_name(
            exercise, named_mistake(exercise, args, actual, error, history)
        )
    return "wrong", None


OTHER_VARIANT = "other-variant"  # the class view's name for an answer to another learner's member


def mistake_name(exercise: Exercise, mistake) -> str | None:
    """A catalogued mistake's name; a diagnosis (one name for all) by its place in the list."""
    if mistake is None:
        return None
    if mistake.name == "diagnosis":
        for i, (predicate, _) in enumerate(exercise.diagnoses):
            if predicate is mistake.answer:
                return f"diagnosis:{i}"
    return mistake.name


def process_name(exercise: Exercise, problem: Msg) -> str:
    """Which of the exercise's required processes ``problem`` (from process_problem) is about."""
    for name in exercise.process:
        if PROCESS[name][1].en in problem.en:
            return f"process:{name}"
    return "process"


INCOMPLETE = Msg(
    "✗ The grader found no complete record of this test's answers: the test did not run to "
    "the end, or code in the notebook interfered with it.",
    "✗ 评分程序没有找到这道测试完整的答案记录：测试没有运行完，或者笔记本中的代码干扰了它。",
)


class VerifyAnswers(Preprocessor):
    """Grade the answers outside the learner's kernel.

    At each test cell the grader asked the learner's kernel for the answers of the learner's
    functions on inputs drawn from the seed :class:`AssignSeed` chose, and kept only what
    answered its own request (:mod:`autograder.grading.harness`). Here, in the grader's own
    process, the references are computed and compared; a test cell passes only if every
    check it contains has answers, all right. A wrong or missing answer gets an error
    output, which nbgrader scores as zero; a right one, a line that says so.
    """

    enabled = Bool(True).tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict):
        self._seed = resources.get("course_seed")
        self._learner = learner_of(resources)
        self._nb = nb
        notes.clear_verdicts(nb)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade") or self._seed is None:
            return cell, resources
        checks = expected_checks(cell.source)
        if not checks:
            return cell, resources
        records = [
            out["data"][ANSWER_MIME]
            for out in cell.get("outputs", [])
            if out.get("output_type") in ("display_data", "execute_result")
            and ANSWER_MIME in out.get("data", {})
        ]
        problem = None
        missing = False  # a check whose answers never came back
        verdict: tuple[str, str, str | None] = (checks[0][0], "right", None)
        for exercise_id, hidden in checks:
            record = next(
                (
                    r
                    for r in records
                    if isinstance(r, dict)
                    and r.get("exercise") == exercise_id
                    and r.get("hidden") is hidden
                ),
                None,
            )
            if record is None:
                missing = True
                problem = INCOMPLETE
                verdict = (exercise_id, "incomplete", None)
            else:
                problem = verify_outcomes(
                    exercise_id,
                    self._seed,
                    hidden,
                    record.get("outcomes"),
                    record.get("names"),
                    self._learner,
                )
                if problem is not None:  # for the class view: blank, or which mistake
                    status, mistake = wrong_verdict(
                        exercise_id, self._seed, hidden, record.get("outcomes"), self._learner
                    )
                    verdict = (exercise_id, status, mistake)
                else:  # right values: were they made the way the exercise asks?
                    problem = process_problem(get(exercise_id), record.get("process"))
                    if problem is not None:
                        verdict = (exercise_id, "wrong", process_name(get(exercise_id), problem))
            if problem is not None:
                break
        told = problem if problem is not None else passed_message(checks)
        notes.set_verdict(self._nb, meta.get("grade_id"), *verdict, message=told)
        if problem is not None:
            ran = cell.get("execution_count") is not None or bool(cell.get("outputs"))
            errored = any(out.get("output_type") == "error" for out in cell.get("outputs", []))
            # Answers that came back and were wrong are the learner's own doing, not interference.
            if missing and ran and not errored:
                notes.add(self._nb, "interference", meta.get("grade_id"))
            notes.fail_cell(cell, problem)
        else:
            cell.outputs.append(passed(checks))
        return cell, resources


def passed(checks: list[tuple[str, bool]]) -> NotebookNode:
    """The line a right answer gets: what was checked, and on how many inputs."""
    return nbformat.v4.new_output(
        "display_data",
        data={"text/plain": passed_message(checks).render("both")},
        metadata={notes.PASSED: True},
    )


def passed_message(checks: list[tuple[str, bool]]) -> Msg:
    """What a right answer is told: what was checked, and on how many inputs."""
    lines_en, lines_zh = [], []
    for exercise_id in dict.fromkeys(e for e, _ in checks):
        exercise = get(exercise_id)
        n = sum(len(exercise.inputs(0, hidden)) for e, hidden in checks if e == exercise_id)
        lines_en.append(f"✓ {exercise.title.en}: right on all {n} inputs the grader chose.")
        lines_zh.append(f"✓ {exercise.title.zh}：评分程序选定的 {n} 组输入全部正确。")
    return Msg("\n".join(lines_en), "\n".join(lines_zh))


def _grade_id(cell: NotebookNode) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


class RepairNotebook(Preprocessor):
    """Put a submission's graded cells back the way the lesson has them, before grading.

    A learner may delete, duplicate, reorder or re-tag graded cells, on purpose or by
    accident. Graded cells are matched with the released lesson by grade_id: the first
    copy of each is graded, with the lesson's nbgrader settings and cell type; missing
    ones are put back (answers as the blank stub); graded cells are put back in the
    lesson's order. nbgrader's OverwriteCells then restores the tests' sources from the
    gradebook. The learner's own extra cells stay where they are.
    """

    enabled = Bool(True).tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict):
        reference = self._released(resources)
        if reference is None:
            return nb, resources
        ref_cells = [c for c in reference.cells if _grade_id(c)]
        order = [_grade_id(c) for c in ref_cells]
        by_id = {_grade_id(c): c for c in ref_cells}
        cells, seen = [], set()
        for cell in nb.cells:
            gid = _grade_id(cell)
            if gid is None and "nbgrader" in cell.get("metadata", {}):
                del cell.metadata["nbgrader"]
            elif gid is not None and gid not in by_id:
                notes.add(nb, "unknown", gid)
                del cell.metadata["nbgrader"]
            elif gid is not None and gid in seen:
                notes.add(nb, "duplicate", gid)
                del cell.metadata["nbgrader"]
            elif gid is not None:
                seen.add(gid)
                self._restore_settings(nb, cell, by_id[gid])
            cells.append(cell)
        slots = [i for i, c in enumerate(cells) if _grade_id(c) in by_id]
        present = [cells[i] for i in slots]
        in_order = sorted(present, key=lambda c: order.index(_grade_id(c)))
        if [_grade_id(c) for c in present] != [_grade_id(c) for c in in_order]:
            notes.add(nb, "reordered")
            for i, cell in zip(slots, in_order, strict=True):
                cells[i] = cell
        for pos, gid in enumerate(order):
            if gid in seen:
                continue
            notes.add(nb, "missing", gid)
            earlier = set(order[:pos])
            at = max((i + 1 for i, c in enumerate(cells) if _grade_id(c) in earlier), default=0)
            cells.insert(at, nbformat.from_dict(copy.deepcopy(by_id[gid])))
            seen.add(gid)
        nb.cells = cells
        return nb, resources

    def _restore_settings(self, nb: NotebookNode, cell: NotebookNode, ref: NotebookNode) -> None:
        mine = {k: v for k, v in cell.metadata.get("nbgrader", {}).items() if k != "checksum"}
        theirs = {k: v for k, v in ref.metadata.get("nbgrader", {}).items() if k != "checksum"}
        if mine != theirs or cell.cell_type != ref.cell_type:
            notes.add(nb, "metadata", _grade_id(ref))
            checksum = cell.metadata.get("nbgrader", {}).get("checksum")
            cell.metadata["nbgrader"] = copy.deepcopy(dict(ref.metadata["nbgrader"]))
            if checksum is not None:
                cell.metadata["nbgrader"]["checksum"] = checksum
            if cell.cell_type != ref.cell_type:
                source = cell.source
                cell.clear()
                cell.update(copy.deepcopy(ref))
                if ref.cell_type == "code" and ref.metadata["nbgrader"].get("solution"):
                    cell.source = source

    def _released(self, resources: dict) -> NotebookNode | None:
        released = released_notebook(self, resources)
        if released is None:
            self.log.warning("no released notebook: graded cells are not repaired")
        return released


class VerdictBlocks(Preprocessor):
    """On the feedback page, each graded test's verdict as the block JupyterLab shows.

    The block (:func:`course_utils.feedback.block`: verdict, detail, the hint folded) is made
    from the message the grader recorded with its verdict in its own process
    (:func:`notes.set_verdict`; a submission's own verdicts are cleared before grading), never
    from the notebook's outputs, and every text in it is escaped. It takes the place of the
    output the grader added for that verdict (:func:`notes.fail_cell`'s error, the line of
    :func:`passed`), found by its whole text, so that the text is not shown twice; every other
    output stays as :class:`EscapeLearnerHTML` left it. It runs as the page is made, after
    that escaping (nbgrader adds GenerateFeedback's preprocessors after the exporter's own).
    The grade is the gradebook's: nothing here is read to score.
    """

    enabled = Bool(True).tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict):
        from course_utils.feedback import block

        told = {v["cell"]: v for v in notes.verdicts_of(nb) if notes.message_of(v) is not None}
        for cell in nb.cells:
            verdict = told.get(_grade_id(cell) or "")
            if cell.cell_type != "code" or verdict is None:
                continue
            msg, ok = notes.message_of(verdict), verdict["status"] == "right"
            text = msg.render("both")
            for i, out in enumerate(cell.get("outputs", [])):
                if _is_told(out, text, ok):
                    cell.outputs[i] = nbformat.v4.new_output(
                        "display_data",
                        data={"text/plain": text, "text/html": block(msg, ok, "both")},
                    )
                    break
        return nb, resources


def _is_told(out: NotebookNode, text: str, ok: bool) -> bool:
    """Whether ``out`` is the output the grader added to tell ``text``."""
    if ok:
        return (
            out.get("output_type") == "display_data"
            and bool(out.get("metadata", {}).get(notes.PASSED))
            and out.get("data", {}).get("text/plain") == text
        )
    return (
        out.get("output_type") == "error"
        and out.get("ename") == "GradingError"
        and out.get("evalue") == text
    )


class GraderNotes(Preprocessor):
    """Tell the learner, in both languages, what the grader noticed (a cell at the top)."""

    enabled = Bool(True).tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict):
        found = notes.of(nb)
        if found:
            lines_en = "\n".join(f"- {t}" for t in notes.describe(found, "en"))
            lines_zh = "\n".join(f"- {t}" for t in notes.describe(found, "zh"))
            text = f"{notes.HEADING.en}\n\n{lines_en}\n\n{notes.HEADING.zh}\n\n{lines_zh}"
            cell = nbformat.v4.new_markdown_cell(text, metadata={"tags": ["course-grader-notes"]})
            nb.cells.insert(0, cell)
        return nb, resources


class EscapeLearnerHTML(Preprocessor):
    """What a submission displays is shown as text, never run, in the pages made from it.

    The Formgrader renders autograded notebooks on the course's own origin, where the
    instructor is logged in, and instructors open feedback pages too. So HTML and markdown
    outputs are escaped (nbconvert's SanitizeHTML, with bleach), and JavaScript, SVG and other
    active outputs are dropped: their plain-text form stays. A markdown or raw cell is escaped
    when it holds a tag. The lessons' prose has none, so it is never touched, and a learner's
    `x > 0` in a cell without tags stays as written.
    """

    enabled = Bool(True).tag(config=True)

    def __init__(self, **kw) -> None:
        from nbconvert.preprocessors.sanitize import SanitizeHTML

        super().__init__(**kw)
        self.cleaner = SanitizeHTML(parent=self)
        # The answers VerifyAnswers read are data, never rendered.
        self.cleaner.safe_output_keys = {*self.cleaner.safe_output_keys, ANSWER_MIME}

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int):
        if cell.cell_type == "code":
            outputs = self.cleaner.sanitize_code_outputs(cell.get("outputs", []))
            # A display of script alone leaves nothing to show.
            cell.outputs = [o for o in outputs if "data" not in o or set(o.data) - {"metadata"}]
        elif TAG.search(cell.source):
            cell.source = self.cleaner.sanitize_html_tags(cell.source)
        return cell, resources


TAG = re.compile(r"<[A-Za-z!/?]")


class TruncateOutput(Preprocessor):
    """Cap each output's size: nbgrader's LimitOutput counts lines, and one line can be megabytes."""

    enabled = Bool(True).tag(config=True)
    max_chars = Integer(100_000, help="Characters kept of each output.").tag(config=True)

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                out.text = self._cut(out.get("text", ""))
            for mime, value in list(out.get("data", {}).items()):
                if isinstance(value, str) and mime != ANSWER_MIME:
                    out.data[mime] = self._cut(value)
        return cell, resources

    def _cut(self, text: str) -> str:
        if len(text) <= self.max_chars:
            return text
        dropped = len(text) - self.max_chars
        return (
            text[: self.max_chars] + f"\n… [{dropped} characters cut · 已截去 {dropped} 个字符]\n"
        )


def released_notebook(preprocessor: Preprocessor, resources: dict) -> NotebookNode | None:
    """The released version of the notebook being graded (the cells the learner was given)."""
    from nbgrader.coursedir import CourseDirectory

    info = resources.get("nbgrader", {})
    coursedir = CourseDirectory(config=preprocessor.config)
    path = os.path.join(
        coursedir.format_path(coursedir.release_directory, ".", info.get("assignment", "")),
        f"{info.get('notebook', '')}.ipynb",
    )
    try:
        return nbformat.read(path, as_version=4)
    except (OSError, ValueError):
        return None
