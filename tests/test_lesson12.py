"""Lesson 12 · Extending and debugging autograd: its exercises, its stories, and its grading.

The catalogues go through tests/test_wrong_answers.py and tests/test_exercises.py like every
lesson's; here: the hand-written derivatives pass gradcheck and the catalogued wrong backwards
fail it, every member of the Function family passes for its own learner and names its own
mistakes, the grader's process rules (the learner's backward ran, no autograd inside it), the
symptoms each story shows (measured, not asserted as constants), and the lesson graded through
``course grade``: the solution to full marks, the release to 0, autograd inside backward to 0
for that exercise.
"""

from __future__ import annotations

import csv

import nbformat
import pytest
import torch

from autograder.authoring.samples import fill, lesson_paths, points
from course_utils.checks import CheckFailure
from course_utils.custom_functions import FUNCTIONS, YOUR_FUNCTION, your_function
from course_utils.exercises import PROCESS, check, first_problem_of, get
from course_utils.exercises import debugging as D
from course_utils.exercises.extending import DERIVATIVES, ONE_FACTOR_MISSED, hand_written_function
from course_utils.variants import learner_for

LESSON = "12_extending_and_debugging"
MEMBERS = range(len(FUNCTIONS))


@pytest.fixture(autouse=True)
def _one_learner(monkeypatch):
    for name in ("COURSE_VARIANTS", "COURSE_VARIANT_SEED", "COURSE_LEARNER", "JUPYTERHUB_USER"):
        monkeypatch.delenv(name, raising=False)


def _as(monkeypatch, member: int) -> None:
    """This kernel works for a learner whose function is member ``member``."""
    monkeypatch.setenv("COURSE_LEARNER", learner_for(YOUR_FUNCTION.name, member, len(FUNCTIONS)))


# --- part 1: a custom Function -----------------------------------------------------------------


@pytest.mark.parametrize("member", MEMBERS)
def test_each_derivative_passes_gradcheck_and_each_slip_fails_it(member):
    f = FUNCTIONS[member]
    x = torch.tensor([-2.3, -0.7, 0.05, 0.9, 3.1], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(hand_written_function(f).apply, (x,))
    wrong = {
        "one factor missed": ONE_FACTOR_MISSED[f.name],
        "saved output": lambda t: DERIVATIVES[f.name](f(t)),
        "sign": lambda t: -DERIVATIVES[f.name](t),
    }
    for name, slope in wrong.items():
        fn = hand_written_function(f, slope).apply
        assert not torch.autograd.gradcheck(fn, (x,), raise_exception=False), name


# Written here, as a learner writes them: this file counts as learner code to the rules' watch.
class _Learners(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return your_function()(x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * DERIVATIVES[your_function().name](x)


class _AutogradInside(_Learners):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        with torch.enable_grad():
            x = x.detach().requires_grad_()
            (slope,) = torch.autograd.grad(your_function()(x).sum(), x)
        return grad_output * slope


def _bridge(function):
    def through_your_function(x, grad_output):
        x = x.detach().clone().requires_grad_(True)
        y = function.apply(x)
        y.backward(grad_output)
        return y.detach(), x.grad

    return through_your_function


def _learners_f(x):
    return FUNCTIONS[YOUR_FUNCTION.index()](x)


def _plain_autograd(x, grad_output):
    x = x.detach().clone().requires_grad_(True)
    y = _learners_f(x)
    y.backward(grad_output)
    return y.detach(), x.grad


@pytest.mark.parametrize("member", MEMBERS)
def test_a_right_function_passes_for_its_own_learner(member, monkeypatch, capsys):
    _as(monkeypatch, member)
    check("extending.custom_function", _bridge(_Learners), hidden=True)
    assert "✓" in capsys.readouterr().out


def _told(exercise_id: str, member: int, answer) -> str:
    """What the grader tells the learner of ``member`` about ``answer`` (from its answers)."""
    learner = learner_for(YOUR_FUNCTION.name, member, len(FUNCTIONS))
    exercise = get(exercise_id).for_learner(learner)
    answered = [(args, answer(*args), None) for args in exercise.inputs(seed=5, hidden=True)]
    found = first_problem_of(get(exercise_id), answered, learner=learner)
    assert found is not None
    return found[0]


@pytest.mark.parametrize("member", MEMBERS)
def test_every_members_wrong_backwards_are_named(member):
    exercise = get("extending.custom_function").with_member(member)
    assert [m.name for m in exercise.mistakes] == [
        "grad_output_ignored",
        "wrong_sign",
        "saved_output",
        "one_factor_missed",
    ]
    for mistake in exercise.mistakes:
        told = _told("extending.custom_function", member, mistake.answer)
        assert mistake.msg.en in told.en and mistake.msg.zh in told.zh, told.en
        others = [m.msg.en for m in exercise.mistakes if m is not mistake]
        assert not any(other in told.en for other in others), told.en


def test_another_learners_function_is_told_so():
    copied = get("extending.custom_function").with_member(0).reference
    told = _told("extending.custom_function", 1, copied)
    assert "another variant than yours" in told.en and "别人的变体" in told.zh


def test_autograd_inside_backward_fails_with_its_reason(monkeypatch):
    _as(monkeypatch, 2)
    with pytest.raises(CheckFailure) as info:
        check("extending.custom_function", _bridge(_AutogradInside))
    why = PROCESS["no_autograd_in_backward"][1]
    assert why.en in info.value.msg.en and why.zh in info.value.msg.zh


def test_gradients_that_never_ran_your_backward_fail_with_their_reason(monkeypatch):
    _as(monkeypatch, 3)
    with pytest.raises(CheckFailure) as info:
        check("extending.custom_function", _plain_autograd)
    why = PROCESS["your_backward_ran"][1]
    assert why.en in info.value.msg.en and why.zh in info.value.msg.zh


def test_a_correct_backward_fails_gradcheck_across_a_kink_and_passes_away_from_it():
    class AbsFn(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.abs()

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return grad_output * torch.sign(x)

    near = torch.tensor([1e-7], dtype=torch.float64, requires_grad=True)
    away = torch.tensor([-1.3, 0.4, 2.0], dtype=torch.float64, requires_grad=True)
    assert not torch.autograd.gradcheck(AbsFn.apply, (near,), raise_exception=False)
    assert torch.autograd.gradcheck(AbsFn.apply, (away,))


# --- part 2: the stories' symptoms, measured -----------------------------------------------------


def test_the_nan_comes_from_sqrt_at_zero_and_anomaly_mode_names_the_square():
    p = torch.randn(5, 2, dtype=torch.float64)
    _, grad = D._spread(p, how="where")
    assert bool(grad.isnan().all())  # the torch.where trap: every point's gradient
    loss, grad = D._spread(p)
    assert bool(torch.isfinite(grad).all()) and float(loss) < 0
    q = p.clone().requires_grad_(True)
    diff = q[:, None, :] - q[None, :, :]
    with torch.autograd.set_detect_anomaly(True), pytest.warns(UserWarning):
        with pytest.raises(RuntimeError, match="PowBackward0"):  # what the lesson says it names
            (-torch.sqrt((diff**2).sum(-1)).mean()).backward()


def _saved_bytes(*kept: object) -> int:
    """Bytes of the tensors saved for backward that the kept tensors still reach (and that no
    backward pass has freed)."""
    todo = [t.grad_fn for t in kept if isinstance(t, torch.Tensor) and t.grad_fn is not None]
    seen, storages = set(), {}
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        for name in dir(node):
            if not name.startswith("_saved_"):
                continue
            try:
                value = getattr(node, name)
            except RuntimeError:  # freed by backward()
                continue
            if isinstance(value, torch.Tensor):
                storage = value.untyped_storage()
                storages[storage.data_ptr()] = storage.nbytes()
        todo += [nxt for nxt, _ in node.next_functions if nxt is not None]
    return sum(storages.values())


def test_total_loss_keeps_every_graph_growing_step_by_step():
    nodes = [D.kept_after("A", steps) for steps in range(1, 7)]
    growth = [b - a for a, b in zip(nodes, nodes[1:], strict=False)]
    assert all(g > 0 for g in growth), nodes  # grows at every step
    assert len(set(growth)) == 1, nodes  # and by the same amount: one graph per step
    for name in ("B", "C", "E", "H"):
        assert D.kept_after(name, 2) == D.kept_after(name, 6) == 0, name
    assert D.kept_after("G", 2) == D.kept_after("G", 6) > 0  # one graph, the last one


def test_a_validation_sum_without_no_grad_keeps_every_batchs_activations():
    """What the lesson says of a loop that never calls backward on what it adds up."""
    model = torch.nn.Sequential(torch.nn.Linear(10, 64), torch.nn.Tanh(), torch.nn.Linear(64, 1))
    held = []
    for keep in (lambda loss: loss, lambda loss: loss.item()):
        total, grown = 0.0, []
        for _ in range(5):
            loss = ((model(torch.randn(32, 10)) - torch.randn(32, 1)) ** 2).mean()
            total += keep(loss)
            grown.append(_saved_bytes(total))
        held.append(grown)
    kept, logged = held
    assert all(b > a for a, b in zip(kept, kept[1:], strict=False)), kept
    assert kept[-1] >= 5 * 32 * 64 * 4  # at least every batch's hidden activations
    assert logged == [0] * 5


def test_a_carried_state_raises_and_retain_graph_trades_it_for_another_error():
    args = D._rnn_args(torch.Generator().manual_seed(4))
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        D.train_chunks(*args, state="carry")
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        D.train_chunks(*args, state="carry", retain=True)
    W, U = D.train_chunks(*args)
    assert bool(torch.isfinite(W).all()) and not W.requires_grad


@pytest.mark.parametrize("seed", range(4))
def test_without_a_reset_the_loss_swings_back_up_and_with_one_it_settles(seed):
    X, y, lr = D._regression_args(torch.Generator().manual_seed(seed))
    broken = D.losses_of(X, y, lr, reset="never")
    fixed = D.losses_of(X, y, lr)
    assert bool((broken[1:] > broken[:-1]).any())  # the curve goes back up
    assert bool((fixed[1:] <= fixed[:-1]).all())  # gradient descent on a convex loss
    assert float(fixed[-1]) < float(broken[-1])


def test_every_exercise_has_tiered_hints_a_catalogue_and_a_passing_reference():
    for exercise_id in (
        "extending.custom_function",
        "debugging.nan_fix",
        "debugging.graph_grows",
        "debugging.detached_state",
        "debugging.zero_grad",
    ):
        exercise = get(exercise_id)
        assert len(exercise.hints) >= 2 and len(exercise.mistakes) >= 3, exercise_id
        assert exercise.asks in ("build", "debug", "predict") and exercise.novel, exercise_id
        for args in exercise.inputs(seed=11, hidden=True):
            exercise.compare(exercise.reference(*args), exercise.reference(*args))


# --- the notebook --------------------------------------------------------------------------------


def test_the_lesson_has_its_exercises_points_and_predictions():
    solution_path, released_path = lesson_paths(LESSON)
    solution = nbformat.read(solution_path, as_version=4)
    assert points(solution) == {
        "your_function_tests": 3,
        "nan_fix_tests": 2,
        "graph_grows_tests": 2,
        "detached_state_tests": 2,
        "zero_grad_tests": 2,
    }
    en = [c.source for c in solution.cells if "lang:en" in c.metadata.get("tags", [])]
    zh = [c.source for c in solution.cells if "lang:zh" in c.metadata.get("tags", [])]
    assert sum("**Predict, then run.**" in s for s in en) == 3
    assert sum("**先预测，再运行。**" in s for s in zh) == 3
    released = nbformat.read(released_path, as_version=4)
    bridge = next(c for c in released.cells if "def through_your_function" in c.source)
    assert bridge.metadata["nbgrader"]["locked"] and not bridge.metadata["nbgrader"]["solution"]
    stub = next(c for c in released.cells if "class YourFunction" in c.source)
    assert stub.source.count("raise NotImplementedError()") == 2 and "slope" not in stub.source


@pytest.mark.slow
@pytest.mark.xdist_group("grade")
def test_graded_solution_full_release_zero_autograd_in_backward_loses_its_points(tmp_path):
    from tests.test_grade import course_grade

    solution_path, released_path = lesson_paths(LESSON)
    solution = nbformat.read(solution_path, as_version=4)
    released = nbformat.read(released_path, as_version=4)
    total = sum(points(solution).values())
    inside = (
        "class YourFunction(torch.autograd.Function):\n"
        "    @staticmethod\n"
        "    def forward(ctx, x):\n"
        "        ctx.save_for_backward(x)\n"
        "        return f(x)\n\n"
        "    @staticmethod\n"
        "    def backward(ctx, grad_output):\n"
        "        (x,) = ctx.saved_tensors\n"
        "        with torch.enable_grad():\n"
        "            x = x.detach().requires_grad_()\n"
        "            (slope,) = torch.autograd.grad(f(x).sum(), x)\n"
        "        return grad_output * slope\n"
    )
    submissions = {
        "solution": fill(released, solution),
        "released": released,
        "inside": fill(released, solution, {"your_function": inside}),
    }
    for student, nb in submissions.items():
        path = tmp_path / "sub" / student / LESSON / solution_path.name
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
    proc = course_grade(
        str(tmp_path / "sub"), "--out", str(tmp_path / "out"), "--workers", "1", timeout=900
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = csv.DictReader((tmp_path / "out" / "grades.csv").open(encoding="utf-8"))
    scores = {r["student_id"]: float(r["score"]) for r in rows}
    assert scores == {"solution": total, "released": 0.0, "inside": total - 3}
    page = (tmp_path / "out" / "feedback" / "inside" / LESSON).glob("*.html")
    assert "autograd ran again inside your backward" in next(page).read_text(encoding="utf-8")
