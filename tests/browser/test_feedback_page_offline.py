"""A feedback page as a learner opens it offline: Chromium with every request but the page's
own file refused draws lesson 2's formulas (MathML, no script) and lists the exercises by
title. Screenshot: test-artifacts/browser/feedback-page-offline.png.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import fresh_artifacts
from tests.browser.jlab import screenshot
from tests.test_feedback_page import course_page, expected_contents

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

# Each formula as Chromium lays it out; in a fraction, whether the numerator stands above the
# denominator (as text, "\\frac{∂Q}{∂a}" or an unknown element, they would share a line).
_FORMULAS_JS = """() => [...document.querySelectorAll('math[display="block"]')].map(m => {
    const f = m.querySelector('mfrac');
    const [top, bottom] = f ? [...f.children].map(c => c.getBoundingClientRect()) : [null, null];
    return {
        display: getComputedStyle(m).display,
        width: m.getBoundingClientRect().width,
        stacked: f ? top.bottom <= bottom.top + 1 && top.height > 5 : null,
    };
})"""


def test_formulas_render_with_the_network_blocked(offline, tmp_path) -> None:
    fresh_artifacts()
    path = tmp_path / "02_derivatives.html"
    path.write_text(course_page(), encoding="utf-8")
    page = offline.new_page()
    page.goto(path.as_uri(), wait_until="load")
    formulas = page.evaluate(_FORMULAS_JS)
    contents = page.locator("#toc li").all_inner_texts()
    page.locator('math[display="block"]').nth(1).scroll_into_view_if_needed()
    page.evaluate("() => window.scrollBy(0, -200)")
    shot = screenshot(page, "feedback-page-offline")
    assert offline.asked == []
    assert len(formulas) == 2
    for formula in formulas:
        # Chromium lays MathML out itself ("block math"); an unknown element would be inline.
        assert formula["display"] == "block math" and formula["width"] > 40, formula
    assert [f["stacked"] for f in formulas] == [None, True], formulas
    assert [" ".join(line.split()) for line in contents] == expected_contents()
    assert shot.stat().st_size > 10_000
