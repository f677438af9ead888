"""The class report as an instructor opens it offline: `course samples` then `course grade`, and
Chromium, with every request but the report's own files refused, draws its three charts, names
the exercises by title in both languages, the most common mistakes with their learners, the
copied pair, and every learner with a link to their feedback.
Screenshots: test-artifacts/browser/report-top.png, report-mistakes.png.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from autograder.config import ROOT
from tests.browser.conftest import fresh_artifacts
from tests.browser.jlab import renders_chinese, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

COURSE = [str(Path(sys.executable).parent / "course")]

_IMAGES_JS = """() => [...document.images].map(i => ({
    src: i.getAttribute('src'), width: i.naturalWidth, alt: i.alt,
}))"""


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    demo = tmp_path_factory.mktemp("report")
    for args in (
        ["samples", "--dir", str(demo)],
        ["grade", str(demo / "submitted"), "--workers", "2", "--out", str(demo / "out")],
    ):
        done = subprocess.run(COURSE + args, cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return demo / "out" / "report" / "index.html"


def test_the_report_opens_offline_with_its_charts(offline, report: Path) -> None:
    fresh_artifacts()
    page = offline.new_page()
    page.goto(report.as_uri(), wait_until="load")
    images = page.evaluate(_IMAGES_JS)
    text = page.inner_text("body")
    chinese = renders_chinese(page, "常见错误")
    screenshot(page, "report-top")
    page.get_by_text("Most common mistakes", exact=False).first.scroll_into_view_if_needed()
    screenshot(page, "report-mistakes")
    feedback_links = page.eval_on_selector_all(
        "a[href*='feedback']", "links => links.map(a => a.getAttribute('href'))"
    )
    assert offline.asked == []
    assert {Path(i["src"]).name for i in images} >= {"scores.png", "exercises.png", "slowest.png"}
    for image in images:  # each chart was found and decoded, and says what it shows
        assert image["width"] > 100 and image["alt"], image
    # Exercises by title, in both languages, and the planted mistakes with their learners.
    for words in ("∂Q/∂a by hand", "手算 ∂Q/∂a", "Most common mistakes", "最常见的错误"):
        assert words in text, words
    assert "power_kept_1" in text and "coef_dropped_1" in text
    assert "copy_a" in text and "copy_b" in text
    assert chinese, "the report's Chinese is drawn as empty boxes: no CJK font"
    # Every learner's feedback is one click away, and the page it names exists.
    assert len({link for link in feedback_links}) >= 14
    for link in feedback_links:
        assert (report.parent / link).resolve().exists(), link
