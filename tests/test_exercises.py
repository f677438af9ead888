"""Every registered exercise: its reference passes, and wrong answers fail with a diagnosis."""

import copy

import pytest
import torch

from course_utils.checks import CheckFailure
from course_utils.exercises import all_exercises, check, decode, diagnose, encode, get
from tests.derivatives import KEPT_POWER, kept_power_for

# The references and catalogued mistakes run through check() as if a learner wrote them.
pytestmark = pytest.mark.usefixtures("course_code_as_learners")

EXERCISES = sorted(all_exercises())


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_reference_is_accepted_on_random_and_edge_inputs(exercise_id):
    ex = get(exercise_id)
    for args in ex.inputs(seed=1234, hidden=True):
        expected = ex.reference(*copy.deepcopy(args))
        assert diagnose(ex, args, expected, None) is None


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_inputs_are_random_but_reproducible(exercise_id):
    ex = get(exercise_id)
    same = [encode(a) for a in ex.args_for(7, 0)] == [encode(a) for a in ex.args_for(7, 0)]
    assert same
    if ex.prediction:  # every check asks all the items: they must not share one answer
        refs = {repr(encode(ex.reference(*item))) for item in ex.all_items()}
    else:
        refs = {repr(encode(ex.reference(*ex.args_for(s, 0)))) for s in range(6)}
    assert len(refs) > 1, "a hard-coded answer would pass: inputs must vary with the seed"


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_a_constant_answer_fails(exercise_id):
    ex = get(exercise_id)
    fixed = ex.reference(*ex.args_for(0, 0))
    with pytest.raises(CheckFailure):
        check(exercise_id, lambda *args: copy.deepcopy(fixed), hidden=True)


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_encoded_answers_round_trip(exercise_id):
    ex = get(exercise_id)
    args = ex.args_for(3, 0)
    expected = ex.reference(*copy.deepcopy(args))
    assert diagnose(ex, args, decode(encode(expected)), None) is None


def test_not_implemented_is_reported_as_unanswered():
    def stub(a):
        raise NotImplementedError()

    with pytest.raises(CheckFailure) as info:
        check("differentiation.grad_a", stub)
    assert "NotImplementedError" in info.value.msg.en and "作答" in info.value.msg.zh


def test_the_minus_2b_squared_mistake_is_named_without_giving_the_formula():
    with pytest.raises(CheckFailure) as info:
        check("differentiation.grad_b", kept_power_for())
    told = info.value.msg
    assert KEPT_POWER[0] in told.en.splitlines()[0] and KEPT_POWER[1] in told.zh.splitlines()[0]
    # the recognised mistake is the hint that fits: no generic hint after it
    assert "Hint" not in told.en and "提示" not in told.zh


def test_encode_does_not_trust_hostile_objects():
    class Liar:
        def __eq__(self, other):
            return True

        def __float__(self):
            raise RuntimeError("boom")

    assert encode(Liar()) == {"t": "other", "type": "Liar"}
    assert decode({"t": "tensor", "dtype": "float32", "shape": [2], "data": [1.0]}) is None
    assert decode({"t": "tensor", "dtype": "system", "shape": [1], "data": [1.0]}) is None
    assert torch.equal(
        decode(encode(torch.tensor([1.0, float("nan")]))).isnan(), torch.tensor([False, True])
    )
