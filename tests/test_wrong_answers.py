"""Every catalogued wrong answer fails, and is told its own mistake (a property test).

Each exercise in ``course_utils/exercises/*.py`` lists the plausible wrong answers a learner
would write (:class:`course_utils.exercises.Mistake`). Here each one goes through the
learner's ``check()`` on fresh random inputs (a new seed per run, as in a notebook), and
must fail with its own message and with no other mistake's. The solution must pass.
"""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch

from autograder.grading.preprocessors import verify_outcomes
from course_utils.checks import CheckFailure
from course_utils.exercises import (
    _FAILURES,
    _REGISTRY,
    all_exercises,
    check,
    diagnose,
    encode,
    get,
    hint_of,
    more_help,
    same_randomness,
)

# The references and catalogued mistakes run through check() as if a learner wrote them.
pytestmark = pytest.mark.usefixtures("course_code_as_learners")

RUNS = 2  # independent random seeds per wrong answer

# Small tensors: one thread avoids the slowdown of busy threads on a shared 2-core machine.
torch.set_num_threads(1)

CATALOG = [
    (exercise_id, mistake.name)
    for exercise_id, exercise in sorted(all_exercises().items())
    for mistake in exercise.mistakes
]


def _mistake(exercise_id: str, name: str):
    return next(m for m in get(exercise_id).mistakes if m.name == name)


@pytest.fixture(autouse=True)
def _catalog_runs_as_learner_code(monkeypatch):
    """The catalog's functions live in the course, so ``forbids`` would reject them as the
    course's own code before any diagnosis; what is tested here is the diagnosis (the
    enforcement of ``forbids`` has its own tests), so it is lifted for these checks."""
    for exercise_id, exercise in all_exercises().items():
        if exercise.forbids:
            monkeypatch.setitem(
                _REGISTRY, exercise_id, dataclasses.replace(exercise, forbids=frozenset())
            )


@pytest.mark.parametrize(("exercise_id", "name"), CATALOG, ids=[f"{e}:{n}" for e, n in CATALOG])
def test_each_wrong_answer_fails_with_its_own_message(exercise_id, name):
    exercise = get(exercise_id)
    mistake = _mistake(exercise_id, name)
    others = [m.msg for m in exercise.mistakes if m.name != name]
    for _ in range(RUNS):
        with pytest.raises(CheckFailure) as info:
            check(exercise_id, mistake.answer, hidden=True)
        told = info.value.msg
        assert mistake.msg.en in told.en, told.en
        assert mistake.msg.zh in told.zh, told.zh
        for other in others:
            assert other.en not in told.en, f"{name} was told another mistake: {told.en}"


# The 35 exercises of lessons 1-8 (33, ∂L/∂W1, a target in lesson 4); lesson 9 adds its own later.
CATALOGUED = (
    "forward_backward.",
    "training_step.",
    "differentiation.grad_",
    "differentiation.grads_match",
    "differentiation.upstream",
    "differentiation.accumulated",
    "chain_rule.",
    "vector_calculus.",
    "computational_graph.",
    "finetuning.",
    "capstone.",
)


@pytest.mark.parametrize(
    "exercise_id", [e for e in sorted(all_exercises()) if e.startswith(CATALOGUED)]
)
def test_the_solution_passes_and_every_exercise_has_a_catalog(exercise_id):
    exercise = get(exercise_id)
    check(exercise_id, exercise.reference, hidden=True)
    assert len(exercise.mistakes) + len(exercise.diagnoses) >= 2, "list the plausible mistakes"
    assert len(exercise.hints) >= 2, "hints come in tiers: a nudge, then more help"


@pytest.mark.parametrize(("exercise_id", "name"), CATALOG, ids=[f"{e}:{n}" for e, n in CATALOG])
def test_the_grader_names_the_same_mistakes_from_recorded_answers(exercise_id, name):
    """The grader sees only recorded answers (an error only by its type): it names them too."""
    exercise = get(exercise_id)
    mistake = _mistake(exercise_id, name)
    cases = exercise.inputs(seed=99, hidden=True)
    if mistake.raises is not None:  # what VerifyAnswers rebuilds from the record
        problem = verify_outcomes(
            exercise_id, 99, True, [{"t": "error", "type": mistake.raises}] * len(cases)
        )
        assert problem is not None and mistake.msg.en in problem.en
        return
    outcomes = []
    for args in cases:  # what the learner's kernel records (check() runs answers this way)
        try:
            with same_randomness():
                outcomes.append(encode(mistake.answer(*copy.deepcopy(args))))
        except Exception as error:  # the kernel records an error by its type
            outcomes.append({"t": "error", "type": type(error).__name__})
    problem = verify_outcomes(exercise_id, 99, True, outcomes)
    assert problem is not None and mistake.msg.en in problem.en, problem


def test_hints_grow_stronger_with_each_failure_and_on_request(capsys):
    exercise_id = "training_step.momentum_two_steps"
    exercise = get(exercise_id)
    _FAILURES.pop(exercise_id, None)

    def wrong(p, g1, g2, lr1, lr2, mu, wd):  # wrong, and no catalogued mistake
        return p * 0 + 1.25, p * 0 - 2.5

    seen = []
    for _ in range(3):
        with pytest.raises(CheckFailure) as info:
            check(exercise_id, wrong)
        seen.append(info.value.msg)
    assert exercise.hints[0].en in seen[0].en and exercise.hints[1].en not in seen[0].en
    assert exercise.hints[1].en in seen[1].en and exercise.hints[1].zh in seen[1].zh
    assert exercise.hints[1].en in seen[2].en  # the strongest tier stays
    assert "more_help(" in seen[0].en and "more_help(" in seen[0].zh
    _FAILURES.pop(exercise_id, None)
    more_help(exercise_id)
    out = capsys.readouterr().out
    assert exercise.hints[1].en in out and exercise.hints[1].zh in out
    assert exercise.hints[1].en in hint_of(exercise, 5).en  # clamped to the strongest


def test_the_grader_always_gives_the_first_tier():
    exercise = get("training_step.momentum_two_steps")
    args = exercise.args_for(1, 0)
    wrong = (args[0] * 0 + 1.25, args[0] * 0 - 2.5)
    problem = diagnose(exercise, args, wrong, None, pointer=False)
    assert exercise.hints[0].en in problem.en and exercise.hints[1].en not in problem.en
    assert "more_help(" not in problem.en, "the graded feedback has no next try to point to"


def test_a_recognised_mistake_comes_first_and_is_the_hint():
    exercise = get("training_step.momentum_two_steps")
    args = exercise.args_for(1, 0)
    mistake = _mistake(exercise.id, "sutskever_form")
    names = ("p", "g1", "g2", "lr1", "lr2", "mu", "wd")
    problem = diagnose(exercise, args, mistake.answer(*copy.deepcopy(args)), None, names=names)
    assert mistake.msg.en in problem.en.splitlines()[0] and mistake.msg.zh in problem.zh
    assert exercise.hints[0].en not in problem.en
    assert "input: p (" in problem.en and "输入：p (" in problem.zh  # inputs by name
