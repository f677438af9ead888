"""Which nbgrader panels JupyterLab loads for learners, the instructor and the course service,
resolved by jupyterlab_server itself from the configuration folders we write."""

from __future__ import annotations

import json
import os

import pytest

from autograder.lab import setup as labsetup
from autograder.lab.hub import page_config

PANELS = [f"@jupyter/nbgrader:{p}" for p in labsetup.INSTRUCTOR_PANELS]


def disabled(config_path: list[str], monkeypatch) -> set[str]:
    """The panels JupyterLab disables with JUPYTER_CONFIG_PATH = ``config_path``."""
    from jupyterlab_server.config import get_static_page_config

    monkeypatch.setenv("JUPYTER_CONFIG_PATH", os.pathsep.join(config_path))
    found = get_static_page_config(level="all").get("disabledExtensions", {})
    return {name for name, off in found.items() if off and name in PANELS}


def test_learners_lab_hides_the_instructor_panels(tmp_path, monkeypatch) -> None:
    path = labsetup.write_learner_page_config(tmp_path / "env")
    assert disabled([str(tmp_path / "env")], monkeypatch) == set(PANELS)
    # Written again over a file with other settings: those stay.
    data = json.loads(path.read_text())
    data["disabledExtensions"]["some:other"] = True
    path.write_text(json.dumps(data))
    labsetup.write_learner_page_config(tmp_path / "env")
    assert json.loads(path.read_text())["disabledExtensions"]["some:other"] is True


@pytest.mark.parametrize(
    "role, hidden",
    [
        ("learner", set(PANELS)),
        ("instructor", set(PANELS) - {"@jupyter/nbgrader:course-list"}),
        ("service", set()),
    ],
)
def test_each_role_sees_its_panels_over_the_environments_defaults(
    tmp_path, monkeypatch, role, hidden
) -> None:
    """The role's folder comes first on JUPYTER_CONFIG_PATH; it wins over the environment's
    (where `make lab` hides every instructor panel)."""
    env = tmp_path / "env"
    labsetup.write_learner_page_config(env)
    folder = tmp_path / role / "labconfig"
    folder.mkdir(parents=True)
    (folder / "page_config.json").write_text(json.dumps(page_config(role)))
    assert disabled([str(tmp_path / role), str(env)], monkeypatch) == hidden
