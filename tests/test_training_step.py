"""Lessons 1 and 8 (course_utils/exercises/training_step.py): every member of the cross-entropy
family is checked as the learner who gets it.

tests/test_wrong_answers.py runs the catalogue as registered, which for ``head_grads`` is member
0 (label smoothing); here each member (label smoothing, temperature 2, temperature 0.5) passes its
own reference, tells each of its catalogued mistakes apart, names the two shape slips (a
transposed weight gradient, a bias gradient per image), and tells another member's right answer
that it answers another variant.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from course_utils.checks import CheckFailure
from course_utils.exercises import _FAILURES, _REGISTRY, Exercise, check, get
from course_utils.head_losses import HEAD_LOSS, MEMBERS
from course_utils.variants import learner_for

pytestmark = pytest.mark.usefixtures("course_code_as_learners")
torch.set_num_threads(1)

EID = "training_step.head_grads"
CASES = [(k, m.name) for k in range(len(MEMBERS)) for m in get(EID).with_member(k).mistakes]


@pytest.fixture(autouse=True)
def _no_forbids(monkeypatch):
    """The catalogue is the course's own code: what is tested here is the diagnosis. A member
    other than 0 is made anew for its learner (with the rules back), so each one made while a
    test runs has them lifted too."""
    monkeypatch.setitem(_REGISTRY, EID, dataclasses.replace(get(EID), forbids=frozenset()))
    made = Exercise.with_member

    def with_member(self: Exercise, k: int) -> Exercise:
        member = made(self, k)
        object.__setattr__(member, "forbids", frozenset())
        return member

    monkeypatch.setattr(Exercise, "with_member", with_member)
    _FAILURES.pop(EID, None)


def _learner(k: int) -> str:
    return learner_for(HEAD_LOSS.name, k, len(MEMBERS))


def _told(answer, learner: str):
    with pytest.raises(CheckFailure) as info:
        check(EID, answer, hidden=True, learner=learner)
    return info.value.msg


def test_the_default_learner_gets_member_0_which_the_catalogue_tests():
    assert HEAD_LOSS.index("learner") == 0 and get(EID).member == 0


@pytest.mark.parametrize(("k", "name"), CASES, ids=[f"{k}:{n}" for k, n in CASES])
def test_each_members_mistakes_fail_with_their_own_message(k, name):
    member = get(EID).with_member(k)
    mistake = next(m for m in member.mistakes if m.name == name)
    told = _told(mistake.answer, _learner(k))
    assert mistake.msg.en in told.en and mistake.msg.zh in told.zh, told.en
    assert not any(m.msg.en in told.en for m in member.mistakes if m.name != name), told.en


@pytest.mark.parametrize("k", range(len(MEMBERS)))
def test_each_member_passes_its_reference_and_rejects_another_members(k):
    member = get(EID).with_member(k)
    check(EID, member.reference, hidden=True, learner=_learner(k))
    other = get(EID).with_member((k + 1) % len(MEMBERS)).reference
    told = _told(other, _learner(k))
    assert "another variant than yours" in told.en and "别人的变体" in told.zh


@pytest.mark.parametrize("slip", ["transposed", "per_image"])
def test_the_shape_slips_are_named(slip):
    reference = get(EID).reference

    def answer(x, weight, bias, y):
        w, b = reference(x, weight, bias, y)
        return (w.T, b) if slip == "transposed" else (w, b.expand(x.shape[0], -1))

    told = _told(answer, "learner")
    expected = "transpose of the right one" if slip == "transposed" else "one row per image"
    assert expected in told.en, told.en


def test_members_differ_on_the_same_inputs():
    args = get(EID).args_for(3, 0)
    weights = [get(EID).with_member(k).reference(*args)[0] for k in range(len(MEMBERS))]
    for i in range(len(weights)):
        for j in range(i + 1, len(weights)):
            assert not torch.allclose(weights[i], weights[j]), (i, j)
