"""Every catalogued wrong answer fails, and is told its own mistake (a property test).

Each exercise in ``course_utils/exercises/*.py`` lists the plausible wrong answers a learner
would write (:class:`course_utils.exercises.Mistake`). Here each one goes through the
learner's ``check()`` on fresh random inputs (a new seed per run, as in a notebook), and
must fail with its own message and with no other mistake's. The solution must pass.
"""

from __future__ import annotations

import copy
import dataclasses
import re

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
from course_utils.variants import learner_for

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


def _learner(exercise) -> str | None:
    """A learner whose member of a variant family is the one ``get()`` returns (member 0)."""
    if not exercise.variants:
        return None
    return learner_for(exercise.family.name, exercise.member, len(exercise.variants))


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
            check(exercise_id, mistake.answer, hidden=True, learner=_learner(exercise))
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
    "differentiation.relative_error",
    "chain_rule.",
    "vector_calculus.",
    "computational_graph.",
    "finetuning.",
    "capstone.",
    "autograd_tools.",
)


@pytest.mark.parametrize(
    "exercise_id", [e for e in sorted(all_exercises()) if e.startswith(CATALOGUED)]
)
def test_the_solution_passes_and_every_exercise_has_a_catalog(exercise_id):
    exercise = get(exercise_id)
    check(exercise_id, exercise.reference, hidden=True, learner=_learner(exercise))
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


# --- the taught mistakes that used to pass (pedagogy review 2026-12, section 3) -------------
# Written here as a learner writes them: this file is learner code to the rules' watch, and
# each exercise keeps its own rules (the fixtures above lift them for the catalogue's sake).

ORIGINAL_RULES = {eid: (ex.forbids, ex.process) for eid, ex in all_exercises().items()}
SEEDS = 3  # check() draws a fresh seed per call


def _as_released(monkeypatch, exercise_id: str):
    forbids, process = ORIGINAL_RULES[exercise_id]
    exercise = dataclasses.replace(get(exercise_id), forbids=forbids, process=process)
    monkeypatch.setitem(_REGISTRY, exercise_id, exercise)
    return exercise


def _told(exercise_id: str, answer) -> list:
    """What check() says about ``answer`` on SEEDS fresh seeds (each must fail)."""
    told = []
    for _ in range(SEEDS):
        _FAILURES.pop(exercise_id, None)
        with pytest.raises(CheckFailure) as info:
            check(exercise_id, answer, hidden=True)
        told.append(info.value.msg)
    return told


def _sums(x, y):
    return bool(abs(x.sum() - y.sum()) < 1e-4)


def _means(x, y):
    return bool(abs(x.mean() - y.mean()) < 1e-4)


def _norms(x, y):
    return bool(abs(x.norm() - y.norm()) < 1e-4)


def _sorted(x, y):  # sorted, then compared with a relative tolerance (any scale)
    return bool(torch.allclose(x.sort().values, y.sort().values, rtol=1e-5, atol=0.0))


def _too_tight(x, y):
    return bool(torch.allclose(x, y, rtol=1e-7, atol=0.0))


@pytest.mark.parametrize(
    ("answer", "mistake"),
    [
        (_sums, "compared_sums"),
        (_means, "compared_sums"),
        (_norms, "compared_norms"),
        (_sorted, "compared_sorted"),
        (_too_tight, "exact_equality"),
    ],
)
def test_grads_match_sees_a_summary_or_a_tolerance_below_rounding(answer, mistake):
    msg = _mistake("differentiation.grads_match", mistake).msg
    for told in _told("differentiation.grads_match", answer):
        assert msg.en in told.en.splitlines()[0] and msg.zh in told.zh, told.en


def _one_sided(h: float):
    def one_sided(f, x):
        grad = torch.zeros_like(x)
        with torch.no_grad():
            for i in range(x.numel()):
                moved = x.clone()
                moved.view(-1)[i] += h
                grad.view(-1)[i] = (f(moved) - f(x)) / h
        return grad

    return one_sided


def _central(h: float):
    def central(f, x):
        grad = torch.zeros_like(x)
        with torch.no_grad():
            for i in range(x.numel()):
                up, down = x.clone(), x.clone()
                up.view(-1)[i] += h
                down.view(-1)[i] -= h
                grad.view(-1)[i] = (f(up) - f(down)) / (2 * h)
        return grad

    return central


@pytest.mark.parametrize("h", [1e-4, 1e-6, 1e-7, 1e-8, -1e-7])
def test_a_one_sided_difference_fails_whatever_its_step(monkeypatch, h):
    _as_released(monkeypatch, "differentiation.central_difference")
    msg = _mistake("differentiation.central_difference", "forward_difference").msg
    for told in _told("differentiation.central_difference", _one_sided(h)):
        assert msg.en in told.en and msg.zh in told.zh, told.en


@pytest.mark.parametrize("h", [1e-4, 1e-5, 1e-6, 1e-7])
def test_a_central_difference_with_a_sensible_step_passes(monkeypatch, h):
    _as_released(monkeypatch, "differentiation.central_difference")
    for _ in range(SEEDS):
        check("differentiation.central_difference", _central(h), hidden=True)


def test_an_imprecise_central_difference_is_told_so_not_a_factor(monkeypatch):
    _as_released(monkeypatch, "differentiation.central_difference")
    for told in _told("differentiation.central_difference", _central(1e-2)):
        assert "outside the tolerance (rtol 1e-06)" in told.en and "超出了容差" in told.zh
        assert "constant factor" not in told.en and "常数因子" not in told.zh


def _leaves_by_reading(program):
    requires_grad, leaf = [], []
    for line in program:
        rhs = line.split(" = ", 1)[1]
        inputs = [
            int(t[1:]) for t in rhs.replace("*", " ").replace(".", " ").split() if t[1:].isdigit()
        ]
        if rhs.startswith("torch."):
            grad, is_leaf = "requires_grad=True" in rhs, True
        elif ".detach()" in rhs:
            grad, is_leaf = rhs.endswith("requires_grad_()"), True
        else:
            grad = any(requires_grad[i] for i in inputs)
            is_leaf = not grad
        requires_grad.append(grad)
        leaf.append(is_leaf)
    return leaf


def _leaves_by_running(program):
    made = {}
    for line in program:  # no exec: each form replayed with the torch call it names
        name, rhs = line.split(" = ", 1)
        source = rhs.split(".")[0]
        if rhs.startswith("torch.randn"):
            made[name] = torch.randn(3, requires_grad="requires_grad=True" in rhs)
        elif " * " in rhs:
            a, b = rhs.split(" * ")
            made[name] = made[a] * made[b]
        elif rhs.endswith(".requires_grad_()"):
            made[name] = made[source].detach().requires_grad_()
        elif rhs.endswith(".detach()"):
            made[name] = made[source].detach()
        else:
            made[name] = made[source].exp()
    return [made[f"t{i}"].is_leaf for i in range(len(program))]


def _leaves_as_a_tensor(program):
    return torch.tensor(_leaves_by_reading(program))


def test_leaf_mask_is_read_not_run(monkeypatch):
    _as_released(monkeypatch, "computational_graph.leaf_mask")
    for _ in range(SEEDS):
        check("computational_graph.leaf_mask", _leaves_by_reading, hidden=True)
    for answer in (_leaves_by_running, _leaves_as_a_tensor):
        for told in _told("computational_graph.leaf_mask", answer):
            assert "calls torch" in told.en and "调用了 torch" in told.zh, told.en


def test_a_gradcheck_prediction_is_told_how_many_are_wrong_never_which():
    natural_guess = {"B", "D", "E", "H"}  # J looks right
    exercise = get("differentiation.gradcheck_rejects")
    for told in _told(exercise.id, lambda name: name in natural_guess):
        for text in (told.en, told.zh):  # no candidate named, quoted or listed
            assert not re.search(r"""[('"\[]\s*[A-J]\s*[)'",\]]""", text), text
    formulas = ("x³", "sin", "exp", "log", "tanh", "x²")
    for mistake in exercise.mistakes:
        for text in (mistake.msg.en, mistake.msg.zh):
            assert not any(f in text for f in formulas), text


def _finetune_with_every_parameter(model, new_head, x, y, lr):
    for p in model.parameters():
        p.requires_grad_(False)
    model[-1] = new_head
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)  # the tutorial's slip
    for _ in range(2):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    grads = [
        (p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
        for p in model.parameters()
    ]
    return torch.nn.utils.parameters_to_vector(model.parameters()).detach(), torch.cat(grads)


def _relative_error_by_torch(g1, g2):
    """The same measure by other means: torch.dist and Tensor.norm, scaled to a larger size."""
    top = max(g1.norm().item(), g2.norm().item())
    return 0.0 if top == 0.0 else torch.dist(g1, g2).item() / top


def test_the_relative_error_reference_agrees_with_torch_at_every_scale():
    reference = get("differentiation.relative_error").reference
    gen = torch.Generator().manual_seed(0)
    for scale in (1e-6, 1e-3, 1.0, 1e3, 1e6):
        for _ in range(20):
            g1 = torch.randn(7, generator=gen, dtype=torch.float64) * scale
            g2 = g1 + 1e-3 * scale * torch.randn(7, generator=gen, dtype=torch.float64)
            want = _relative_error_by_torch(g1, g2)
            assert reference(g1, g2) == pytest.approx(want, rel=1e-12)
            assert reference(g2, g1) == pytest.approx(want, rel=1e-12)  # symmetric
            # scale-free: the same pair 1e12 times larger has the same relative error
            assert reference(g1 * 1e6, g2 * 1e6) == pytest.approx(want, rel=1e-9)
    zero, g = torch.zeros(3, dtype=torch.float64), torch.tensor([1.0, -2.0, 0.5])
    assert reference(zero, zero) == 0.0 and reference(zero, g.double()) == 1.0
    assert reference(g, -g) == pytest.approx(2.0)
    assert reference(torch.tensor(1.0), torch.tensor(0.2)) == pytest.approx(0.8)


def _relative_to_exact(g1, g2):  # |a − b| / |b| as the page warns: inf when b is zero
    return float(torch.linalg.vector_norm(g1 - g2) / torch.linalg.vector_norm(g2))


def _both_zero_unguarded(g1, g2):  # right everywhere except 0 / 0
    n1, n2 = torch.linalg.vector_norm(g1), torch.linalg.vector_norm(g2)
    return float(torch.linalg.vector_norm(g1 - g2) / torch.maximum(n1, n2))


def _one_zero_by_the_smaller(g1, g2):  # inf as soon as one gradient is zero
    n1, n2 = torch.linalg.vector_norm(g1), torch.linalg.vector_norm(g2)
    return float(torch.linalg.vector_norm(g1 - g2) / torch.minimum(n1, n2))


def _undefined_at_zero(g1, g2):  # "no relative error against a zero gradient"
    n1, n2 = torch.linalg.vector_norm(g1), torch.linalg.vector_norm(g2)
    if n1 == 0 or n2 == 0:
        return float("nan")
    return float(torch.linalg.vector_norm(g1 - g2) / torch.maximum(n1, n2))


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (_relative_to_exact, "second gradient only"),
        (_both_zero_unguarded, "nan (0 / 0)"),
        (_one_zero_by_the_smaller, "smaller of the two sizes"),
        (_undefined_at_zero, "nan when one gradient is zero"),
    ],
)
def test_a_relative_error_that_breaks_at_zero_is_told_why(monkeypatch, answer, said):
    _as_released(monkeypatch, "differentiation.relative_error")
    for told in _told("differentiation.relative_error", answer):
        assert said in told.en and ("nan" in told.zh or "无穷大" in told.zh), told.en


def _evaluate_then_detach(model, x):
    model.eval()
    return model(x).detach()


def _full_hessian(f, x, v):  # row by row, one backward pass per element of x
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(f(x), x, create_graph=True)
    rows = [torch.autograd.grad(g[i], x, retain_graph=True)[0] for i in range(x.numel())]
    return torch.stack(rows) @ v


def _functional_hessian(f, x, v):
    return torch.autograd.functional.hessian(f, x.detach()) @ v


def _func_hessian(f, x, v):
    return torch.func.hessian(f)(x.detach()) @ v


def _vhp(f, x, v):  # two backward passes, but torch's, in one call
    return torch.autograd.functional.vhp(f, x.detach(), v)[1]


def _hvp(f, x, v):
    return torch.autograd.functional.hvp(f, x.detach(), v)[1]


def _sum_to_size(grad, shape):
    return grad.sum_to_size(shape)


def _sum_to_size_unbound(grad, shape):
    return torch.Tensor.sum_to_size(grad, *shape)


@pytest.mark.parametrize(
    ("exercise_id", "answer", "said"),
    [
        ("finetuning.finetune_step", _finetune_with_every_parameter, "held frozen parameters"),
        ("finetuning.evaluate", _evaluate_then_detach, "no graph at all"),
        ("autograd_tools.hvp", _full_hessian, "more than twice"),
        ("autograd_tools.hvp", _func_hessian, "(torch.func)"),
        ("autograd_tools.hvp", _functional_hessian, "`torch.autograd.functional.hessian"),
        ("autograd_tools.hvp", _vhp, "`torch.autograd.functional.vhp"),
        ("autograd_tools.hvp", _hvp, "`torch.autograd.functional.hvp"),
        ("vector_calculus.sum_to_shape", _sum_to_size, "`Tensor.sum_to_size`"),
        ("vector_calculus.sum_to_shape", _sum_to_size_unbound, "`Tensor.sum_to_size`"),
    ],
)
def test_the_right_values_reached_the_taught_wrong_way_fail(monkeypatch, exercise_id, answer, said):
    _as_released(monkeypatch, exercise_id)
    for told in _told(exercise_id, answer):
        assert said in told.en, told.en


def _second_derivative_kept_in_graph(f, x):
    x = x.detach().requires_grad_(True)
    (first,) = torch.autograd.grad(f(x).sum(), x, create_graph=True)
    (second,) = torch.autograd.grad(first.sum(), x, create_graph=True)
    return second


def test_a_second_derivative_left_in_the_graph_is_told_to_detach_not_no_grad():
    for told in _told("autograd_tools.second_derivative", _second_derivative_kept_in_graph):
        first_en, first_zh = told.en.splitlines()[0], told.zh.splitlines()[0]
        assert ".detach()" in first_en and "Do not reach for torch.no_grad()" in first_en
        assert ".detach()" in first_zh and "不要用 torch.no_grad()" in first_zh


def test_each_capstone_exercise_gets_only_hints_about_its_own_answer():
    forward = get("capstone.forward").hints
    assert all("dL/dx0" not in h.en and "[value]" in h.en for h in forward)
    for exercise_id in ("capstone.backward", "capstone.nonlinear"):
        assert all("dL/dx0" in h.en for h in get(exercise_id).hints)
    for h in get("capstone.train").hints:
        assert "find_a_mismatch" not in h.en and "[value" not in h.en
