"""Prepare the learner's JupyterLab: nbgrader's exchange folder and quiet defaults.

Run by ``make lab`` and ``make setup``; safe to run again.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from autograder.config import EXCHANGE_DIR, ROOT

# JupyterLab settings every learner gets: no news pop-up, no update checks.
OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
}


def main() -> None:
    (ROOT / EXCHANGE_DIR).mkdir(exist_ok=True)
    settings = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings"
    settings.mkdir(parents=True, exist_ok=True)
    path = settings / "overrides.json"
    current = json.loads(path.read_text()) if path.is_file() else {}
    current.update(OVERRIDES)
    path.write_text(json.dumps(current, indent=2) + "\n")


if __name__ == "__main__":
    main()
