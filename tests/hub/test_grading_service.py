"""The hub's grading service, in Chromium: a learner submits through the Assignment List and
Fetch Feedback shows the grade within seconds, with no one collecting or grading by hand; a
lesson whose policy holds feedback until a deadline is graded and nothing is released; a
killed service is started again by JupyterHub and grades nothing twice.

The hub is started with `course hub --policy` (one hub for the module, as in test_hub.py);
times are written to test-artifacts/hub/grading-service.json.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import nbformat
import pytest

from autograder.authoring.samples import grade_id
from autograder.config import COURSE_ID
from autograder.lab.hub import user_processes
from tests.browser.jlab import KERNEL_READY_S, Notebook
from tests.derivatives import RIGHT_DQ_DA
from tests.hub.conftest import ARTIFACTS, Hub
from tests.hub.test_hub import (
    LESSON,
    assignment_list,
    learner_fetches,
    released_points,
    row,
    shot,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HELD = "01_the_whole_game"  # feedback held until a deadline far ahead
DEADLINE = "2099-01-01 00:00:00 UTC"
LEARNER = "learner1"
FEEDBACK_S = 30  # submit to "feedback available" (the goal is under 3 s of grading; test slack)
state: dict = {}


@pytest.fixture(scope="module")
def hub_args(tmp_path_factory) -> list[str]:
    policy = tmp_path_factory.mktemp("policy") / "policy.json"
    policy.write_text(json.dumps({HELD: {"deadline": DEADLINE, "feedback": "at-deadline"}}))
    return ["--policy", str(policy)]


def of(journal: list[dict], kind: str, lesson: str) -> list[dict]:
    return [e for e in journal if e["e"] == kind and f"+{lesson}+" in e["id"]]


def pressed(page, listing: str, lesson: str, label: str, then: str) -> float:
    """Press ``label`` in ``lesson``'s row; return when, once the row is in ``then``."""
    at = time.time()
    row(page, listing, lesson).locator("button", has_text=label).click()
    row(page, then, lesson).wait_for(timeout=120_000)
    return at


def step_submit(browser, hub: Hub) -> dict:
    page, lab = learner_fetches(browser, hub, LEARNER)
    row(page, "released", HELD).wait_for()
    pressed(page, "released", LESSON, "Fetch", "fetched")
    fetched = f"{COURSE_ID}/{LESSON}/{LESSON}.ipynb"
    nb = Notebook.open(lab, page, fetched, wait_kernel=False)
    nb.panel.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').wait_for(
        timeout=KERNEL_READY_S * 1000
    )
    out = {"file_nb": (lab.root / fetched).read_text(encoding="utf-8")}
    cells = nbformat.reads(out["file_nb"], as_version=4).cells
    nb.replace_source([grade_id(c) for c in cells].index("dq_da"), RIGHT_DQ_DA)
    page.keyboard.press("Control+s")
    page.wait_for_function(
        "(id) => !document.querySelector(`.lm-TabBar-tab[data-id='${id}']`).classList.contains('jp-mod-dirty')",
        arg=nb.id,
    )
    assignment_list(page)
    out["submitted"] = pressed(page, "fetched", LESSON, "Submit", "submitted")
    # The learner waits, refreshing the Assignment List, until nbgrader finds the feedback.
    while "feedback available" not in row(page, "submitted", LESSON).inner_text():
        assert time.time() - out["submitted"] < FEEDBACK_S * 4, "no feedback"
        page.wait_for_timeout(250)
        assignment_list(page)
    out["available"] = time.time()
    shot(page, "s1-learner1-feedback-available")
    row(page, "submitted", LESSON).locator("button", has_text="Fetch Feedback").click()
    row(page, "submitted", LESSON).get_by_text("view feedback").wait_for(timeout=60_000)
    home = Path("/home") / LEARNER
    [html] = sorted((home / COURSE_ID / LESSON / "feedback").glob("*/*.html"))
    out["file"] = html.read_text(encoding="utf-8")
    view = page.context.new_page()  # "view feedback" opens a tab of its own
    view.goto(f"{hub.url}/user/{LEARNER}/files/{html.relative_to(home)}")
    view.get_by_text("dq_da").first.wait_for()
    out["page"] = view.locator("body").inner_text()
    shot(view, "s2-learner1-reads-feedback")
    view.close()

    # The lesson whose feedback waits for its deadline: submitted as fetched (blank).
    assignment_list(page)
    pressed(page, "released", HELD, "Fetch", "fetched")
    out["held_submitted"] = pressed(page, "fetched", HELD, "Submit", "submitted")
    state["page"] = page
    return out


def step_held_row(browser, hub: Hub) -> str:
    page = state["page"]
    assignment_list(page)
    shot(page, "s3-learner1-held-lesson")
    return row(page, "submitted", HELD).inner_text()


def test_a_submission_is_graded_and_its_feedback_fetched(hub: Hub, browser_thread) -> None:
    release = hub.as_grader("nbgrader", "release_assignment", LESSON)
    assert release.returncode == 0, release.stderr[-3000:]
    release = hub.as_grader("nbgrader", "release_assignment", HELD)
    assert release.returncode == 0, release.stderr[-3000:]
    ready = hub.settings.grading / "service" / "sources.json"  # the course prepared, warm
    started = time.monotonic()
    while not ready.exists():
        assert time.monotonic() - started < 300, "the grading service did not get ready"
        time.sleep(0.5)
    state["ready_s"] = time.monotonic() - started

    out = browser_thread.run(step_submit, hub)
    journal = hub.wait_for_service(lambda j: of(j, "graded", LESSON))
    [graded] = of(journal, "graded", LESSON)
    [released] = of(journal, "released", LESSON)
    times = {
        "submit_to_released_s": round(released["at"] - out["submitted"], 2),
        "submit_to_feedback_available_s": round(out["available"] - out["submitted"], 2),
        "grading_s": graded["result"]["seconds"],
        "service_ready_after_releases_s": round(state["ready_s"], 1),
    }
    (ARTIFACTS / "grading-service.json").write_text(json.dumps(times, indent=2))
    print(times)
    state.update(out=out, times=times)
    assert times["submit_to_feedback_available_s"] < FEEDBACK_S, times

    ids = [grade_id(c) for c in nbformat.reads(out["file_nb"], as_version=4).cells]
    expected = released_points()[ids[ids.index("dq_da") + 1]]  # dq_da's test cell
    score = graded["result"]["score"]
    assert score == expected, (score, expected)
    assert re.search(rf"Score( · 得分)?:\s*{score:g}(\.0)?\s*/", out["page"]), out["page"][:1500]
    for shown in (out["page"], out["file"]):
        assert "BEGIN HIDDEN TESTS" not in shown
        assert "hidden=True" not in shown

    # The Formgrader's gradebook (the hub's PostgreSQL) has it, written by the service.
    from nbgrader.api import Gradebook

    with Gradebook(hub.settings.db_url, COURSE_ID) as gb:
        assert gb.find_submission(LESSON, LEARNER).score == score


def test_a_deadline_policy_holds_the_feedback_and_keeps_the_grade(hub: Hub, browser_thread) -> None:
    journal = hub.wait_for_service(lambda j: of(j, "held", HELD))
    assert of(journal, "graded", HELD) and not of(journal, "released", HELD), journal[-4:]
    assert "feedback available" not in browser_thread.run(step_held_row, hub)
    # Only the lesson released at once has feedback in the exchange.
    listed = hub.as_grader("ls", str(hub.exchange / "feedback"))
    assert len(listed.stdout.split()) == 1, listed

    from nbgrader.api import Gradebook

    with Gradebook(hub.settings.db_url, COURSE_ID) as gb:
        submission = gb.find_submission(HELD, LEARNER)
        assert submission.score == of(journal, "graded", HELD)[0]["result"]["score"]
        assert submission.total_seconds_late == 0
        assert str(gb.find_assignment(HELD).duedate).startswith("2099")


def serving(hub: Hub) -> list[int]:
    """The grading service's process: `course serve`, run by the hub (its parent) as root, so
    that its kernels are sandboxed."""
    hub_pid = int((Path(hub.settings.state) / "jupyterhub.pid").read_text())
    found = []
    for pid in user_processes(["root"]):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if b"serve" in cmd and parent == hub_pid:
            found.append(pid)
    return found


def test_the_hub_starts_a_killed_service_again(hub: Hub) -> None:
    """JupyterHub polls its managed services (every 30 s) and starts one that exited; the
    journal then lets it go on without grading anything again."""
    [pid] = serving(hub)
    graded = len([e for e in hub.journal() if e["e"] == "graded"])
    ready = hub.settings.grading / "service" / "sources.json"
    killed = time.time()
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 120
    while not (ready.stat().st_mtime > killed and serving(hub)):
        assert time.monotonic() < deadline, "the hub did not start the grading service again"
        time.sleep(0.5)
    [again] = serving(hub)
    assert again != pid
    time.sleep(2)  # room for a second grade, were the journal not kept
    assert len([e for e in hub.journal() if e["e"] == "graded"]) == graded
    log = (Path(hub.settings.state) / "jupyterhub.log").read_text()
    assert "Service course-grading exited with status -9" in log
    state.setdefault("times", {})["restart_s"] = round(time.time() - killed, 1)
    print(state["times"])
