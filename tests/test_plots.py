import warnings

import pytest

from course_utils.i18n import Msg
from course_utils.plots import cjk_font, localized, plot_curve


@pytest.mark.skipif(cjk_font() is None, reason="no CJK font installed (fonts-wqy-microhei)")
def test_chinese_labels_are_drawn_with_the_chinese_font(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.setenv("COURSE_LANG", "both")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = plot_curve([3.0, 2.0, 1.0])
        fig.canvas.draw()
    assert localized(Msg("loss", "损失")) == "loss / 损失"
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert not missing, missing


def test_without_a_chinese_font_labels_are_english(monkeypatch):
    import course_utils.plots as plots

    monkeypatch.setattr(plots, "cjk_font", lambda: None)
    assert plots.localized(Msg("loss", "损失")) == "loss"
