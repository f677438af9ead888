"""A computation drawn as a graph whose nodes show their values and their gradients.

The picture CS231n and micrograd use to teach backpropagation: each tensor is a box with its
value (green) and the gradient of the loss with respect to it (red), and arrows follow the
forward pass. The caller computes both with autograd and places the boxes; this module only
draws what it is given, so it holds no derivative.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from course_utils.i18n import Msg
from course_utils.plots import localized, use_cjk_font

VALUE_COLOUR = "#1a7f37"
GRAD_COLOUR = "#c62828"


def _numbers(t: torch.Tensor | None) -> str:
    """A tensor's numbers to 3 decimals, one line per row of a matrix."""
    if t is None:
        return "—"
    t = t.detach().double()
    if t.dim() == 0:
        return f"{float(t):.3f}"
    rows = t.reshape(-1, t.shape[-1]) if t.dim() > 1 else t.reshape(1, -1)
    return "\n".join("[" + ", ".join(f"{float(v):.3f}" for v in row) + "]" for row in rows)


def draw_values_and_grads(
    nodes: Mapping[str, tuple[tuple[float, float], torch.Tensor, torch.Tensor | None]],
    edges: Sequence[tuple[str, str]],
    *,
    title: str | Msg = "",
):
    """Draw ``nodes`` (name -> ((column, row), value, gradient or None)) joined by ``edges``
    (from an input to the tensor computed from it) and return the figure."""
    import matplotlib.pyplot as plt

    use_cjk_font()
    columns = max(p[0] for p, _, _ in nodes.values()) + 1
    rows = max(p[1] for p, _, _ in nodes.values()) + 1
    fig, ax = plt.subplots(figsize=(2.6 * columns + 0.6, 1.5 * rows + 0.8))
    ax.set_xlim(-0.6, columns - 0.4)
    ax.set_ylim(rows - 0.4, -0.6)
    ax.set_axis_off()
    if title:
        ax.set_title(localized(title) if isinstance(title, Msg) else title)
    for start, end in edges:
        (x0, y0), (x1, y1) = nodes[start][0], nodes[end][0]
        ax.annotate(
            "",
            xy=(x1 - 0.42, y1),
            xytext=(x0 + 0.42, y0),
            arrowprops={"arrowstyle": "->", "color": "grey", "shrinkA": 2, "shrinkB": 2},
        )
    for name, ((col, row), value, grad) in nodes.items():
        box = {"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": "grey"}
        ax.text(col, row - 0.18, name, ha="center", va="bottom", fontsize=10)
        ax.text(
            col, row - 0.12, _numbers(value), ha="center", va="top", fontsize=7,
            color=VALUE_COLOUR, family="monospace", bbox=box,
        )  # fmt: skip
        ax.text(
            col, row + 0.22, _numbers(grad), ha="center", va="top", fontsize=7,
            color=GRAD_COLOUR, family="monospace",
        )  # fmt: skip
    fig.tight_layout()
    return fig
