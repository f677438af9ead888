"""Lesson 4's picture of a backward pass: the graph with the gradients that travelled through it.

``draw_backward`` runs ``backward()`` with a hook on every node of the graph, then draws the
graph as ``course_utils.graph.draw_graph`` does and writes on it what happened: on each arrow
the gradient that travelled along it, in each node the gradient it received (the sum, where
several arrows meet) and the step at which the engine called it. It holds no exercise's answer;
the lesson's exercises may not call it (the grader treats course code as a reference).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from course_utils.graph import Graph, arrow, bend, layout, walk


@dataclass
class BackwardRecord:
    """What one ``backward()`` did, node by node (indices are those of ``graph.nodes``)."""

    graph: Graph
    order: list[int] = field(default_factory=list)  # the nodes in the order the engine ran them
    received: dict[int, torch.Tensor] = field(default_factory=dict)  # summed, as the node saw it
    sent: dict[tuple[int, int], torch.Tensor] = field(default_factory=dict)  # (node, slot) -> grad


def record_backward(y: torch.Tensor, gradient: torch.Tensor | None = None) -> BackwardRecord:
    """Run ``y.backward(gradient)`` and note, for every node, what came in and what went out."""
    record = BackwardRecord(walk(y))
    handles = []
    for i, node in enumerate(record.graph.nodes):

        def hook(grad_inputs, grad_outputs, i=i):
            record.order.append(i)
            record.received[i] = grad_outputs[0].detach().clone()
            for slot, grad in enumerate(grad_inputs):
                if grad is not None:
                    record.sent[(i, slot)] = grad.detach().clone()

        handles.append(node.register_hook(hook))
    try:
        y.backward(gradient)
    finally:
        for handle in handles:
            handle.remove()
    return record


def _short(t: torch.Tensor) -> str:
    """A gradient in a few characters: 12, or [36, 81], or [0.5, -1, …] for longer ones."""
    values = [f"{v:.3g}" for v in t.reshape(-1)[:3].tolist()]
    if t.dim() == 0:
        return values[0]
    more = ", …" if t.numel() > 3 else ""
    return "[" + ", ".join(values) + more + "]"


def _node_label(graph: Graph, i: int, names: dict[str, torch.Tensor]) -> str:
    node = graph.nodes[i]
    label = type(node).__name__
    var = getattr(node, "variable", None)
    for key, t in names.items():
        if t is var:
            label += f" ({key})"
    return label


def draw_backward(
    y: torch.Tensor,
    names: dict[str, torch.Tensor] | None = None,
    gradient: torch.Tensor | None = None,
    *,
    ax=None,
    title: str = "",
):
    """Run ``y.backward(gradient)`` and draw its graph annotated with the gradients.

    Each box: the node, ``#k`` (the step at which the engine called it) and ``∑`` followed by
    the gradient it received, the sum of its incoming arrows. Red on each arrow: the gradient
    that travelled along it. Blue boxes are leaves, the orange one is the root. Returns the
    figure.
    """
    import matplotlib.pyplot as plt

    names = names or {}
    record = record_backward(y, gradient)
    graph = record.graph
    pos = [(1.6 * px, 1.2 * py) for px, py in layout(graph)]  # room for the numbers
    if ax is None:
        rows = max(graph.depth, default=0) + 1
        span = max((p[0] for p in pos), default=0) - min((p[0] for p in pos), default=0)
        fig, ax = plt.subplots(figsize=(max(5.0, 1.9 * (span + 2.4)), max(2.5, 1.35 * rows)))
    else:
        fig = ax.figure
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    step = {node: k + 1 for k, node in enumerate(record.order)}
    boxes = []
    for i, (x0, y0) in enumerate(pos):
        label = _node_label(graph, i, names)
        if i in record.received:
            label += f"\n#{step[i]}   ∑ {_short(record.received[i])}"
        leaf = hasattr(graph.nodes[i], "variable")
        colour = "#cfe2ff" if leaf else "#ffe0b3" if i == 0 else "#eeeeee"
        box = {"boxstyle": "round,pad=0.35", "facecolor": colour, "edgecolor": "0.3"}
        boxes.append(
            ax.text(x0, y0, label, ha="center", va="center", fontsize=8, zorder=3, bbox=box)
        )
    index = {id(n): i for i, n in enumerate(graph.nodes)}
    for p, node in enumerate(graph.nodes):
        arrows_so_far: dict[int, int] = {}
        for slot, (child, _) in enumerate(node.next_functions):
            if child is None:
                continue
            c = index[id(child)]
            repeat = arrows_so_far.get(c, 0)  # y * y: a second arrow to the same node bends
            arrows_so_far[c] = repeat + 1
            rad = bend(graph, p, c, repeat)
            (xa, ya), (xb, yb) = pos[p], pos[c]
            arrow(ax, boxes, pos, p, c, rad)
            if (p, slot) in record.sent:  # beside the middle of the arc matplotlib draws
                mx = (xa + xb) / 2 + 0.5 * rad * (yb - ya)
                my = (ya + yb) / 2 - 0.5 * rad * (xb - xa)
                left = rad > 0 and mx < (xa + xb) / 2  # a bent arrow: the label outside its bend
                ax.text(
                    mx - 0.06 if left else mx + 0.06,
                    my,
                    _short(record.sent[(p, slot)]),
                    ha="right" if left else "left",
                    va="center",
                    fontsize=8,
                    color="#b22222",
                    zorder=4,
                )
    xs = [q[0] for q in pos]
    ys = [q[1] for q in pos]
    ax.set_xlim(min(xs) - 1.3, max(xs) + 1.3)
    ax.set_ylim(min(ys) - 0.6, max(ys) + 0.6)
    fig.tight_layout()
    return fig
