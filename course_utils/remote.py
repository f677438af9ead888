"""``check()`` on a hub: the course's checking service judges, so no reference lives here.

Where ``COURSE_CHECK_URL`` is set (a hub's servers: ``autograder/lab/hub.py``), ``check`` and
``more_help`` ask that service (``autograder/lab/checking.py``) instead of importing the
references, which a learner's server cannot read there. The service sends inputs; the learner's
function runs here, watched as the grader watches it (``course_utils.harness``); the service
sends back the verdict, the same one a local check gives.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from course_utils.checks import CheckFailure
from course_utils.i18n import Msg, say

CHECK_URL_ENV = "COURSE_CHECK_URL"
TIMEOUT_S = 60


def configured() -> bool:
    return bool(os.environ.get(CHECK_URL_ENV))


def _msg(obj: Any) -> Msg:
    if isinstance(obj, dict) and isinstance(obj.get("en"), str) and isinstance(obj.get("zh"), str):
        return Msg(obj["en"], obj["zh"])
    return Msg(str(obj), str(obj))


def _post(path: str, body: dict) -> dict:
    url = os.environ[CHECK_URL_ENV].rstrip("/") + "/" + path
    token = os.environ.get("JUPYTERHUB_API_TOKEN", "")
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return json.load(response)
    except urllib.error.HTTPError as refused:
        try:
            reason = _msg(json.load(refused).get("error"))
        except (ValueError, AttributeError):
            reason = Msg(f"HTTP {refused.code}", f"HTTP {refused.code}")
        raise CheckFailure(reason) from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise CheckFailure(
            Msg(
                f"✗ The course's checking service did not answer ({error}). Try again in a "
                "minute; if it keeps failing, tell your instructor.",
                f"✗ 课程的检查服务没有响应（{error}）。请过一分钟再试；如果一直失败，请告诉老师。",
            )
        ) from None


def check(exercise_id: str, answer: Callable, *, hidden: bool = False) -> None:
    """:func:`course_utils.exercises.check`, judged by the checking service."""
    from course_utils import rules
    from course_utils.harness import argument_names, encode, same_randomness

    if not callable(answer):
        raise CheckFailure(
            Msg(
                f"✗ Expected a function for {exercise_id}, got {type(answer).__name__}.",
                f"✗ {exercise_id} 应当是一个函数，实际得到 {type(answer).__name__}。",
            )
        )
    asked = _post("inputs", {"exercise": exercise_id, "hidden": hidden})
    cases = pickle.loads(base64.b64decode(asked["payload"]))  # the course's own service
    watch = rules.Watch(asked.get("forbids", []), answer)
    outcomes = []
    for args in cases:
        try:
            with same_randomness():
                outcomes.append(encode(watch.call(answer, args)))
        except Exception as error:  # the learner's code may raise anything
            outcomes.append({"t": "error", "type": type(error).__name__})
            if isinstance(error, NotImplementedError):
                outcomes.extend([outcomes[-1]] * (len(cases) - len(outcomes)))
                break
    used = [*watch.uses, *watch.static_uses(), *rules.notebook_tampering()]
    told = _post(
        "verdict",
        {
            "ticket": asked["ticket"],
            "outcomes": outcomes,
            "used": [list(u) for u in dict.fromkeys(used)],
            "process": watch.observed,
            "names": argument_names(answer),
        },
    )
    message = _msg(told.get("message"))
    if told.get("passed") is True:
        from course_utils import feedback

        feedback.show_right(message)
        return
    raise CheckFailure(message)


def more_help(exercise_id: str) -> None:
    for hint in _post("help", {"exercise": exercise_id}).get("hints", []):
        say(_msg(hint))
