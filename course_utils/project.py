"""The final project's tools: each learner's variant, the two-moons data, ``cmp`` and plots.

Kernel-visible and answer-free: the data generator, the comparison helper and the figures
hold no gradient formula. The graded references live in ``course_utils.exercises.final_project``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch

from course_utils.i18n import Msg, say
from course_utils.variants import Family, variant

# The members of the project's families. The grader reads the same tables to compute a
# submission's references, so their order is part of every learner's assignment: append only.
ACTIVATIONS = ("tanh", "relu", "sigmoid")
# The family the gradient exercises grade: what each member is, never its derivative.
ACTIVATION_FAMILY = Family(
    "final_project.activation",
    tuple(Msg(f"activation: `torch.{name}`", f"激活函数：`torch.{name}`") for name in ACTIVATIONS),
    params=tuple({"activation": name} for name in ACTIVATIONS),
)
HIDDEN_SIZES = (16, 24, 32)
DATA_SEEDS = 9000
MOON_NOISE = 0.1


@dataclass(frozen=True)
class ProjectVariant:
    """One learner's project: their data set's seed, hidden size and activation."""

    data_seed: int
    hidden: int
    activation: str


def my_variant(learner: str | None = None) -> ProjectVariant:
    """The project of ``learner`` (by default this kernel's learner, see course_utils.variants)."""
    return ProjectVariant(
        data_seed=1000 + variant("final_project.data", DATA_SEEDS, learner),
        hidden=HIDDEN_SIZES[variant("final_project.hidden", len(HIDDEN_SIZES), learner)],
        activation=ACTIVATIONS[ACTIVATION_FAMILY.index(learner)],
    )


def show_variant(learner: str | None = None) -> ProjectVariant:
    """Print the learner's variant in their language(s) and return it."""
    v = my_variant(learner)
    say(
        Msg(
            "Your project: data seed {seed}, {hidden} hidden units, activation {act}.",
            "你的项目：数据种子 {seed}，{hidden} 个隐藏单元，激活函数 {act}。",
        ).format(seed=v.data_seed, hidden=v.hidden, act=v.activation)
    )
    return v


def two_moons(
    n: int, *, seed: int, noise: float = MOON_NOISE, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points of two interleaved half circles with Gaussian noise, and their labels.

    Label 0 is the upper moon, label 1 the lower one; the points are shuffled and centred so
    that a network with small initial weights starts near the data."""
    gen = torch.Generator().manual_seed(seed)
    n_upper = n // 2
    angles = torch.rand(n, generator=gen, dtype=torch.float64) * math.pi
    upper = torch.stack([angles.cos(), angles.sin()], dim=1)
    lower = torch.stack([1 - angles.cos(), 0.5 - angles.sin()], dim=1)
    labels = (torch.arange(n) >= n_upper).long()
    points = torch.where(labels[:, None] == 0, upper, lower)
    points = points + noise * torch.randn(n, 2, generator=gen, dtype=torch.float64)
    points = points - torch.tensor([0.5, 0.25], dtype=torch.float64)
    order = torch.randperm(n, generator=gen)
    return points[order].to(dtype), labels[order]


def split(
    x: torch.Tensor, labels: torch.Tensor, val_fraction: float = 0.3
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x_train, labels_train, x_val, labels_val): the last ``val_fraction`` held out."""
    n_val = max(1, round(len(x) * val_fraction))
    return x[:-n_val], labels[:-n_val], x[-n_val:], labels[-n_val:]


def cmp(name: str, mine: torch.Tensor, theirs: torch.Tensor) -> bool:
    """Print whether ``mine`` equals autograd's ``theirs`` exactly, closely, and the largest gap.

    Returns True when they are close; a shape mismatch is said and returns False."""
    theirs = theirs.detach()
    mine = torch.as_tensor(mine).detach()
    if mine.shape != theirs.shape:
        say(
            Msg(
                "{name:<8} shape {mine} but autograd's is {theirs}",
                "{name:<8} 形状是 {mine}，autograd 的是 {theirs}",
            ).format(name=name, mine=tuple(mine.shape), theirs=tuple(theirs.shape))
        )
        return False
    mine = mine.to(theirs.dtype)
    exact = bool(torch.equal(mine, theirs))
    close = bool(torch.allclose(mine, theirs, rtol=1e-5, atol=1e-6))
    gap = float((mine - theirs).abs().max()) if mine.numel() else 0.0
    say(
        Msg(
            "{name:<8} exact: {exact!s:<5}  close: {close!s:<5}  max diff: {gap:.1e}",
            "{name:<8} 完全相等：{exact!s:<5}  近似相等：{close!s:<5}  最大差值：{gap:.1e}",
        ).format(name=name, exact=exact, close=close, gap=gap)
    )
    return close


def accuracy(predicted: torch.Tensor, labels: torch.Tensor) -> float:
    """The share of ``predicted`` labels equal to ``labels``."""
    return float((predicted.long() == labels.long()).double().mean())


def plot_decision_boundary(
    predict: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    labels: torch.Tensor,
    *,
    title: str | Msg = "",
):
    """The classes ``predict`` assigns over the plane, with the points ``x`` coloured by label."""
    import matplotlib.pyplot as plt

    from course_utils.plots import localized, use_cjk_font

    use_cjk_font()
    low, high = x.min(dim=0).values - 0.5, x.max(dim=0).values + 0.5
    gx = torch.linspace(float(low[0]), float(high[0]), 200)
    gy = torch.linspace(float(low[1]), float(high[1]), 200)
    grid_x, grid_y = torch.meshgrid(gx, gy, indexing="xy")
    grid = torch.stack([grid_x.reshape(-1), grid_y.reshape(-1)], dim=1).to(x.dtype)
    with torch.no_grad():
        classes = predict(grid).reshape(grid_x.shape)
    fig, ax = plt.subplots(figsize=(4.8, 3.8))
    ax.contourf(grid_x, grid_y, classes.double(), levels=[-0.5, 0.5, 1.5], alpha=0.25)
    ax.scatter(x[:, 0], x[:, 1], c=labels, s=10, cmap="coolwarm", edgecolors="none")
    ax.set_title(localized(title) if isinstance(title, Msg) else title)
    fig.tight_layout()
    return fig


def plot_grad_norms(norms: Mapping[str, Sequence[float]], *, title: str | Msg = ""):
    """Per-layer gradient norms against the training step, on a log scale."""
    import matplotlib.pyplot as plt

    from course_utils.plots import STEP, localized, use_cjk_font

    use_cjk_font()
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for name, values in norms.items():
        ax.plot(list(values), label=name)
    ax.set_yscale("log")
    ax.set_xlabel(localized(STEP))
    ax.set_ylabel(localized(Msg("gradient norm", "梯度范数")))
    ax.set_title(localized(title) if isinstance(title, Msg) else title)
    ax.legend()
    fig.tight_layout()
    return fig
