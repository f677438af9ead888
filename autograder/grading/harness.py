"""The grader's side of a test cell: its own request to the learner's kernel, its own inputs.

A submission's test cells are never run as written when it is graded. When
:class:`~autograder.grading.execute.SafeExecute` reaches one, it sends instead one request of
its own: for each ``check("id", name)`` of the (trusted, restored) test source, the inputs the
grader drew from a seed that only its own process knows, pickled, and a token it chose for this
request. The kernel calls the learner's function on them (:func:`course_utils.harness.run`) and
displays the answers. Only a display that carries this request's token is kept; everything else
the kernel printed stays as text. The answers are then compared with the references, in the
grader's process, by :class:`~autograder.grading.preprocessors.VerifyAnswers`.

So no cell of the notebook can see the inputs before the grader asks, nor write a record the
grader accepts, nor call the references: they are not importable in a grading kernel.
"""

from __future__ import annotations

import copy
import json
import secrets

import nbformat
from nbformat import NotebookNode

from course_utils.exercises import Exercise, get
from course_utils.harness import ANSWER_MIME, payload

LEARNER_ENV = "COURSE_LEARNER"  # course_utils.variants.learner_id() reads it in the kernel


def learner_of(resources: dict | None) -> str | None:
    """The submission's student (nbgrader's student id): whose variants are graded."""
    student = ((resources or {}).get("nbgrader") or {}).get("student")
    return student if isinstance(student, str) and student else None


def for_student(exercise: Exercise, student: str | None) -> Exercise:
    """The exercise as ``student`` answers it: their member of a family (the exercise as
    registered, member 0, when no student is known)."""
    return exercise if student is None else exercise.for_learner(student)


def request_source(
    checks: list[tuple[str, str, bool]], seed: int, tokens: list[str], learner: str | None = None
) -> str:
    """The code the grader sends for one test cell: one ``run`` per check, each with its token.

    ``learner``: the submission's student, whose member of a family the inputs are for."""
    run = "__import__('course_utils.harness', fromlist=['run']).run"
    lines = []
    for (exercise_id, name, hidden), token in zip(checks, tokens, strict=True):
        exercise = for_student(get(exercise_id), learner)
        cases = exercise.inputs(seed, hidden)
        forbids = sorted(exercise.forbids)
        lines.append(
            f"{run}({json.dumps(exercise_id)}, {json.dumps(name)}, {json.dumps(token)}, "
            f"{json.dumps(payload(cases))}, {json.dumps(forbids)})"
        )
    return "\n".join(lines)


def drive(
    execute_cell,
    cell: NotebookNode,
    checks: list[tuple[str, str, bool]],
    seed: int,
    learner: str | None = None,
):
    """Run the grader's request for ``cell`` through ``execute_cell``; keep its answers.

    ``execute_cell(temporary_cell)`` runs code in the kernel and fills its outputs (nbclient's,
    without history). The test cell then holds what the learner's functions printed, and one
    answer record per check, made from the display that carried that check's token.
    """
    tokens = [secrets.token_hex(16) for _ in checks]
    request = nbformat.v4.new_code_cell(request_source(checks, seed, tokens, learner))
    try:
        execute_cell(request)
    finally:
        cell.outputs = _keep(request.get("outputs", []), checks, tokens)
        cell.execution_count = None
    return cell


def _keep(outputs: list, checks: list[tuple[str, str, bool]], tokens: list[str]) -> list:
    answers: dict[str, dict] = {}
    kept = []
    for out in outputs:
        data = out.get("data", {}) if isinstance(out, dict) else {}
        if ANSWER_MIME in data:
            record = data[ANSWER_MIME]
            token = record.get("token") if isinstance(record, dict) else None
            if token in tokens:
                answers.setdefault(token, record)
            continue  # a record that answers no token of this request is a forgery: dropped
        if out.get("output_type") == "error":
            # A timeout, a dead kernel, memory: the traceback would quote the request itself.
            out = copy.deepcopy(out)
            out["traceback"] = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
        kept.append(out)
    for (exercise_id, _name, hidden), token in zip(checks, tokens, strict=True):
        record = answers.get(token)
        if record is None or record.get("exercise") != exercise_id:
            continue
        kept.append(
            nbformat.v4.new_output(
                "display_data",
                data={
                    ANSWER_MIME: {
                        "exercise": exercise_id,
                        "hidden": hidden,
                        "outcomes": record.get("outcomes"),
                        "used": record.get("used", []),
                        "process": record.get("process", []),
                        "names": record.get("names", []),
                    },
                    "text/plain": f"<answers for {exercise_id}>",
                },
            )
        )
    return kept
