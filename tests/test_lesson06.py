"""Lesson 6 · Jacobians and vector-Jacobian products: every member of its two families.

tests/test_wrong_answers.py runs each catalogued mistake of member 0 (the default learner's);
here every member of the layer family y = W φ(x) and of the element-wise family is checked for
a learner who has it: the right answer passes, each of that member's wrong answers fails with
its own message, and member 0's right answer is told it answers another variant. The broadcast
exercise's reference is checked against torch's own broadcasting.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from course_utils import exercises
from course_utils.checks import CheckFailure
from course_utils.exercises import _FAILURES, _REGISTRY, check, get
from course_utils.layer_functions import (
    OUTPUTS,
    PHIS,
    YOUR_ELEMENT_WISE,
    YOUR_LAYER,
    your_element_wise,
    your_phi,
)
from course_utils.variants import learner_for

pytestmark = pytest.mark.usefixtures("course_code_as_learners")
torch.set_num_threads(1)

FAMILIES = {
    "vector_calculus.layer_jacobian": YOUR_LAYER,
    "vector_calculus.vjp": YOUR_LAYER,
    "vector_calculus.weight_grad": YOUR_LAYER,
    "vector_calculus.loss_grad": YOUR_LAYER,
    "vector_calculus.from_output": YOUR_ELEMENT_WISE,
}
CASES = [(e, k) for e, fam in FAMILIES.items() for k in range(1, len(fam))]


@pytest.fixture(autouse=True)
def _one_learner(monkeypatch):
    for name in ("COURSE_VARIANTS", "COURSE_VARIANT_SEED", "COURSE_LEARNER", "JUPYTERHUB_USER"):
        monkeypatch.delenv(name, raising=False)
    # The catalogue is course code: lift the rules, as tests/test_wrong_answers.py does, also
    # for the copy of the exercise each member is (Exercise.__post_init__ adds EVERY_EXERCISE).
    monkeypatch.setattr(exercises, "EVERY_EXERCISE", frozenset())
    for exercise_id in FAMILIES:
        monkeypatch.setitem(
            _REGISTRY, exercise_id, dataclasses.replace(get(exercise_id), forbids=frozenset())
        )


def test_member_0_is_the_lessons_own_function_and_the_default_learners():
    assert (PHIS[0].name, OUTPUTS[0].name) == ("sin(x)", "sigmoid(x)")
    assert your_phi().name == "sin(x)" and your_element_wise().name == "sigmoid(x)"
    assert len({f.name for f in PHIS}) == len(YOUR_LAYER) == 4
    assert len({f.name for f in OUTPUTS}) == len(YOUR_ELEMENT_WISE) == 4


@pytest.mark.parametrize(("exercise_id", "member"), CASES)
def test_each_member_passes_its_own_answer_and_names_its_own_mistakes(
    monkeypatch, exercise_id, member
):
    family = FAMILIES[exercise_id]
    monkeypatch.setenv("COURSE_LEARNER", learner_for(family.name, member, len(family)))
    mine = get(exercise_id).with_member(member)
    check(exercise_id, mine.reference, hidden=True)
    assert len(mine.mistakes) >= 3
    for mistake in mine.mistakes:
        _FAILURES.pop(exercise_id, None)
        with pytest.raises(CheckFailure) as info:
            check(exercise_id, mistake.answer, hidden=True)
        told = info.value.msg
        assert mistake.msg.en in told.en, (mistake.name, told.en)
        assert mistake.msg.zh in told.zh, (mistake.name, told.zh)
        others = [m.msg.en for m in mine.mistakes if m.name != mistake.name]
        assert not any(o in told.en for o in others), (mistake.name, told.en)


@pytest.mark.parametrize(("exercise_id", "member"), CASES)
def test_the_default_learners_answer_is_another_variant(monkeypatch, exercise_id, member):
    family = FAMILIES[exercise_id]
    monkeypatch.setenv("COURSE_LEARNER", learner_for(family.name, member, len(family)))
    with pytest.raises(CheckFailure) as info:
        check(exercise_id, get(exercise_id).with_member(0).reference, hidden=True)
    assert "another variant than yours" in info.value.msg.en
    assert "别人的变体" in info.value.msg.zh


def test_the_summed_gradient_is_what_broadcasting_gives():
    exercise = get("vector_calculus.sum_to_shape")
    for seed in range(20):
        grad, shape = exercise.args_for(seed, 0)
        assert tuple(grad.shape) != shape, "every case broadcasts something"
        small = torch.randn(shape, requires_grad=True)
        (small + torch.zeros(grad.shape)).backward(grad)
        assert torch.allclose(exercise.reference(grad, shape), small.grad)
        assert exercise.reference(grad, shape).shape == small.shape
