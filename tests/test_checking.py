"""The checking service's judgement (autograder/lab/checking.py), without a hub.

The learner's side is what course_utils.remote does: unpickle the inputs, call the function
watched by course_utils.rules.Watch, encode what it returned. Over HTTP, on a real JupyterHub,
with a learner's own token: tests/hub/test_hub.py (Validate in a learner's JupyterLab).
"""

from __future__ import annotations

import base64
import pickle

import pytest

from autograder.lab.checking import Checker, Refused, make_app
from course_utils import rules
from course_utils.harness import argument_names, encode, same_randomness
from tests.derivatives import dq_da_for


def answer_with(checker: Checker, user: str, exercise_id: str, fn, hidden: bool = False):
    asked = checker.inputs(user, exercise_id, hidden)
    cases = pickle.loads(base64.b64decode(asked["payload"]))
    watch = rules.Watch(asked["forbids"], fn)
    outcomes = []
    for args in cases:
        try:
            with same_randomness():
                outcomes.append(encode(watch.call(fn, args)))
        except Exception as error:
            outcomes.append({"t": "error", "type": type(error).__name__})
    used = [list(u) for u in [*watch.uses, *watch.static_uses()]]
    return checker.verdict(
        user, asked["ticket"], outcomes, used, watch.observed, argument_names(fn)
    )


dq_da = dq_da_for("learner1")


def test_a_right_answer_passes_and_a_wrong_one_is_named_with_a_hint():
    checker = Checker()
    told = answer_with(checker, "learner1", "differentiation.grad_a", dq_da, hidden=True)
    assert told["passed"] is True and told["message"]["en"].startswith("✓")
    # learner1's Q has a² (5a²): the exponent lowered, its factor 2 forgotten
    told = answer_with(checker, "learner1", "differentiation.grad_a", lambda a: 5 * a)
    assert told["passed"] is False and "power rule" in told["message"]["en"].splitlines()[0]
    told = answer_with(checker, "learner1", "differentiation.grad_a", lambda a: a + 1.5)
    assert "Hint" in told["message"]["en"] and "提示" in told["message"]["zh"]
    assert "2/" in told["message"]["en"], "the next failure gets a stronger hint"
    assert "input: a (" in told["message"]["en"], "the inputs by the learner's own names"


def test_what_the_exercise_forbids_is_told_as_the_grader_tells_it():
    def by_autograd(a):
        a = a.detach().clone().requires_grad_(True)
        (3 * a**3).sum().backward()
        return a.grad

    told = answer_with(Checker(), "learner1", "differentiation.grad_a", by_autograd)
    assert told["passed"] is False
    assert rules.WHY[rules.AUTOGRAD].en.split("{what}")[-1][:30] in told["message"]["en"]


def test_a_stub_is_not_an_attempt():
    checker = Checker()

    def stub(a):
        raise NotImplementedError()

    told = answer_with(checker, "learner1", "differentiation.grad_a", stub)
    assert "NotImplementedError" in told["message"]["en"]
    assert checker.failures.get(("learner1", "differentiation.grad_a"), 0) == 0


def test_a_ticket_answers_once_and_only_for_its_learner():
    checker = Checker()
    asked = checker.inputs("learner1", "differentiation.grad_a", False)
    with pytest.raises(Refused) as info:
        checker.verdict("learner2", asked["ticket"], [], [], [])
    assert info.value.status == 409
    with pytest.raises(Refused):  # the other learner's try spent it
        checker.verdict("learner1", asked["ticket"], [], [], [])
    with pytest.raises(Refused) as info:
        checker.inputs("learner1", "no.such_exercise", False)
    assert info.value.status == 404


def test_one_learner_cannot_ask_without_end():
    clock = [0.0]
    checker = Checker(per_hour=3, clock=lambda: clock[0])
    for _ in range(3):
        checker.inputs("learner1", "differentiation.grad_a", False)
    with pytest.raises(Refused) as info:
        checker.inputs("learner1", "differentiation.grad_a", False)
    assert info.value.status == 429 and "一小时" in info.value.msg.zh
    checker.inputs("learner2", "differentiation.grad_a", False)  # the others are not starved
    clock[0] += 3601
    checker.inputs("learner1", "differentiation.grad_a", False)  # an hour later, again


def test_a_prediction_is_counted_by_the_service_not_the_kernel():
    checker = Checker()
    told = [
        answer_with(
            checker, "learner1", "differentiation.gradcheck_rejects", lambda n: n in "BDE", True
        )["message"]["en"]
        for _ in range(4)
    ]
    assert "2 of the 10 predictions" in told[0]
    assert "not all right yet" in told[3] and "of the 10" not in told[3]


def test_help_gives_the_stronger_hints_never_the_answer():
    hints = Checker().help("learner1", "differentiation.grad_a")["hints"]
    assert hints and all("9" not in h["en"] for h in hints)


def test_the_app_routes_under_the_service_prefix():
    app = make_app(Checker(), "/services/course-check/", "http://127.0.0.1:1/hub/api")
    paths = {rule.matcher.regex.pattern for rule in app.default_router.rules[0].target.rules}
    for name in ("inputs", "verdict", "help"):
        assert any(f"/services/course-check/{name}" in p for p in paths), paths
