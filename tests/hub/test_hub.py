"""The course on a real JupyterHub, in Chromium: release, fetch, answer, Validate, submit,
collect, grade into PostgreSQL, release feedback, fetch it; and who may read what.

The steps depend on each other and run in order in one module (one hub: starting it and a
JupyterLab per user costs most of the time). Screenshots of every step go to
test-artifacts/hub/.
"""

from __future__ import annotations

import csv
import json
import re
import time
from pathlib import Path

import nbformat
import pytest

from autograder.authoring.samples import grade_id, points
from autograder.config import COURSE_ID, RELEASE_DIR, ROOT, SOURCE_DIR
from autograder.lab.hub import SERVICE
from tests.browser.conftest import Lab
from tests.browser.jlab import KERNEL_READY_S, Notebook, click_menu
from tests.derivatives import RIGHT_DQ_DA
from tests.hub.conftest import ARTIFACTS, INSTRUCTOR, VIEWPORT, Hub

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LESSON = "02_derivatives"
NOTEBOOK = f"{LESSON}/{LESSON}.ipynb"
FETCHED = f"{COURSE_ID}/{LESSON}"  # where a learner's fetch puts it (path_includes_course)
SPAWN_S = 180  # log in, start a JupyterLab as the user, load it, on two busy cores
state: dict = {}  # what one step hands to the next (pages live in the browser thread)


def shot(page, name: str) -> Path:
    """A screenshot in test-artifacts/hub/ once the page has painted."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    page.wait_for_timeout(300)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def released_points() -> dict[str, float]:
    return points(nbformat.read(ROOT / SOURCE_DIR / LESSON / f"{LESSON}.ipynb", as_version=4))


def test_check_for_dq_da() -> None:
    """The answer typed below is graded by exactly one test cell, worth some points."""
    released = nbformat.read(ROOT / RELEASE_DIR / NOTEBOOK, as_version=4)
    ids = [grade_id(c) for c in released.cells]
    assert "dq_da" in ids
    after = ids[ids.index("dq_da") + 1]
    assert released_points()[after] > 0
    state["dq_da_test"] = after


def test_instructor_releases_the_lesson(hub: Hub) -> None:
    """`make hub` is up (the fixture); `course release` made notebooks/ (the course folder
    links to it); the README's release_assignment hands the lesson out."""
    release = hub.readme_as_grader(f"nbgrader release_assignment {LESSON}")
    assert release.returncode == 0, release.stderr[-3000:]
    outbound = hub.exchange / "outbound" / LESSON / f"{LESSON}.ipynb"
    assert outbound.read_bytes() == (ROOT / RELEASE_DIR / NOTEBOOK).read_bytes()


# -- browser steps (they run in the browser thread) ------------------------------------------------
def log_in(browser, hub: Hub, user: str):
    """Log in at the hub's login page; wait for the user's own JupyterLab."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(60_000)
    page = context.new_page()
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", hub.passwords[user])
    page.click("#login_submit")
    page.wait_for_selector(".jp-LauncherCard", timeout=SPAWN_S * 1000)
    return page


def learner_lab(hub: Hub, user: str) -> Lab:
    """tests/browser/jlab.py's view of this user's JupyterLab behind the hub. Its REST helpers
    pass a token in the URL, which JupyterHub 5 refuses: the tests here use the page only."""
    home = Path("/home") / user
    return Lab(f"{hub.url}/user/{user}", "", home, home, ARTIFACTS / "jupyterhub.log")


def nbgrader_menu(page) -> list[str]:
    """The labels of the Nbgrader menu's visible items."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").first.click()
    items = page.locator(".lm-Menu-item:not(.lm-mod-hidden) .lm-Menu-itemLabel")
    items.first.wait_for()
    labels = [t.strip() for t in items.all_text_contents() if t.strip()]
    return labels


def assignment_list(page):
    """Open (or refresh) the Assignment List; return its panel once it has loaded."""
    panel = page.locator("#assignments")
    if not panel.count() or not panel.first.is_visible():
        page.keyboard.press("Escape")
        click_menu(page, "Nbgrader", "nbgrader:open-assignment-list")
    else:
        page.locator("#refresh_assignments_list").click()
    panel = page.locator("#assignments")
    panel.wait_for()
    page.wait_for_function(
        """() => ['released', 'fetched', 'submitted'].every(k => {
            const l = document.getElementById(k + '_assignments_list_loading');
            return l && getComputedStyle(l).display === 'none';
        })""",
        timeout=60_000,
    )
    return panel


def row(page, listing: str, lesson: str = LESSON):
    return page.locator(f"#{listing}_assignments_list .list_item", has_text=lesson).first


def press_row_button(page, listing: str, label: str, then: str) -> None:
    """Press ``label`` in the lesson's row of ``listing``; wait until the lesson is in ``then``."""
    row(page, listing).locator("button", has_text=label).click()
    row(page, then).wait_for(timeout=120_000)


def learner_fetches(browser, hub: Hub, user: str):
    page = log_in(browser, hub, user)
    lab = learner_lab(hub, user)
    assignment_list(page)
    row(page, "released").wait_for(timeout=60_000)
    return page, lab


def step_learner1(browser, hub: Hub) -> dict:
    page, lab = learner_fetches(browser, hub, "learner1")
    out = {"menu": nbgrader_menu(page)}
    shot(page, "01-learner1-nbgrader-menu")
    page.keyboard.press("Escape")
    assignment_list(page)
    shot(page, "02-learner1-assignment-list-released")
    press_row_button(page, "released", "Fetch", "fetched")
    shot(page, "03-learner1-fetched")

    nb = Notebook.open(lab, page, f"{FETCHED}/{LESSON}.ipynb", wait_kernel=False)
    nb.panel.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').wait_for(
        timeout=KERNEL_READY_S * 1000
    )
    released = nbformat.read(lab.root / FETCHED / f"{LESSON}.ipynb", as_version=4)
    where = {grade_id(c): i for i, c in enumerate(released.cells) if grade_id(c)}
    nb.replace_source(where["dq_da"], RIGHT_DQ_DA)
    page.keyboard.press("Control+s")
    page.wait_for_function(
        "(id) => !document.querySelector(`.lm-TabBar-tab[data-id='${id}']`).classList.contains('jp-mod-dirty')",
        arg=nb.id,
    )
    nb.scroll_to_cell(where["dq_da"])
    shot(page, "04-learner1-answers-dq_da")
    dialog = nb.validate()
    message = dialog.locator("#validation-message")
    out["validate"] = message.text_content()
    out["validate_class"] = message.get_attribute("class")
    shot(page, "05-learner1-validate")
    nb.close_dialog()
    out["saved"] = (lab.root / FETCHED / f"{LESSON}.ipynb").read_text(encoding="utf-8")

    assignment_list(page)
    press_row_button(page, "fetched", "Submit", "submitted")
    shot(page, "06-learner1-submitted")
    state["learner1_page"] = page
    return out


def step_learner2(browser, hub: Hub) -> None:
    page, _ = learner_fetches(browser, hub, "learner2")
    press_row_button(page, "released", "Fetch", "fetched")
    assignment_list(page)
    press_row_button(page, "fetched", "Submit", "submitted")
    shot(page, "07-learner2-submitted-blank")
    page.context.close()


def step_instructor(browser, hub: Hub) -> dict:
    """The instructor's way in: their own JupyterLab's Course List links to the course
    service's Formgrader (nbgrader finds it by the hub's groups and services)."""
    page = log_in(browser, hub, INSTRUCTOR)
    out = {"menu": nbgrader_menu(page)}
    page.keyboard.press("Escape")
    click_menu(page, "Nbgrader", "nbgrader:open-course-list")
    courses = page.locator("#formgrader_list")
    link = courses.locator(".list_item .item_name a", has_text=COURSE_ID)
    link.wait_for(timeout=60_000)
    out["courses"] = courses.inner_text()
    out["href"] = link.get_attribute("href")
    shot(page, "09-instructor-course-list")
    page.goto(out["href"])  # the link opens a new tab: the same URL, here in this one
    # The Formgrader panel: a frame of the service's JupyterLab, which JupyterHub's default
    # policy (frame-ancestors 'none') would leave blank.
    formgrader = page.frame_locator("iframe[src*='formgrader']")
    formgrader.get_by_text(LESSON).first.wait_for(timeout=60_000)
    shot(page, "10-instructor-formgrader")
    page.goto(f"{hub.url}/services/{SERVICE}/formgrader/manage_students")
    page.get_by_text("learner1").first.wait_for(timeout=60_000)
    shot(page, "11-instructor-formgrader-students")
    out["students"] = page.locator("body").inner_text()
    page.context.close()
    return out


def step_feedback(browser, hub: Hub) -> dict:
    page = state["learner1_page"]
    assignment_list(page)
    shot(page, "12-learner1-feedback-available")
    out = {"available": row(page, "submitted").inner_text()}
    row(page, "submitted").locator("button", has_text="Fetch Feedback").click()
    row(page, "submitted").get_by_text("view feedback").wait_for(timeout=120_000)
    shot(page, "13-learner1-feedback-fetched")
    [html] = sorted((Path("/home/learner1") / FETCHED / "feedback").glob("*/*.html"))
    rel = html.relative_to("/home/learner1")
    page.goto(f"{hub.url}/user/learner1/files/{rel}")
    page.get_by_text("dq_da").first.wait_for()
    out["page"] = page.locator("body").inner_text()
    out["file"] = html.read_text(encoding="utf-8")
    # Only the course service may be framed: learners' servers keep JupyterHub's policy.
    status = page.request.get(f"{hub.url}/user/learner1/api/status")
    out["learner_csp"] = status.headers.get("content-security-policy", "")
    shot(page, "14-learner1-reads-feedback")
    return out


# -- the tests -------------------------------------------------------------------------------------
def test_learners_fetch_answer_validate_and_submit(hub: Hub, browser_thread) -> None:
    started = time.monotonic()
    out = browser_thread.run(step_learner1, hub)
    # The learner's side of nbgrader only.
    assert out["menu"] == ["Assignment List"], out["menu"]
    # Validate ran the lesson in the learner's server: dq_da passes, the rest are not done yet.
    assert "validation-failed" in out["validate_class"]
    assert "NotImplementedError" in out["validate"]
    assert 'check("differentiation.grad_a", dq_da)' not in out["validate"], out["validate"][-1500:]
    assert "c * p * a ** (p - 1)" in out["saved"]
    browser_thread.run(step_learner2, hub)
    inbound = hub.as_grader("ls", str(hub.exchange / "inbound"))
    names = inbound.stdout.splitlines()
    assert sorted(n.split("+")[0] for n in names) == ["learner1", "learner2"], inbound
    state["timings"] = {"learners": time.monotonic() - started}


def test_instructor_collects_grades_and_releases_feedback(hub: Hub, browser_thread) -> None:
    # The hub's grading service has graded and released both as they arrived (the README's
    # manual path below does it again; run at the same time, both would write one row).
    hub.wait_for_service(
        lambda j: (
            {e["id"].split("+")[0] for e in j if e["e"] == "released"} >= {"learner1", "learner2"}
        )
    )
    started = time.monotonic()
    collect = hub.readme_as_grader(f"nbgrader collect {LESSON}")
    assert collect.returncode == 0, collect.stderr[-3000:]
    for learner in ("learner1", "learner2"):
        assert (hub.course / "submitted" / learner / LESSON / f"{LESSON}.ipynb").is_file()

    grade = hub.readme_as_grader('course grade submitted --db "$COURSE_DB" --out grading-out')
    assert grade.returncode == 0, (grade.stdout + grade.stderr)[-3000:]
    with (hub.course / "grading-out" / "grades.csv").open() as f:
        scores = {
            r["student_id"]: float(r["score"])
            for r in csv.DictReader(f)
            if r["assignment"] == LESSON
        }
    expected = released_points()[state.get("dq_da_test") or "test_dq_da"]
    assert scores == {"learner1": expected, "learner2": 0.0}, scores

    # The course gradebook is the hub's PostgreSQL database: what the Formgrader shows.
    from nbgrader.api import Gradebook

    with Gradebook(hub.settings.db_url, COURSE_ID) as gb:
        assert gb.find_submission(LESSON, "learner1").score == expected
        assert gb.find_submission(LESSON, "learner2").score == 0

    release = hub.readme_as_grader(
        f"nbgrader release_feedback {LESSON} --CourseDirectory.root=grading-out/course"
    )
    assert release.returncode == 0, release.stderr[-3000:]
    released = hub.as_grader("sh", "-c", f"ls {hub.exchange / 'feedback'}")
    assert len(released.stdout.split()) == 2, released

    out = browser_thread.run(step_instructor, hub)
    # The instructor takes the course too, and grades it from the course service.
    assert out["menu"] == ["Assignment List", "Course List"], out["menu"]
    assert COURSE_ID in out["courses"] and "jupyterhub" in out["courses"], out["courses"]
    assert out["href"].endswith(f"/services/{SERVICE}/lab?formgrader=true"), out["href"]
    assert "learner1" in out["students"] and "learner2" in out["students"]
    state["timings"]["instructor"] = time.monotonic() - started


def test_learner1_fetches_feedback_without_hidden_tests(hub: Hub, browser_thread) -> None:
    out = browser_thread.run(step_feedback, hub)
    assert "feedback available to fetch" in out["available"]
    expected = released_points()[state["dq_da_test"]]
    assert re.search(rf"Score( · 得分)?:\s*{expected:g}(\.0)?\s*/", out["page"]), out["page"][:1500]
    assert "c * p * a ** (p - 1)" in out["page"]
    assert "frame-ancestors 'none'" in out["learner_csp"], out["learner_csp"]
    for shown in (out["page"], out["file"]):
        assert "BEGIN HIDDEN TESTS" not in shown
        assert "hidden=True" not in shown


def released_name(hub: Hub, learner: str) -> str:
    """The name nbgrader gives a learner's feedback in the exchange (from their submission's
    secret, which only they and the grader can read)."""
    from nbgrader.utils import notebook_hash

    graded = hub.course / "grading-out" / "course" / "feedback" / learner / LESSON
    secret = (graded / "submission_secret.txt").read_text()
    return notebook_hash(secret=secret, notebook_id=LESSON)


def test_learner2_cannot_read_learner1s_work(hub: Hub) -> None:
    """Checked as learner2 (su): no listing of the exchange's inbox or feedback, no submission
    or feedback file even by its exact name, nothing in learner1's home."""
    [sub] = [p for p in (hub.exchange / "inbound").iterdir() if p.name.startswith("learner1+")]
    released = {
        learner: hub.exchange / "feedback" / f"{released_name(hub, learner)}.html"
        for learner in ("learner1", "learner2")
    }
    assert all(p.is_file() for p in released.values()), released
    learner1_feedback = sorted(Path("/home/learner1", FETCHED, "feedback").glob("*/*.html"))
    denied = {
        "list the inbox": f"ls {hub.exchange / 'inbound'}",
        "list released feedback": f"ls {hub.exchange / 'feedback'}",
        "read learner1's submission": f"cat '{sub / (LESSON + '.ipynb')}'",
        "read learner1's submission secret": f"cat '{sub / 'submission_secret.txt'}'",
        "read learner1's home": "ls /home/learner1",
        "read learner1's fetched feedback": f"cat '{learner1_feedback[0]}'",
        "read the grader's course folder": f"ls {hub.course}",
        "read learner1's released feedback": f"cat '{released['learner1']}'",
    }
    allowed = {k: hub.as_user("learner2", cmd) for k, cmd in denied.items()}
    leaks = {k: r.stdout[:200] for k, r in allowed.items() if r.returncode == 0}
    assert not leaks, f"learner2 could {sorted(leaks)}"
    for r in allowed.values():
        assert "Permission denied" in r.stderr, r.stderr
    # ...and learner2 still reads their own lesson, their own feedback and what is released.
    mine = hub.as_user(
        "learner2",
        f"cat /home/learner2/{FETCHED}/{LESSON}.ipynb '{released['learner2']}' > /dev/null"
        f" && ls {hub.exchange / 'outbound'}",
    )
    assert mine.returncode == 0 and LESSON in mine.stdout, mine
    (ARTIFACTS / "permissions.json").write_text(
        json.dumps({k: r.stderr.strip() for k, r in allowed.items()}, indent=2), encoding="utf-8"
    )


def test_no_answer_is_within_a_learners_reach(hub: Hub) -> None:
    """The servers run the checkout's Python as the learners; what would answer an exercise
    (solutions, references, tests, git's history) is the grader account's alone, and check()
    asks the checking service instead, which answers nobody without a hub token."""
    import urllib.error
    import urllib.request

    from autograder.lab.hub import check_url

    python = f"{ROOT}/.venv/bin/python"
    denied = {
        "read the solutions": f"cat {ROOT / SOURCE_DIR / LESSON / (LESSON + '.ipynb')}",
        "list the references": f"ls {ROOT / 'course_utils' / 'exercises'}",
        "read the tests": f"cat {ROOT / 'tests' / 'by_hand_corpus.py'}",
        "read git's history": f"ls {ROOT / '.git'}",
    }
    for what, cmd in denied.items():
        r = hub.as_user("learner1", cmd)
        assert r.returncode != 0 and "Permission denied" in r.stderr, (what, r.stdout[:200])
    imported = hub.as_user(
        "learner1", f"{python} -c 'import course_utils.exercises.differentiation'"
    )
    assert imported.returncode != 0 and "Error" in imported.stderr, imported
    # ...while the lessons' own modules still import
    lesson = hub.as_user(
        "learner1", f"{python} -c 'import course_utils.objects, course_utils.plots'"
    )
    assert lesson.returncode == 0, lesson.stderr[-2000:]
    request = urllib.request.Request(
        check_url(hub.settings) + "inputs",
        data=json.dumps({"exercise": "differentiation.grad_a"}).encode(),
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 403
    assert "身份" in json.load(refused.value)["error"]["zh"]
