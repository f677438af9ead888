"""Draw the graph of a learner's ``Value`` engine (lesson 5): each box shows its data and grad.

The graph is read only through the attributes every ``Value`` has (``data``, ``grad``,
``_prev``, ``_op``), so it draws whatever engine the learner wrote; nothing here computes a
value or a gradient. Boxes are laid out as :func:`course_utils.graph.draw_graph` lays out
torch's graph: the output at the top, arrows towards the inputs, the way ``backward()`` goes.
"""

from __future__ import annotations

from typing import Any

from course_utils.graph import Graph, arrow, bend, layout


def value_graph(root: Any) -> Graph:
    """The Values reachable from ``root`` through ``_prev``, each once, the root first; an
    operand used twice (``x * x``) gives two arrows."""
    index: dict[int, int] = {id(root): 0}
    nodes: list = [root]
    edges: list[tuple[int, int]] = []
    stack = [root]
    while stack:
        node = stack.pop()
        for child in node._prev:
            if id(child) not in index:
                index[id(child)] = len(nodes)
                nodes.append(child)
                stack.append(child)
            edges.append((index[id(node)], index[id(child)]))
    depth = [0] * len(nodes)
    # longest distance from the root: relax the edges until nothing changes (a DAG, so at
    # most len(nodes) rounds)
    for _ in range(len(nodes)):
        changed = False
        for p, c in edges:
            if depth[c] < depth[p] + 1:
                depth[c] = depth[p] + 1
                changed = True
        if not changed:
            break
    return Graph(nodes=nodes, edges=edges, depth=depth)


def draw_values(root: Any, names: dict[str, Any] | None = None, *, ax=None, title: str = ""):
    """Draw the graph behind the Value ``root``; ``names`` labels some of its Values.

    Each box reads ``name  op`` (the operation that made it), then ``data`` and ``grad``;
    leaves are blue, the output orange, constants (Values with no name and no children) grey.
    """
    import matplotlib.pyplot as plt

    names = names or {}
    label_of = {id(v): k for k, v in names.items()}
    graph = value_graph(root)
    pos = layout(graph)
    if ax is None:
        rows = max(graph.depth, default=0) + 1
        span = max(p[0] for p in pos) - min(p[0] for p in pos)
        fig, ax = plt.subplots(figsize=(max(4.0, 2.0 * (span + 1.4)), max(2.0, 1.25 * rows)))
    else:
        fig = ax.figure
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    boxes = []
    for i, v in enumerate(graph.nodes):
        head = " ".join(s for s in (label_of.get(id(v), ""), v._op) if s) or "·"
        text = f"{head}\ndata {v.data:.4g}\ngrad {v.grad:.4g}"
        if i == 0:
            colour = "#ffe0b3"
        elif not v._prev:
            colour = "#cfe2ff" if id(v) in label_of else "#eeeeee"
        else:
            colour = "#ffffff"
        boxes.append(
            ax.text(
                *pos[i],
                text,
                ha="center",
                va="center",
                fontsize=8,
                family="monospace",
                zorder=3,
                bbox={"boxstyle": "round,pad=0.3", "facecolor": colour, "edgecolor": "0.3"},
            )
        )
    repeats: dict[tuple[int, int], int] = {}
    for p, c in graph.edges:
        repeat = repeats.get((p, c), 0)
        repeats[(p, c)] = repeat + 1
        arrow(ax, boxes, pos, p, c, bend(graph, p, c, repeat))
    xs = [q[0] for q in pos]
    ys = [q[1] for q in pos]
    ax.set_xlim(min(xs) - 0.9, max(xs) + 0.9)
    ax.set_ylim(min(ys) - 0.7, max(ys) + 0.7)
    fig.tight_layout()
    return fig
