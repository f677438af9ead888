"""The grading service's memory: an append-only journal of events, one JSON line each.

Appending one line per event (and ``fsync``) is what lets the service be killed at any
moment: the state is the replay of the lines, a line cut short by a kill is the only thing
lost (the event it was about is done again), and nothing is ever rewritten in place.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

JOURNAL_FILE = "journal.jsonl"

# A submission's life: seen -> (limited) -> started -> graded -> (held) -> released, or
# seen -> rejected (unusable) or superseded (a newer one from the same learner came first).
DONE = ("graded", "rejected", "superseded")


@dataclass
class Submission:
    id: str  # the inbound folder's name: <student>+<assignment>+<timestamp>+<random>
    student: str
    assignment: str
    timestamp: str  # nbgrader's, from the folder's name (UTC)
    seen: float  # wall clock when the service first saw it
    events: list[str] = field(default_factory=list)
    graded: dict | None = None
    started: float | None = None
    released: float | None = None
    limited: bool = False

    @property
    def status(self) -> str:
        for final in ("released", *DONE):
            if final in self.events:
                return final
        return "started" if "started" in self.events else "waiting"


class Journal:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / JOURNAL_FILE
        self.submissions: dict[str, Submission] = {}
        self.rejected: dict[str, str] = {}
        for event in self._read():
            self._apply(event)
        # A kill in the middle of a line leaves it without its newline: end it, so that the
        # next event starts a line of its own (the broken one is skipped on every replay).
        if self.path.exists() and self.path.stat().st_size:
            with self.path.open("rb") as fh:
                fh.seek(-1, os.SEEK_END)
                torn = fh.read(1) != b"\n"
            if torn:
                with self.path.open("ab") as fh:
                    fh.write(b"\n")
        self._fh = self.path.open("a", encoding="utf-8")

    def _read(self) -> Iterator[dict]:
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if isinstance(event, dict) and isinstance(event.get("id"), str):
                    yield event

    def _apply(self, event: dict) -> None:
        kind, sid = event.get("e"), event["id"]
        if kind == "seen":
            self.submissions.setdefault(
                sid,
                Submission(
                    sid, event["student"], event["assignment"], event["timestamp"], event["at"]
                ),
            )
            return
        if kind == "rejected" and sid not in self.submissions:
            self.rejected[sid] = event.get("reason", "")
            return
        sub = self.submissions.get(sid)
        if sub is None:
            return
        if kind == "graded" and "graded" in sub.events:
            return  # never twice: the first one stands
        sub.events.append(kind)
        if kind == "started":
            sub.started = event["at"]
        elif kind == "graded":
            sub.graded = event.get("result", {})
        elif kind == "released":
            sub.released = event["at"]
        elif kind == "limited":
            sub.limited = True

    def append(self, kind: str, sid: str, **data) -> dict:
        event = {"e": kind, "id": sid, "at": time.time(), **data}
        self._fh.write(json.dumps(event, sort_keys=True) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())  # also through a power cut, not only a killed process
        self._apply(event)
        return event

    def known(self, sid: str) -> bool:
        return sid in self.submissions or sid in self.rejected

    def events(self) -> list[dict]:
        return list(self._read())

    def close(self) -> None:
        self._fh.close()
