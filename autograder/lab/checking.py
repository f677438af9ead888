"""The course's checking service on a hub: ``check()`` and Validate ask it, so that no reference,
catalogue of mistakes or solution has to live where a learner's code can read it.

A learner's ``check(id, f)`` on the hub (``course_utils.remote``) asks this service for inputs;
the service draws them from a seed of its own and answers with a one-time ticket and the
inputs, pickled. The learner's kernel calls ``f`` on them, as the grader's harness does
(``course_utils.harness``), and sends back what ``f`` returned, what the runtime watch and the
static view saw, and how the call went. The service judges that with the references, in its own
process, and answers with the same bilingual verdict and hints a local check gives. It keeps the
hint level and the tries of each learner's predictions, and limits how often one learner may ask
(``--per-hour``), so that it is neither an oracle nor a way to starve the others.

It runs as the grader account, beside the course service (``course hub`` starts it), and knows
a learner by the hub token their server holds (``GET /hub/api/user``).

Endpoints, under ``$JUPYTERHUB_SERVICE_PREFIX`` (JSON in, JSON out, ``Authorization: token``):
``POST inputs`` ``{exercise, hidden}``, ``POST verdict`` ``{ticket, outcomes, used, process}``,
``POST help`` ``{exercise}``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass, field

from course_utils.i18n import Msg

PER_HOUR = 240  # checks one learner may ask for in an hour: a notebook's worth, many times over
TICKET_S = 600  # how long inputs stay answerable


@dataclass
class Ticket:
    user: str
    exercise: str
    hidden: bool
    seed: int
    made: float


class Refused(Exception):
    """A request the service answers with an HTTP error and a bilingual reason."""

    def __init__(self, status: int, msg: Msg) -> None:
        super().__init__(msg.en)
        self.status, self.msg = status, msg


@dataclass
class Checker:
    """The service's judgement, without HTTP: see the module docstring."""

    per_hour: int = PER_HOUR
    clock: object = time.monotonic
    tickets: dict[str, Ticket] = field(default_factory=dict)
    failures: dict[tuple[str, str], int] = field(default_factory=dict)
    asked: dict[str, deque] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _exercise(self, exercise_id: object):
        from course_utils.exercises import get

        try:
            return get(str(exercise_id))
        except KeyError:
            raise Refused(
                404,
                Msg(f"✗ No exercise {exercise_id!r}.", f"✗ 没有名为 {exercise_id!r} 的练习。"),
            ) from None

    def _rate(self, user: str) -> None:
        now = self.clock()
        times = self.asked.setdefault(user, deque())
        while times and now - times[0] > 3600:
            times.popleft()
        if len(times) >= self.per_hour:
            wait = int(3600 - (now - times[0])) // 60 + 1
            raise Refused(
                429,
                Msg(
                    f"✗ You have checked {self.per_hour} times in the last hour, the most the "
                    f"course allows; try again in about {wait} minute(s). Meanwhile, work the "
                    "next step out by hand: that is what the checks are for.",
                    f"✗ 你在过去一小时内已经检查了 {self.per_hour} 次，这是课程允许的上限；"
                    f"请大约 {wait} 分钟后再试。在此期间，先用手算把下一步想清楚：检查正是为此而设。",
                ),
            )
        times.append(now)

    def inputs(self, user: str, exercise_id: object, hidden: object) -> dict:
        from course_utils.harness import payload

        # the learner's own member of a variant family: the hub user is their learner id
        exercise = self._exercise(exercise_id).for_learner(user)
        with self.lock:
            self._rate(user)
            now = self.clock()
            for key in [k for k, t in self.tickets.items() if now - t.made > TICKET_S]:
                del self.tickets[key]
            ticket = secrets.token_hex(16)
            seed = secrets.randbits(32)
            self.tickets[ticket] = Ticket(user, exercise.id, hidden is True, seed, now)
        return {
            "ticket": ticket,
            "payload": payload(exercise.inputs(seed, hidden is True)),
            "forbids": sorted(exercise.forbids),
        }

    def verdict(
        self,
        user: str,
        ticket: object,
        outcomes: object,
        used: object,
        process: object,
        names: object = (),
    ) -> dict:
        from course_utils import rules
        from course_utils.exercises import (
            MAX_PREDICTION_CHECKS,
            answers_from_record,
            first_problem_of,
            process_problem,
        )
        from course_utils.harness import clean_names

        with self.lock:
            held = self.tickets.pop(str(ticket), None)
        if held is None or held.user != user:
            raise Refused(
                409,
                Msg(
                    "✗ These answers are for inputs this service did not hand you, or handed "
                    "out too long ago; run the check again.",
                    "✗ 这些答案对应的输入不是本服务发给你的，或者已经发出太久了；请重新运行检查。",
                ),
            )
        exercise = self._exercise(held.exercise).for_learner(user)
        cases = exercise.inputs(held.seed, held.hidden)
        answered = answers_from_record(cases, outcomes)
        if answered is None:
            raise Refused(400, Msg("✗ Incomplete answers.", "✗ 答案不完整。"))
        key = (user, exercise.id)
        tries = self.failures.get(key, 0)
        found = rules.forbidden(
            [tuple(u) for u in used if isinstance(u, list) and len(u) == 2]
            if isinstance(used, list)
            else [],
            exercise.forbids,
        )
        first = first_problem_of(
            exercise,
            answered,
            tries,
            counted=tries < MAX_PREDICTION_CHECKS,
            names=clean_names(names),
            learner=user,
        )
        if found:
            problem: Msg | None = rules.message(exercise.title, found)
            stub = False
        elif first is not None:
            problem, stub = first[0], isinstance(first[1], NotImplementedError)
        else:
            problem, stub = process_problem(exercise, process), False
        if problem is None:
            n = len(cases)
            passed = Msg(
                f"✓ {exercise.title.en}: right on {n} random input(s).",
                f"✓ {exercise.title.zh}：{n} 组随机输入全部正确。",
            )
            return {"passed": True, "message": {"en": passed.en, "zh": passed.zh}}
        if not stub:
            with self.lock:
                self.failures[key] = tries + 1
        return {"passed": False, "message": {"en": problem.en, "zh": problem.zh}}

    def help(self, user: str, exercise_id: object) -> dict:
        from course_utils.exercises import hint_of

        exercise = self._exercise(exercise_id)
        levels = range(1, len(exercise.hints)) if len(exercise.hints) > 1 else [0]
        hints = [hint_of(exercise, level) for level in levels]
        with self.lock:
            key = (user, exercise.id)
            self.failures[key] = max(self.failures.get(key, 0), len(exercise.hints) - 1)
        return {"hints": [{"en": h.en, "zh": h.zh} for h in hints]}


def hub_user(token: str, api_url: str, cache: dict, ttl: float = 60.0) -> str | None:
    """The name of the hub user whose token this is, or None (the hub's ``GET /user``)."""
    now = time.monotonic()
    hit = cache.get(token)
    if hit and now - hit[1] < ttl:
        return hit[0]
    request = urllib.request.Request(
        api_url.rstrip("/") + "/user", headers={"Authorization": f"token {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            name = json.load(response).get("name")
    except (urllib.error.URLError, OSError, ValueError):
        return None
    if isinstance(name, str) and name:
        cache[token] = (name, now)
        return name
    return None


def make_app(checker: Checker, prefix: str, api_url: str):
    import tornado.web

    tokens: dict = {}

    class Handler(tornado.web.RequestHandler):
        def check_xsrf_cookie(self) -> None:  # a token API, no cookies
            return None

        def _user(self) -> str:
            header = self.request.headers.get("Authorization", "")
            token = header.split(" ", 1)[1].strip() if header.lower().startswith("token ") else ""
            name = hub_user(token, api_url, tokens) if token else None
            if name is None:
                raise Refused(
                    403,
                    Msg(
                        "✗ The checking service does not know you: open the course from the hub.",
                        "✗ 检查服务无法确认你的身份：请从 hub 打开课程。",
                    ),
                )
            return name

        def _answer(self, work) -> None:
            try:
                body = json.loads(self.request.body or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("not an object")
                result = work(self._user(), body)
            except Refused as refused:
                self.set_status(refused.status)
                result = {"error": {"en": refused.msg.en, "zh": refused.msg.zh}}
            except ValueError:
                self.set_status(400)
                result = {"error": {"en": "✗ Not JSON.", "zh": "✗ 请求不是 JSON。"}}
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(result))

    class Inputs(Handler):
        def post(self) -> None:
            self._answer(lambda u, b: checker.inputs(u, b.get("exercise"), b.get("hidden")))

    class Verdict(Handler):
        def post(self) -> None:
            self._answer(
                lambda u, b: checker.verdict(
                    u,
                    b.get("ticket"),
                    b.get("outcomes"),
                    b.get("used"),
                    b.get("process"),
                    b.get("names"),
                )
            )

    class Help(Handler):
        def post(self) -> None:
            self._answer(lambda u, b: checker.help(u, b.get("exercise")))

    class Alive(tornado.web.RequestHandler):
        def get(self) -> None:
            self.finish({"ok": True})

    prefix = "/" + prefix.strip("/") + "/"
    return tornado.web.Application(
        [
            (prefix + "inputs", Inputs),
            (prefix + "verdict", Verdict),
            (prefix + "help", Help),
            (prefix.rstrip("/") + "/?", Alive),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    import asyncio

    parser = argparse.ArgumentParser(prog="python -m autograder.lab.checking", description=__doc__)
    parser.add_argument("--ip", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--per-hour", type=int, default=PER_HOUR)
    args = parser.parse_args(argv)
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/course-check/")
    api_url = os.environ.get("JUPYTERHUB_API_URL", "http://127.0.0.1:8081/hub/api")
    from course_utils.exercises import all_exercises

    all_exercises()  # every lesson's references, once, before the first learner asks
    app = make_app(Checker(per_hour=args.per_hour), prefix, api_url)

    async def serve() -> None:
        app.listen(args.port, address=args.ip)
        print(f"course checking service on http://{args.ip}:{args.port}{prefix}", flush=True)
        await asyncio.Event().wait()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
