"""What a warm worker skips still gives nbgrader's results: bad metadata is still
refused, and shared gradebook engines never cross a fork or outlive their file."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest
from jsonschema import ValidationError
from nbformat.v4 import new_code_cell, new_notebook
from nbgrader.api import Gradebook
from nbgrader.nbgraderformat import MetadataValidator

from autograder.grading import speedups

speedups.apply()


def nbgrader_cell(**meta) -> dict:
    base = {"grade": True, "solution": False, "locked": True, "points": 1, "schema_version": 3}
    return new_code_cell("pass", metadata={"nbgrader": {**base, **meta}})


def test_the_schema_is_checked_once_and_cells_every_time() -> None:
    good = new_notebook(cells=[nbgrader_cell(grade_id=f"g{i}") for i in range(3)])
    for _ in range(3):
        MetadataValidator().validate_nb(good)
    import nbgrader.nbgraderformat.common as common

    assert len(common.jsonschema._validators) == 1
    with pytest.raises(ValidationError, match="points"):
        MetadataValidator().validate_nb(
            new_notebook(cells=[nbgrader_cell(grade_id="a", points="x")])
        )
    with pytest.raises(ValidationError):
        MetadataValidator().validate_nb(new_notebook(cells=[nbgrader_cell(grade_id=3)]))


def test_gradebooks_share_one_engine_and_closing_one_keeps_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gb.db'}"
    with Gradebook(url, "c") as gb:
        gb.add_student("ada")
        first = gb.engine
    with Gradebook(url, "c") as gb:
        assert gb.engine is first
        assert [s.id for s in gb.students] == ["ada"]
        with Gradebook(url, "c") as inner:
            inner.add_student("bo")
        assert sorted(s.id for s in gb.students) == ["ada", "bo"]


def test_a_gradebook_made_again_at_the_same_path_is_the_new_one(tmp_path: Path) -> None:
    path = tmp_path / "gb.db"
    url = f"sqlite:///{path}"
    with Gradebook(url, "c") as gb:
        gb.add_student("ada")
        old = gb.engine
    with Gradebook(url, "c"):
        pass
    path.unlink()
    with Gradebook(url, "c") as gb:
        assert gb.engine is not old
        assert gb.students == []
    assert path.exists()


def _child_engine(url: str, parent_engine_id: int, queue) -> None:
    with Gradebook(url, "c") as gb:
        queue.put((id(gb.engine) != parent_engine_id, [s.id for s in gb.students]))


def test_a_forked_worker_gets_its_own_engine(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gb.db'}"
    with Gradebook(url, "c") as gb:
        gb.add_student("ada")
    with Gradebook(url, "c") as gb:
        parent = gb.engine
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_engine, args=(url, id(parent), queue))
    child.start()
    own, students = queue.get(timeout=60)
    child.join(60)
    assert child.exitcode == 0
    assert own and students == ["ada"]
    with Gradebook(url, "c") as gb:  # the parent's connection still works
        assert gb.engine is parent
        assert [s.id for s in gb.students] == ["ada"]
