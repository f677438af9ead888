"""A computation drawn as a circuit: each quantity with its value above and its gradient below.

This is the picture CS231n and micrograd teach backpropagation with. Values flow left to right
(the forward pass); gradients are read right to left (the backward pass); each arrow carries a
label, typically the local derivative of its link or the share of the gradient that flows back
along it. A quantity used twice has two arrows leaving it, and its gradient is their sum.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from course_utils.i18n import Msg

VALUE_COLOUR = "#1b7f3b"
GRAD_COLOUR = "#c0392b"


def _number(x: float | torch.Tensor | None) -> str:
    if x is None:
        return "None"
    if isinstance(x, torch.Tensor):
        x = x.detach()
    return f"{float(x):.4g}"


def draw_circuit(
    nodes: Sequence[tuple[str, float | torch.Tensor, float | torch.Tensor | None]],
    edges: Sequence[tuple[str, str, str]],
    *,
    title: Msg | str = "",
    ax=None,
):
    """Draw ``nodes`` (label, value, gradient) left to right, joined by ``edges``.

    ``edges`` are (from, to, label): an arrow from one node's label to another's, in the
    direction of the forward pass; its label is written over it. An edge that skips over a
    node bends above the row. Returns the figure.
    """
    import matplotlib.pyplot as plt

    from course_utils.plots import localized

    where = {label: i for i, (label, _, _) in enumerate(nodes)}
    if ax is None:
        fig, ax = plt.subplots(figsize=(2.4 * len(nodes) + 0.6, 2.8))
    else:
        fig = ax.figure
    ax.set_axis_off()
    boxes = []
    for i, (label, value, grad) in enumerate(nodes):
        boxes.append(
            ax.text(
                i,
                0,
                label,
                ha="center",
                va="center",
                fontsize=12,
                zorder=3,
                bbox={"boxstyle": "round,pad=0.45", "facecolor": "#eef3fb", "edgecolor": "0.3"},
            )
        )
        ax.text(i, 0.32, _number(value), ha="center", color=VALUE_COLOUR, fontsize=11)
        ax.text(i, -0.42, _number(grad), ha="center", color=GRAD_COLOUR, fontsize=11)
    for src, dst, text in edges:
        i, j = where[src], where[dst]
        skip = abs(j - i) > 1
        rad = -0.45 if skip else 0.0
        ax.annotate(
            "",
            xy=(j, 0),
            xytext=(i, 0),
            zorder=2,
            arrowprops={
                "arrowstyle": "-|>",
                "color": "0.35",
                "patchA": boxes[i].get_bbox_patch(),
                "patchB": boxes[j].get_bbox_patch(),
                "connectionstyle": f"arc3,rad={rad}",
            },
        )
        # over a straight arrow, or over the top of a bent one
        # 直箭头写在箭头上方，弯箭头写在弧顶上方
        height = 0.12 + (0.5 * abs(j - i) * abs(rad) + 0.06 if skip else 0.0)
        ax.text((i + j) / 2, height, text, ha="center", fontsize=10, color="0.25")
    legend = (
        Msg("value (forward)", "值（前向传播）"),
        Msg("gradient (backward)", "梯度（反向传播）"),
    )
    ax.text(-0.5, -0.85, localized(legend[0]), color=VALUE_COLOUR, fontsize=9)
    ax.text(-0.5, -1.05, localized(legend[1]), color=GRAD_COLOUR, fontsize=9)
    if title:
        ax.set_title(localized(title) if isinstance(title, Msg) else title)
    ax.set_xlim(-0.6, len(nodes) - 0.4)
    bent = any(abs(where[d] - where[s]) > 1 for s, d, _ in edges)
    ax.set_ylim(-1.15, 1.1 if bent else 0.6)
    fig.tight_layout()
    return fig
