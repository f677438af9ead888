"""Small matplotlib figures the lessons share."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from course_utils.i18n import Msg, current_lang

CJK_FILES = ("wqy", "notosanscjk", "noto-cjk", "simhei", "msyh")
CJK_FONTS = (
    "WenQuanYi Micro Hei",
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "SimHei",
    "Microsoft YaHei",
)


STEP = Msg("step", "步数")
LOSS = Msg("loss", "损失")


def cjk_font() -> str | None:
    """The first installed font that has Chinese glyphs, if any."""
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    found = next((name for name in CJK_FONTS if name in names), None)
    if found is None:
        # matplotlib's font cache may predate the font's installation: look on disk.
        for path in font_manager.findSystemFonts():
            if any(key in Path(path).name.lower() for key in CJK_FILES):
                font_manager.fontManager.addfont(path)
        names = {f.name for f in font_manager.fontManager.ttflist}
        found = next((name for name in CJK_FONTS if name in names), None)
    return found


def use_cjk_font() -> str | None:
    """Let new figures draw Chinese glyphs; return the font, or None when none is installed.

    Matplotlib falls back glyph by glyph only across the families of ``font.family`` (a font
    appended to ``font.sans-serif`` is never reached), and a text takes its font when it is
    created: call this before making a figure whose labels may be Chinese.
    """
    import matplotlib.pyplot as plt

    font = cjk_font()
    if font is not None and font not in plt.rcParams["font.family"]:
        plt.rcParams["font.family"] = [*plt.rcParams["font.family"], font]
    return font


def localized(msg: Msg) -> str:
    """A plot label in the learner's language; English alone when no Chinese font is installed."""
    if use_cjk_font() is None:
        return msg.en
    lang = current_lang()
    return {"en": msg.en, "zh": msg.zh}.get(lang, f"{msg.en} / {msg.zh}")


def plot_tangent(
    f: Callable[[torch.Tensor], torch.Tensor],
    x0: float,
    slope: float,
    *,
    span: float = 1.5,
    label: str = "f(x)",
    title: str = "",
):
    """Draw ``f`` near ``x0`` with the tangent line whose slope autograd computed."""
    import matplotlib.pyplot as plt

    xs = torch.linspace(x0 - span, x0 + span, 200)
    with torch.no_grad():
        ys = f(xs)
        y0 = float(f(torch.tensor(x0)))
    use_cjk_font()
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(xs, ys, label=label)
    ax.plot(
        xs,
        y0 + slope * (xs - x0),
        "--",
        label=localized(Msg(f"tangent, slope {slope:g}", f"切线，斜率 {slope:g}")),
    )
    ax.scatter([x0], [y0], color="black", zorder=3)
    ax.set_xlabel("x")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_curve(
    values: Sequence[float],
    *,
    xlabel: str | Msg = STEP,
    ylabel: str | Msg = LOSS,
    title: str = "",
):
    """A simple line plot, e.g. a loss curve."""
    import matplotlib.pyplot as plt

    use_cjk_font()
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(list(values), marker="o" if len(values) <= 30 else None)
    ax.set_xlabel(localized(xlabel) if isinstance(xlabel, Msg) else xlabel)
    ax.set_ylabel(localized(ylabel) if isinstance(ylabel, Msg) else ylabel)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_series(
    x: Sequence[float],
    series: dict[str | Msg, Sequence[float]],
    *,
    xlabel: str | Msg,
    ylabel: str | Msg,
    loglog: bool = False,
    title: str | Msg = "",
):
    """Several curves over the same x, each with a (bilingual) legend; log axes with ``loglog``."""
    import matplotlib.pyplot as plt

    def text(label: str | Msg) -> str:
        return localized(label) if isinstance(label, Msg) else label

    use_cjk_font()
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for label, ys in series.items():
        ax.plot(list(x), list(ys), marker="o", markersize=3, label=text(label))
    if loglog:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel(text(xlabel))
    ax.set_ylabel(text(ylabel))
    ax.set_title(text(title))
    ax.legend()
    fig.tight_layout()
    return fig


# Register the Chinese font as soon as a lesson imports this module: a figure made with
# plain matplotlib before any call to ``localized`` must still render Chinese labels.
use_cjk_font()
