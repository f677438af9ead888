"""Lesson 3's variant exercises: every member's wrong answers are told apart, for its learner.

tests/test_wrong_answers.py runs the catalogue of each exercise as registered, which for a
family is member 0; here every member of ``chain_rule.your_chain`` and ``chain_rule.fan_out``
is checked as the learner who gets it: its reference passes, each of its catalogued mistakes
fails with its own message and no other's, and another member's right answer is told that it
answers another variant.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from course_utils.checks import CheckFailure
from course_utils.exercises import _FAILURES, _REGISTRY, Exercise, check, get
from course_utils.variants import learner_for

pytestmark = pytest.mark.usefixtures("course_code_as_learners")
torch.set_num_threads(1)

FAMILY_EXERCISES = ("chain_rule.your_chain", "chain_rule.fan_out")
CASES = [
    (eid, k, m.name)
    for eid in FAMILY_EXERCISES
    for k in range(len(get(eid).variants))
    for m in get(eid).with_member(k).mistakes
]


@pytest.fixture(autouse=True)
def _no_forbids(monkeypatch):
    """The catalogue is the course's own code: what is tested here is the diagnosis. A member
    other than 0 is made anew for its learner (and gets the rules back), so each one made while
    this test runs has them lifted too."""
    for eid in FAMILY_EXERCISES:
        monkeypatch.setitem(_REGISTRY, eid, dataclasses.replace(get(eid), forbids=frozenset()))
    made = Exercise.with_member

    def with_member(self: Exercise, k: int) -> Exercise:
        member = made(self, k)
        object.__setattr__(member, "forbids", frozenset())
        return member

    monkeypatch.setattr(Exercise, "with_member", with_member)


def _learner(eid: str, k: int) -> str:
    exercise = get(eid)
    return learner_for(exercise.family.name, k, len(exercise.variants))


@pytest.mark.parametrize(("eid", "k", "name"), CASES, ids=[f"{e}:{k}:{n}" for e, k, n in CASES])
def test_each_members_mistakes_fail_with_their_own_message(eid, k, name):
    learner = _learner(eid, k)
    member = get(eid).with_member(k)
    mistake = next(m for m in member.mistakes if m.name == name)
    others = [m.msg for m in member.mistakes if m.name != name]
    _FAILURES.pop(eid, None)
    with pytest.raises(CheckFailure) as info:
        check(eid, mistake.answer, hidden=True, learner=learner)
    told = info.value.msg
    assert mistake.msg.en in told.en and mistake.msg.zh in told.zh, told.en
    assert not any(o.en in told.en for o in others), told.en


@pytest.mark.parametrize("eid", FAMILY_EXERCISES)
def test_every_member_has_its_own_reference_and_its_own_answer(eid):
    exercise = get(eid)
    n = len(exercise.variants)
    assert n >= 4
    args = exercise.args_for(7, 0)
    answers = [exercise.with_member(k).reference(*args) for k in range(n)]
    flat = [torch.cat([t.reshape(-1) for t in a]) if isinstance(a, tuple) else a for a in answers]
    for i in range(n):
        for j in range(i + 1, n):
            assert not torch.allclose(flat[i], flat[j]), (i, j)
    for k in range(n):
        learner = _learner(eid, k)
        check(eid, exercise.with_member(k).reference, hidden=True, learner=learner)
        other = exercise.with_member((k + 1) % n).reference
        _FAILURES.pop(eid, None)
        with pytest.raises(CheckFailure) as info:
            check(eid, other, hidden=True, learner=learner)
        assert "another variant than yours" in info.value.msg.en
        assert "别人的变体" in info.value.msg.zh


def test_a_circuit_shows_each_value_and_gradient_and_labels_its_arrows():
    import matplotlib
    import matplotlib.text

    matplotlib.use("Agg")
    from course_utils.circuit import draw_circuit

    x = torch.tensor(2.0, requires_grad=True)
    s = torch.sin(x)
    s.retain_grad()
    y = x * s
    y.backward()
    fig = draw_circuit(
        [("x", x, x.grad), ("s", s, s.grad), ("y", y, 1.0)],
        [("x", "y", "s"), ("x", "s", "cos x"), ("s", "y", "x")],
    )
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {"x", "s", "y", "cos x"} <= texts
    assert f"{x.grad.item():.4g}" in texts and f"{s.item():.4g}" in texts  # 0.077, 0.9093
    arrows = [t for t in fig.axes[0].texts if isinstance(t, matplotlib.text.Annotation)]
    assert len(arrows) == 3
