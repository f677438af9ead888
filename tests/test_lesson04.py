"""Lesson 4 (the computational graph): what its pictures and prose claim, and its reading rules.

- ``draw_backward``'s record is what the engine did: each node called once, after every node
  that points to it, on the sum of the gradients its arrows carried, and the leaves end with
  exactly what ``.grad`` holds;
- the cost claim: pushing gradients on at once visits a node once per path (2^(k+1) − 1 visits
  for k squarings), while the engine calls each of the k + 1 nodes once;
- exercise 3 (which inputs get a ``.grad``) is answered by reading: an answer that runs the
  formula with torch is rejected, the reading passes.
"""

from __future__ import annotations

import pytest
import torch

from course_utils.checks import CheckFailure
from course_utils.exercises import _FAILURES, check, get
from course_utils.graph_gradients import record_backward
from course_utils.objects import Expression

torch.set_num_threads(1)


def _arrows(record) -> dict[int, list[tuple[int, int]]]:
    """Node index -> the (parent, slot) arrows that end at it."""
    index = {id(n): i for i, n in enumerate(record.graph.nodes)}
    into: dict[int, list[tuple[int, int]]] = {}
    for p, node in enumerate(record.graph.nodes):
        for slot, (child, _) in enumerate(node.next_functions):
            if child is not None:
                into.setdefault(index[id(child)], []).append((p, slot))
    return into


@pytest.mark.parametrize("seed", range(6))
def test_each_node_runs_once_after_its_parents_on_the_sum_of_its_arrows(seed):
    exercise = get("computational_graph.summed_grads")
    expr, x = exercise.args_for(seed, 0)
    y = expr(x)
    record = record_backward(y, torch.ones_like(y))
    assert sorted(record.order) == list(range(len(record.graph.nodes)))  # once each
    step = {node: k for k, node in enumerate(record.order)}
    for child, arrows in _arrows(record).items():
        assert all(step[p] < step[child] for p, _ in arrows)
        total = sum(record.sent[arrow] for arrow in arrows)
        torch.testing.assert_close(record.received[child], total)
    leaf = next(i for i, n in enumerate(record.graph.nodes) if hasattr(n, "variable"))
    torch.testing.assert_close(record.received[leaf], x.grad)
    summed = sum(len(arrows) >= 2 for arrows in _arrows(record).values())
    assert summed == exercise.reference(expr, x.detach().requires_grad_(True))


def test_the_page_s_fan_out_numbers():
    x = torch.tensor([0.5, -1.0], requires_grad=True)
    y = x * x
    z = (y.tanh() + y).sum()
    record = record_backward(z)
    names = [type(n).__name__ for n in record.graph.nodes]
    mul = names.index("MulBackward0")
    one_minus_tanh2 = 1 - torch.tanh(torch.tensor([0.25, 1.0])) ** 2
    torch.testing.assert_close(record.received[mul], 1 + one_minus_tanh2)
    torch.testing.assert_close(x.grad, 2 * x.detach() * (1 + one_minus_tanh2))


def _visits(node) -> int:
    """What backward_by_hand visits: a node, then its inputs once per arrow."""
    return 1 + sum(_visits(child) for child, _ in node.next_functions if child is not None)


@pytest.mark.parametrize("k", [2, 6, 10])
def test_by_hand_visits_every_path_and_the_engine_each_node_once(k):
    x = torch.ones(1, requires_grad=True)
    y = x
    for _ in range(k):
        y = y * y
    assert _visits(y.grad_fn) == 2 ** (k + 1) - 1
    record = record_backward(y)
    assert len(record.order) == k + 1
    assert x.grad.item() == 2**k


def _gets_grad_by_reading(expr, requires_grad):
    live = {j for _, _, j in expr.terms}
    live |= {i for form, i, _ in expr.terms if form != "detach"}
    return [bool(flag) and k in live for k, flag in enumerate(requires_grad)]


def _gets_grad_by_running(expr, requires_grad):
    xs = [torch.ones(2, requires_grad=flag) for flag in requires_grad]
    y = expr(*xs)
    if not y.requires_grad:
        return [False] * len(xs)
    y.sum().backward()
    return [x.grad is not None for x in xs]


def test_which_inputs_get_a_gradient_is_read_not_run():
    exercise_id = "computational_graph.grad_leaves"
    for _ in range(3):
        check(exercise_id, _gets_grad_by_reading, hidden=True)
    for _ in range(2):
        _FAILURES.pop(exercise_id, None)
        with pytest.raises(CheckFailure) as info:
            check(exercise_id, _gets_grad_by_running, hidden=True)
        told = info.value.msg
        assert "calls torch" in told.en and "调用了 torch" in told.zh, told.en


def test_the_example_of_exercises_1_and_2():
    example = Expression(("reuse", "branch", "sum"))
    count = get("computational_graph.count_nodes").reference
    summed = get("computational_graph.summed_grads").reference
    assert count(example, torch.tensor([0.5, -1.0], requires_grad=True)) == 6
    assert count(example, torch.tensor([0.5, 1.0], requires_grad=True)) == 5
    assert summed(example, torch.tensor([0.5, -1.0], requires_grad=True)) == 1


def test_the_example_of_exercise_3():
    from course_utils.objects import Terms

    example = Terms((("sin", 0, 1), ("detach", 2, 0)))
    assert repr(example) == "y = xs[0].sin() * xs[1] + xs[2].detach() * xs[0]"
    reference = get("computational_graph.grad_leaves").reference
    assert reference(example, (True, False, True)) == [True, False, False]
