"""course_utils.graph: walking grad_fn / next_functions and drawing the result."""

import matplotlib
import pytest
import torch

from course_utils import graph

matplotlib.use("Agg")


def _q():
    a = torch.tensor([2.0, 3.0], requires_grad=True)
    b = torch.tensor([6.0, 4.0], requires_grad=True)
    return a, b, 3 * a**3 - b**2


def test_walk_finds_every_backward_function_of_q_once():
    a, b, q = _q()
    g = graph.walk(q)
    assert g.names()[0] == "SubBackward0"
    assert graph.op_names(q) == sorted(
        ["SubBackward0", "MulBackward0", "PowBackward0", "PowBackward0"]
        + ["AccumulateGrad", "AccumulateGrad"]
    )
    assert [t is a or t is b for t in graph.leaves(q)] == [True, True]
    # the constant 3 needs no gradient: next_functions holds None for it, and walk skips it
    assert all(node is not None for node in g.nodes)


def test_a_node_reached_twice_is_one_node_and_depth_is_the_longest_distance():
    x = torch.randn(3, requires_grad=True)
    y = x * x  # two edges to the same AccumulateGrad
    z = (y.sin() + y).sum()  # y is reached directly and through sin
    g = graph.walk(z)
    assert graph.op_counts(z) == {
        "SumBackward0": 1,
        "AddBackward0": 1,
        "SinBackward0": 1,
        "MulBackward0": 1,
        "AccumulateGrad": 1,
    }
    depth = dict(zip(g.names(), g.depth, strict=True))
    assert depth == {
        "SumBackward0": 0,
        "AddBackward0": 1,
        "SinBackward0": 2,
        "MulBackward0": 3,
        "AccumulateGrad": 4,
    }
    mul = g.names().index("MulBackward0")
    assert len(g.children(mul)) == 2  # both arrows of x * x are kept
    for p, c in g.edges:
        assert g.depth[c] > g.depth[p], "every arrow points down"


def test_leaves_and_tensors_without_graph():
    x = torch.randn(2, requires_grad=True)
    assert graph.walk(x).nodes == [] and graph.op_names(x) == []
    assert graph.op_names(torch.randn(2) * 2) == []
    c = torch.randn(2)
    assert graph.op_names(x * c) == ["AccumulateGrad", "MulBackward0"]


def test_a_long_graph_does_not_hit_the_recursion_limit():
    x = torch.randn(1, requires_grad=True)
    y = x
    for _ in range(3000):
        y = y * 1.0001
    g = graph.walk(y)
    assert len(g.nodes) == 3001 and max(g.depth) == 3000


def test_layout_puts_rows_by_depth_without_overlap():
    _, _, q = _q()
    g = graph.walk(q)
    pos = graph.layout(g)
    assert [p[1] for p in pos] == [-float(d) for d in g.depth]
    for d in set(g.depth):
        xs = sorted(p[0] for p, dd in zip(pos, g.depth, strict=True) if dd == d)
        assert all(b - a >= 1.0 - 1e-9 for a, b in zip(xs, xs[1:], strict=False))


def test_draw_graph_labels_leaves_and_root():
    a, b, q = _q()
    fig = graph.draw_graph(q, {"a": a, "b": b, "Q": q})
    texts = [t.get_text() for t in fig.axes[0].texts if t.get_text()]
    assert "AccumulateGrad\n(a)" in texts and "AccumulateGrad\n(b)" in texts
    assert any(t.startswith("Q = ") for t in texts)
    assert len(texts) == 6
    empty = graph.draw_graph(torch.zeros(1))
    assert len(empty.axes[0].texts) == 1


def test_show_graph_falls_back_to_matplotlib(monkeypatch):
    _, _, q = _q()
    monkeypatch.setattr(graph, "graphviz_available", lambda: False)
    fig = graph.show_graph(q)
    assert isinstance(fig, matplotlib.figure.Figure)


def test_to_graphviz_when_installed():
    pytest.importorskip("graphviz")
    a, b, q = _q()
    dot = graph.to_graphviz(q, {"a": a, "b": b})
    assert "AccumulateGrad" in dot.source and "SubBackward0" in dot.source
