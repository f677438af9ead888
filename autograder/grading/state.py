"""``course grade``'s state file: what was graded (by digest), so that a second run grades
only what is new or changed and a run killed half-way resumes."""

from __future__ import annotations

import json
import os
from pathlib import Path

STATE_FILE = "state.json"


def load_state(out: Path) -> dict:
    try:
        return json.loads((out / STATE_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def save_state(out: Path, state: dict) -> None:
    """Write the whole state, then rename it over the old one: a reader never sees half."""
    tmp = out / f".{STATE_FILE}.tmp"
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
    os.replace(tmp, out / STATE_FILE)
