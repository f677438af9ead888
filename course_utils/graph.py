"""Walk and draw the graph autograd records: ``tensor.grad_fn`` and its ``next_functions``.

Every node is a backward function (``MulBackward0``, ``AccumulateGrad``, …). The root is the
output's ``grad_fn``; an ``AccumulateGrad`` node stands for a leaf tensor that requires grad
(its ``.variable``). ``next_functions`` point from a node towards the inputs, which is the way
``backward()`` travels. A node reached along two paths is one node: the graph is a DAG.

``draw_graph`` uses matplotlib and lays the graph out itself (a node's depth is its longest
distance from the root, so every arrow points down). ``to_graphviz`` builds the same picture
with the ``graphviz`` package when both it and the ``dot`` program are installed;
``show_graph`` picks graphviz when it can and matplotlib otherwise.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import torch

from course_utils.i18n import Msg


@dataclass(frozen=True)
class Graph:
    """The nodes reachable from one root, in a fixed order (the root first)."""

    nodes: list = field(default_factory=list)  # the backward-function objects themselves
    edges: list[tuple[int, int]] = field(default_factory=list)  # (parent index, child index)
    depth: list[int] = field(default_factory=list)  # longest distance from the root

    def names(self) -> list[str]:
        return [type(n).__name__ for n in self.nodes]

    def children(self, i: int) -> list[int]:
        return [c for p, c in self.edges if p == i]


def _root_of(x) -> object | None:
    return x.grad_fn if isinstance(x, torch.Tensor) else x


def walk(x) -> Graph:
    """The graph behind a tensor (or starting at a backward function); empty when it has none.

    Nodes are found depth first from the root and each appears once, however many paths
    lead to it; ``None`` entries of ``next_functions`` (inputs that need no gradient) are skipped.
    """
    root = _root_of(x)
    if root is None:
        return Graph()
    index: dict[int, int] = {}
    nodes: list = []
    edges: list[tuple[int, int]] = []
    post: list[int] = []  # post-order, for the depths

    # depth first with an explicit stack: long graphs (a loop of 10,000 steps) must not hit
    # Python's recursion limit
    index[id(root)] = 0
    nodes.append(root)
    stack = [(root, iter(root.next_functions))]
    while stack:
        parent, todo = stack[-1]
        for child, _ in todo:
            if child is None:
                continue
            new = id(child) not in index
            if new:
                index[id(child)] = len(nodes)
                nodes.append(child)
            edges.append((index[id(parent)], index[id(child)]))
            if new:
                stack.append((child, iter(child.next_functions)))
                break
        else:
            post.append(index[id(parent)])
            stack.pop()
    # `nodes` keeps every backward function alive while we work, so ids stay unique.
    depth = [0] * len(nodes)
    parents: dict[int, list[int]] = {}
    for p, c in edges:
        parents.setdefault(c, []).append(p)
    for i in reversed(post):  # reversed post-order is a topological order: parents first
        for p in parents.get(i, []):
            depth[i] = max(depth[i], depth[p] + 1)
    return Graph(nodes, edges, depth)


def op_names(x) -> list[str]:
    """Sorted class names of the backward functions reachable from ``x`` (each node once)."""
    return sorted(walk(x).names())


def op_counts(x) -> Counter:
    """How many nodes of each class the graph of ``x`` holds."""
    return Counter(walk(x).names())


def leaves(x) -> list[torch.Tensor]:
    """The leaf tensors that require grad and that ``x`` depends on (its AccumulateGrad nodes)."""
    return [n.variable for n in walk(x).nodes if hasattr(n, "variable")]


def _label(fn, names: dict[str, torch.Tensor]) -> str:
    name = type(fn).__name__
    var = getattr(fn, "variable", None)
    if var is not None:
        for key, t in names.items():
            if t is var:
                return f"{name}\n({key})"
    return name


def _root_label(x, names: dict[str, torch.Tensor]) -> str | None:
    for key, t in names.items():
        if t is x:
            return key
    return None


def layout(graph: Graph) -> list[tuple[float, float]]:
    """(x, y) for every node: one row per depth, each node near the mean of its parents."""
    rows: dict[int, list[int]] = {}
    for i, d in enumerate(graph.depth):
        rows.setdefault(d, []).append(i)
    parents: dict[int, list[int]] = {}
    for p, c in graph.edges:
        parents.setdefault(c, []).append(p)
    x_of: dict[int, float] = {}
    for d in sorted(rows):
        row = rows[d]
        if d == 0:
            want = {i: float(k) for k, i in enumerate(row)}
        else:  # barycentre heuristic: under the parents, then pushed apart to a gap of 1
            want = {i: sum(x_of[p] for p in parents[i]) / len(parents[i]) for i in row}
        row.sort(key=lambda i: want[i])
        placed: list[float] = []
        for i in row:
            placed.append(want[i] if not placed else max(want[i], placed[-1] + 1.0))
        shift = sum(want[i] for i in row) / len(row) - sum(placed) / len(placed)
        for i, xpos in zip(row, placed, strict=True):
            x_of[i] = xpos + shift
    return [(x_of[i], -float(graph.depth[i])) for i in range(len(graph.nodes))]


def _style(graph: Graph, i: int) -> tuple[str, str]:
    fn = graph.nodes[i]
    if hasattr(fn, "variable"):
        return "#cfe2ff", "leaf"
    return ("#ffe0b3", "root") if i == 0 else ("#eeeeee", "op")


def draw_graph(x, names: dict[str, torch.Tensor] | None = None, *, ax=None, title: str = ""):
    """Draw the graph behind ``x`` with matplotlib and return the figure.

    ``names`` maps labels to tensors: leaves among them are labelled, and so is ``x`` itself.
    Arrows follow ``next_functions``, from the output down to the leaves; blue boxes are
    leaves (AccumulateGrad), the orange one is the root.
    """
    import matplotlib.pyplot as plt

    from course_utils.plots import localized

    names = names or {}
    graph = walk(x)
    pos = layout(graph)
    if ax is None:
        rows = max(graph.depth, default=0) + 1
        span = max((p[0] for p in pos), default=0) - min((p[0] for p in pos), default=0)
        fig, ax = plt.subplots(figsize=(max(4.0, 2.2 * (span + 1.4)), max(2.0, 1.1 * rows)))
    else:
        fig = ax.figure
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    if not graph.nodes:
        msg = Msg("(no graph: grad_fn is None)", "（没有计算图：grad_fn 为 None）")
        ax.text(0.5, 0.5, localized(msg), ha="center", va="center")
        return fig
    root_name = _root_label(x, names)
    boxes = []
    for i, fn in enumerate(graph.nodes):
        label = _label(fn, names)
        if i == 0 and root_name:
            label = f"{root_name} = …\n{label}"
        colour, _ = _style(graph, i)
        boxes.append(
            ax.text(
                *pos[i],
                label,
                ha="center",
                va="center",
                fontsize=9,
                zorder=3,
                bbox={"boxstyle": "round,pad=0.35", "facecolor": colour, "edgecolor": "0.3"},
            )
        )
    seen: Counter = Counter()
    for p, c in graph.edges:
        seen[(p, c)] += 1
        arrow(ax, boxes, pos, p, c, bend(graph, p, c, seen[(p, c)] - 1))
    xs = [q[0] for q in pos]
    ys = [q[1] for q in pos]
    ax.set_xlim(min(xs) - 0.9, max(xs) + 0.9)
    ax.set_ylim(min(ys) - 0.6, max(ys) + 0.6)
    fig.tight_layout()
    return fig


def graphviz_available() -> bool:
    """True when the ``graphviz`` Python package and the ``dot`` program are both installed."""
    return importlib.util.find_spec("graphviz") is not None and shutil.which("dot") is not None


def to_graphviz(x, names: dict[str, torch.Tensor] | None = None):
    """The same drawing as a ``graphviz.Digraph`` (needs the ``graphviz`` package)."""
    import graphviz

    names = names or {}
    graph = walk(x)
    dot = graphviz.Digraph(node_attr={"shape": "box", "style": "rounded,filled", "fontsize": "10"})
    root_name = _root_label(x, names)
    for i, fn in enumerate(graph.nodes):
        label = _label(fn, names)
        if i == 0 and root_name:
            label = f"{root_name} = …\n{label}"
        colour, _ = _style(graph, i)
        dot.node(str(i), label, fillcolor=colour)
    for p, c in graph.edges:
        dot.edge(str(p), str(c))
    return dot


def show_graph(x, names: dict[str, torch.Tensor] | None = None, *, title: str = ""):
    """Draw with graphviz when it is installed (package and ``dot``), else with matplotlib.

    Returns the picture. A matplotlib figure shows itself when the cell ends; a graphviz
    drawing is displayed here, so ``fig = show_graph(y)`` shows one picture either way.
    """
    if graphviz_available():
        dot = to_graphviz(x, names)
        try:
            from IPython.display import display

            display(dot)
        except ImportError:  # pragma: no cover - IPython is a dependency of the course
            pass
        return dot
    return draw_graph(x, names, title=title)


def bend(graph: Graph, parent: int, child: int, repeat: int) -> float:
    """How much an arrow curves: a second arrow to the same node (x * x), or one that jumps
    over a row, bends so that it does not hide under another."""
    skip = graph.depth[child] - graph.depth[parent] > 1
    return 0.35 * repeat + (0.3 if skip else 0.0)


def arrow(ax: Any, boxes: list, pos: list, parent: int, child: int, rad: float) -> None:
    """One arrow of a drawn graph, from the box of ``parent`` to the box of ``child``."""
    ax.annotate(
        "",
        xy=pos[child],
        xytext=pos[parent],
        zorder=2,
        arrowprops={
            "arrowstyle": "-|>",
            "color": "0.35",
            "patchA": boxes[parent].get_bbox_patch(),
            "patchB": boxes[child].get_bbox_patch(),
            "connectionstyle": f"arc3,rad={rad}",
            "shrinkA": 2,
            "shrinkB": 2,
        },
    )
