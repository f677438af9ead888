"""Lesson 13, the final project: its data, cmp(), each activation's references and mistakes,
the planted bugs graded one by one, the accuracy threshold, and the real grader per member."""

from __future__ import annotations

import copy
import csv
import os
import shutil

import pytest
import torch
import torch.nn.functional as F

from autograder.authoring.samples import lesson_paths
from course_utils.checks import CheckFailure
from course_utils.exercises import diagnose, first_problem_of, get, same_randomness
from course_utils.exercises import final_project as fp
from course_utils.project import (
    ACTIVATION_FAMILY,
    ACTIVATIONS,
    cmp,
    my_variant,
    split,
    two_moons,
)
from course_utils.variants import learner_for
from tests.test_grade import course_grade

LESSON = "13_final_project"
GRADS = [f"final_project.{name}" for name in fp.GRAD_NAMES]
BUGS = ("final_project.bug_reduction", "final_project.bug_zero_grad", "final_project.bug_detach")
MEMBERS = range(len(ACTIVATIONS))


@pytest.fixture(autouse=True)
def _variants_on(monkeypatch):
    for name in ("COURSE_VARIANTS", "COURSE_VARIANT_SEED", "COURSE_LEARNER", "JUPYTERHUB_USER"):
        monkeypatch.delenv(name, raising=False)


def _learner(member: int) -> str:
    return learner_for(ACTIVATION_FAMILY.name, member, len(ACTIVATION_FAMILY))


def test_two_moons_is_seeded_and_a_straight_line_does_not_pass():
    x, labels = two_moons(400, seed=7)
    again, same = two_moons(400, seed=7)
    assert torch.equal(x, again) and torch.equal(labels, same)
    assert not torch.equal(x, two_moons(400, seed=8)[0])
    assert int(labels.sum()) == 200, "two balanced classes"
    clean, truth = two_moons(300, seed=3, noise=0.0)
    assert torch.equal(fp.nearest_moon(clean), truth), "the grader's truth is the moons' own"
    x_train, labels_train, x_val, labels_val = split(x, labels)
    assert (len(x_train), len(x_val)) == (280, 120) and torch.equal(labels_val, labels[-120:])
    # The threshold separates a hidden layer from a straight boundary, on the grader's draws.
    exercise = get("final_project.fit")
    x_train, labels_train, x_val = exercise.args_for(0, 0)
    w = torch.zeros(2, 2, requires_grad=True)
    b = torch.zeros(2, requires_grad=True)
    optimizer = torch.optim.SGD([w, b], lr=1.0)
    for _ in range(150):
        optimizer.zero_grad()
        F.cross_entropy(x_train @ w + b, labels_train).backward()
        optimizer.step()
    predicted = (x_val @ w + b).argmax(dim=1)
    with pytest.raises(CheckFailure):
        exercise.compare(predicted, exercise.reference(x_train, labels_train, x_val))
    told = diagnose(exercise, (x_train, labels_train, x_val), predicted, None)
    assert "straight boundary" in told.en and "直线边界" in told.zh, told.en


def test_cmp_prints_exact_close_and_the_largest_difference(capsys):
    a = torch.tensor([1.0, 2.0, 3.0])
    assert cmp("same", a, a.clone())
    assert cmp("close", a + 1e-7, a)
    assert not cmp("far", a + 0.1, a)
    assert not cmp("shape", a[:2], a)
    out = capsys.readouterr().out
    assert "exact: True" in out and "完全相等：True" in out
    assert "close: True" in out and "max diff: 1.0e-01" in out and "最大差值：1.0e-01" in out
    assert "shape (2,) but autograd's is (3,)" in out and "形状是 (2,)" in out


def test_each_learner_sees_and_is_graded_on_their_own_activation():
    for k in MEMBERS:
        who = _learner(k)
        assert my_variant(who).activation == ACTIVATIONS[k]
        args = fp._network(torch.Generator().manual_seed(k))
        mine = get(GRADS[4]).for_learner(who)
        by_hand = fp._by_hand(*args, act=ACTIVATIONS[k])
        mine.compare(by_hand, mine.reference(*copy.deepcopy(args)))
    # the derivative through the activation differs between members
    args = fp._network(torch.Generator().manual_seed(5))
    refs = [get(GRADS[4]).with_member(k).reference(*args)[4] for k in MEMBERS]
    assert not torch.allclose(refs[0], refs[1]) and not torch.allclose(refs[0], refs[2])


CATALOG = [
    (exercise_id, k, mistake.name)
    for exercise_id in GRADS
    for k in MEMBERS
    for mistake in get(exercise_id).with_member(k).mistakes
]


@pytest.mark.parametrize(("exercise_id", "member", "name"), CATALOG)
def test_every_members_wrong_gradients_are_told_their_own_mistake(exercise_id, member, name):
    exercise = get(exercise_id).with_member(member)
    mistake = next(m for m in exercise.mistakes if m.name == name)
    others = [m.msg.en for m in exercise.mistakes if m.name != name]
    cases = exercise.inputs(seed=13, hidden=False)
    answered = [(args, mistake.answer(*copy.deepcopy(args)), None) for args in cases]
    found = first_problem_of(exercise, answered, pointer=False)
    assert found is not None, "a catalogued mistake must fail"
    told = found[0]
    assert mistake.msg.en in told.en and mistake.msg.zh in told.zh, told.en
    assert not any(other in told.en for other in others), told.en


def test_gradients_right_for_another_activation_are_told_so():
    tanh, relu = _learner(0), _learner(1)
    exercise = get(GRADS[4])
    cases = exercise.inputs(seed=3, hidden=False)
    answered = [(a, fp._by_hand(*a, act="tanh"), None) for a in cases]
    assert first_problem_of(exercise, answered, learner=tanh) is None
    told = first_problem_of(exercise, answered, learner=relu)[0]
    assert "another variant than yours" in told.en and "别人的变体" in told.zh


@pytest.mark.parametrize("left", ["reduction", "zero_grad", "detach"])
def test_each_planted_bug_fails_its_own_test_and_only_that_one(left):
    unfixed = {"reduction": "sum", "zero_grad": "never", "detach": "kept"}
    answer = lambda *a: fp.train_script(*a, **{left: unfixed[left]})  # noqa: E731
    for exercise_id in BUGS:
        exercise = get(exercise_id)
        answered = []
        for args in exercise.inputs(seed=21, hidden=True):
            with same_randomness():
                answered.append((args, answer(*copy.deepcopy(args)), None))
        found = first_problem_of(exercise, answered, pointer=False)
        if exercise_id.endswith(left):
            assert found is not None, f"{exercise_id} must see the {left} bug"
            named = next(m for m in exercise.mistakes if m.name.startswith("still"))
            assert named.msg.en in found[0].en, found[0].en
        else:
            assert found is None, f"{exercise_id} failed for the {left} bug: {found[0].en}"


def test_the_wrong_fixes_are_recognised():
    exercise = get("final_project.bug_detach")
    for mistake in exercise.mistakes:
        if mistake.raises is None:
            continue
        args = exercise.args_for(1, 0)
        with pytest.raises(Exception) as info:
            mistake.answer(*copy.deepcopy(args))
        assert type(info.value).__name__ == mistake.raises
    # loss.item() is a fine way to log: a Python float passes where a tensor is expected
    args = get("final_project.bug_detach").args_for(2, 0)
    *params, mean_loss = fp.train_script(*args)
    get("final_project.bug_detach").compare((*params, float(mean_loss)), fp.train_script(*args))


@pytest.mark.slow
@pytest.mark.xdist_group("grade")
def test_the_solution_grades_full_for_every_activation_and_the_release_zero(tmp_path):
    """Through `course grade`: the grader sets each kernel's learner to the student graded."""
    solution, released = lesson_paths(LESSON)
    students = {_learner(1): solution, _learner(2): solution, "blank": released}
    for student, source in students.items():
        path = tmp_path / "sub" / student / LESSON / solution.name
        path.parent.mkdir(parents=True)
        shutil.copy(source, path)
    env_before = {k: os.environ.pop(k) for k in ("COURSE_LEARNER",) if k in os.environ}
    try:
        proc = course_grade(str(tmp_path / "sub"), "--out", str(tmp_path / "out"), "--workers", "1")
    finally:
        os.environ.update(env_before)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = {r["student_id"]: r for r in csv.DictReader((tmp_path / "out" / "grades.csv").open())}
    for student in students:
        row = rows[student]
        assert float(row["max_score"]) == 21.0
        expected = 0.0 if student == "blank" else 21.0
        assert float(row["score"]) == expected, (student, row)
