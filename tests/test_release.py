import shutil
import subprocess
import sys

import nbformat
import pytest

from autograder.authoring.release import ReleaseError, differences, lessons, release


def test_notebooks_are_in_sync_with_solutions(root):
    proc = subprocess.run(
        [sys.executable, "-m", "autograder.cli", "release", "--check"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_check_names_the_notebook_that_drifted(root, tmp_path):
    for folder in ("solutions", "notebooks", "docs"):
        shutil.copytree(root / folder, tmp_path / folder)
    lesson = lessons(tmp_path)[0]
    learner = next((tmp_path / "notebooks" / lesson).glob("*.ipynb"))
    nb = nbformat.read(learner, as_version=4)
    nb.cells[0].source += "\nedited by hand"
    nbformat.write(nb, learner)
    (tmp_path / "notebooks" / "stray.ipynb").write_text("{}")

    diff = release(check=True, root=tmp_path)
    assert f"differs: {learner.relative_to(tmp_path / 'notebooks')}" in diff
    assert "stale (not in solutions/): stray.ipynb" in diff

    release(root=tmp_path)
    assert release(check=True, root=tmp_path) == []
    assert differences(tmp_path / "notebooks", root / "notebooks") == []


def test_an_unreadable_source_is_named_and_notebooks_are_kept(root, tmp_path):
    for folder in ("solutions", "notebooks", "docs"):
        shutil.copytree(root / folder, tmp_path / folder)
    lesson = lessons(tmp_path)[0]
    broken = next((tmp_path / "solutions" / lesson).glob("*.ipynb"))
    broken.write_text('{"cells": [', encoding="utf-8")
    with pytest.raises(ReleaseError, match=f"solutions/{lesson}/{broken.name} is not a notebook"):
        release(root=tmp_path)
    assert differences(tmp_path / "notebooks", root / "notebooks") == []


def test_learner_version_has_stubs_and_no_hidden_tests(root):
    for nb_path in (root / "notebooks").rglob("*.ipynb"):
        text = nb_path.read_text(encoding="utf-8")
        assert "BEGIN HIDDEN TESTS" not in text and "hidden=True" not in text, nb_path
        assert "### BEGIN SOLUTION" not in text, nb_path
        nb = nbformat.read(nb_path, as_version=4)
        assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), nb_path


def test_start_page_links_every_lesson_in_both_languages(root):
    nb = nbformat.read(root / "notebooks" / "START_HERE.ipynb", as_version=4)
    en, zh = nb.cells[0].source, nb.cells[1].source
    for lesson in lessons(root):
        assert f"]({lesson}/" in en and f"]({lesson}/" in zh
    assert "Validate" in en and "Validate" in zh
