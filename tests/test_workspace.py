"""The learner's workspace (`course workspace`, served by `make lab`) and `make lab`'s output.

The workspace is made from notebooks/ and follows each release without overwriting what the
learner changed; notebooks/ itself is never written. A lesson can be put back to the course's
version, the learner's copy kept in backups/. `make lab` itself runs in Chromium
(tests/browser/test_readme_lab.py); its banner and its quiet log are tested here on their own.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import textwrap

import nbformat
import pytest

from autograder.authoring.edition import BACKUPS_DIR, MANIFEST, build_edition, workspace_dir
from autograder.authoring.release import START_PAGE, lessons
from autograder.authoring.samples import lesson_paths
from autograder.cli import main as course
from autograder.config import RELEASE_DIR, ROOT
from autograder.lab import serve
from tests.test_readme import _digest, editions_lock, run_readme

RELEASED = [lesson for lesson in lessons() if lesson_paths(lesson)[1].is_file()]
LESSON = "02_derivatives" if "02_derivatives" in RELEASED else RELEASED[0]
NOTEBOOK = f"{LESSON}/{LESSON}.ipynb"
NEW_LESSON = "99_new_lesson"
TCP_WARNING = (
    "[IPKernelApp] WARNING | Kernel is running over TCP without encryption. All communication "
    "(including code and outputs) is sent in plain text and is susceptible to eavesdropping."
)


def release_state() -> tuple[str, str]:
    """What git says of notebooks/, and the digest of every file in it."""
    status = subprocess.run(
        ["git", "status", "--porcelain", "--", RELEASE_DIR],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return status, _digest(ROOT / RELEASE_DIR)


def answer(path) -> bytes:
    """A learner's answer in the notebook at ``path``: the first stub replaced."""
    text = path.read_text(encoding="utf-8")
    assert "raise NotImplementedError()" in text, f"{path} has no exercise stub"
    path.write_text(text.replace("raise NotImplementedError()", "return 1", 1), encoding="utf-8")
    return path.read_bytes()


def add_cell(path, text: str) -> None:
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell(text, metadata={"tags": ["lang:en"]}))
    nbformat.write(nb, path)


def test_workspace_follows_a_release_and_keeps_the_learners_work(tmp_path, capsys):
    before = release_state()
    work = tmp_path / "work"
    assert course(["workspace", "--lang", "both", "--dir", str(work)]) == 0
    said = capsys.readouterr().out
    assert "made from the course" in said and "由课程生成" in said
    assert (work / START_PAGE).read_bytes() == (ROOT / RELEASE_DIR / START_PAGE).read_bytes()
    assert (work / MANIFEST).is_file()

    # The learner answers an exercise; the start page they leave alone.
    mine = answer(work / NOTEBOOK)

    # A new release: the start page and the learner's lesson change, and a lesson is added.
    release = tmp_path / "release"
    shutil.copytree(ROOT / RELEASE_DIR, release, ignore=shutil.ignore_patterns(".ipynb_*"))
    add_cell(release / START_PAGE, "A new section of the start page.")
    add_cell(release / NOTEBOOK, "A new section of the lesson.")
    (release / NEW_LESSON).mkdir()
    shutil.copy(release / NOTEBOOK, release / NEW_LESSON / f"{NEW_LESSON}.ipynb")

    assert course(["workspace", "--dir", str(work), "--source", str(release)]) == 0
    said = capsys.readouterr().out
    assert (work / NOTEBOOK).read_bytes() == mine, "the learner's answer was overwritten"
    assert "A new section of the start page." in (work / START_PAGE).read_text(encoding="utf-8")
    assert (work / NEW_LESSON / f"{NEW_LESSON}.ipynb").read_bytes() == (
        release / NEW_LESSON / f"{NEW_LESSON}.ipynb"
    ).read_bytes()
    # The learner is told the course has a newer version of their lesson, and how to take it.
    assert "newer version" in said and "课程更新了你改动过的文件" in said
    assert f"workspace --dir {work} --reset {LESSON}" in said
    assert NOTEBOOK in said.split("newer version")[1]
    assert f"{NEW_LESSON}, {START_PAGE}" in said.split("newer version")[0]

    # Again: nothing new, the learner's work still kept.
    assert course(["workspace", "--dir", str(work), "--source", str(release)]) == 0
    assert (work / NOTEBOOK).read_bytes() == mine
    assert release_state() == before, "notebooks/ changed"


def test_reset_puts_a_lesson_back_and_keeps_a_backup(tmp_path, capsys):
    before = release_state()
    work = tmp_path / "zh"
    assert course(["workspace", "--lang", "zh", "--dir", str(work)]) == 0
    released = (work / NOTEBOOK).read_bytes()
    mine = answer(work / NOTEBOOK)
    other = RELEASED[0] if RELEASED[0] != LESSON else RELEASED[1]
    other_mine = answer(work / other / f"{other}.ipynb")
    (work / LESSON / "notes.txt").write_text("my notes", encoding="utf-8")
    capsys.readouterr()

    assert course(["workspace", "--lang", "zh", "--dir", str(work), "--reset", LESSON]) == 0
    said = capsys.readouterr().out
    assert (work / NOTEBOOK).read_bytes() == released
    [backup] = (work / BACKUPS_DIR).iterdir()
    assert (backup / NOTEBOOK).read_bytes() == mine
    assert f"{backup}/" in said and "你的版本保存在" in said
    # Only that lesson: another lesson's answer and the learner's own files stay.
    assert (work / other / f"{other}.ipynb").read_bytes() == other_mine
    assert (work / LESSON / "notes.txt").read_text(encoding="utf-8") == "my notes"
    # The reset file follows the course again (the manifest knows it as the course's).
    assert build_edition("zh", out=work).kept == [f"{other}/{other}.ipynb"]

    # Nothing to save the second time: no second backup.
    assert course(["workspace", "--lang", "zh", "--dir", str(work), "--reset", LESSON]) == 0
    assert "nothing to back up" in capsys.readouterr().out
    assert len(list((work / BACKUPS_DIR).iterdir())) == 1
    # A lesson the learner deleted comes back (nothing of theirs to save).
    (work / NOTEBOOK).unlink()
    assert course(["workspace", "--lang", "zh", "--dir", str(work), "--reset", LESSON]) == 0
    assert "Back to the course's version" in capsys.readouterr().out
    assert (work / NOTEBOOK).read_bytes() == released
    assert len(list((work / BACKUPS_DIR).iterdir())) == 1

    # A name that is not in the course changes nothing and lists the lessons.
    assert course(["workspace", "--lang", "zh", "--dir", str(work), "--reset", "3_diff"]) == 1
    said = capsys.readouterr().out
    assert "'3_diff' is not part of the course" in said and LESSON in said
    assert course(["workspace", "--dir", str(work), "--reset", "../notebooks"]) == 1
    assert release_state() == before, "notebooks/ changed"


def test_readme_reset_command(tmp_path):
    """The README's reset command, as written, on the checkout's own work/both/ (put back after)."""
    command = ".venv/bin/course workspace --reset 02_derivatives"
    folder = workspace_dir("both")
    saved = tmp_path / "saved"
    with editions_lock():  # `make lab` (tests/browser) serves the same folder
        had_work, had_folder = folder.parent.exists(), folder.exists()
        if had_folder:
            shutil.copytree(folder, saved, symlinks=True)
        try:
            build_edition("both", out=folder)
            lesson = folder / "02_derivatives" / "02_derivatives.ipynb"
            released = nbformat.read(ROOT / RELEASE_DIR / lesson.relative_to(folder), 4)
            add_cell(lesson, "My notes on the lesson.")
            mine = lesson.read_bytes()
            result = run_readme(command)
            assert result.returncode == 0, result.stdout + result.stderr
            assert nbformat.read(lesson, as_version=4) == released
            backups = sorted((folder / BACKUPS_DIR).iterdir())
            assert (backups[-1] / lesson.relative_to(folder)).read_bytes() == mine
            assert "Your version is saved in" in result.stdout
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            if had_folder:
                shutil.copytree(saved, folder, symlinks=True)
            elif not had_work:
                shutil.rmtree(folder.parent, ignore_errors=True)


# -- make lab's output (autograder.lab.serve) -------------------------------------------------

INFO = {"url": "http://localhost:8888/", "port": 8888, "token": "abc123", "sock": ""}


def test_the_banner_says_what_to_open_in_both_languages():
    text = serve.banner(INFO, ROOT / "work" / "zh")
    assert "http://localhost:8888/lab/tree/START_HERE.ipynb?token=abc123" in text
    assert "Open this link in your browser" in text and "请在浏览器中打开这个链接" in text
    assert "work/zh/" in text and "Ctrl-C" in text
    assert len(text.strip().splitlines()) <= 12


def test_the_log_is_quiet_but_keeps_errors_and_prompts():
    lines = [
        TCP_WARNING,
        "[W 2026-01-01 10:00:00.000 ServerApp] No web browser found: Error('could not locate')",
        "[W 2026-01-01 10:00:00.000 ServerApp] Notebook START_HERE.ipynb is not trusted",
        "[IPKernelApp] WARNING | Parent appears to have exited, shutting down.",
        "[E 2026-01-01 10:00:00.000 ServerApp] Uncaught exception GET /api/contents",
        "Traceback (most recent call last):",
    ]
    kept = serve.quiet([line.encode() for line in lines]).decode()
    assert kept.splitlines() == lines[4:]

    out = serve.Output(io.BytesIO())
    source = "\n".join([TCP_WARNING, "[E] a real error", "Shut down this Jupyter server (y/[n])? "])
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import sys, time; sys.stdout.write({source!r}); sys.stdout.flush(); time.sleep(1)",
        ],
        stdout=subprocess.PIPE,
    )
    serve.relay(reader.stdout, out)
    reader.wait()
    assert (
        out.stream.getvalue().decode()
        == "[E] a real error\nShut down this Jupyter server (y/[n])? "
    )


def test_serve_prints_the_banner_once_the_server_is_up(tmp_path, monkeypatch):
    """serve() with a stand-in for JupyterLab: it says it is up (its jpserver-<pid>.json), its
    kernels warn, it asks a question and ends: noise out, banner in, its exit status back."""
    fake = textwrap.dedent(
        f"""
        import json, os, sys, time
        print({TCP_WARNING!r}, flush=True)
        info = {{"url": "http://localhost:9999/", "port": 9999, "token": os.environ["JUPYTER_TOKEN"],
                "sock": "fake"}}
        path = os.path.join(os.environ["JUPYTER_RUNTIME_DIR"], f"jpserver-{{os.getpid()}}.json")
        with open(path, "w") as f:
            json.dump(info, f)
        time.sleep(1.5)
        print("[E] something went wrong", flush=True)
        sys.exit(3)
        """
    )
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))
    monkeypatch.delenv("JUPYTER_TOKEN", raising=False)
    monkeypatch.setattr(serve, "lab_command", lambda *a, **k: [sys.executable, "-c", fake])
    out = serve.Output(io.BytesIO())
    assert serve.serve(tmp_path, 9999, [], out) == 3
    text = out.stream.getvalue().decode()
    assert "without encryption" not in text
    assert "http://localhost:9999/lab/tree/START_HERE.ipynb?token=" in text
    assert text.index("课程已就绪") < text.index("[E] something went wrong")


@pytest.mark.parametrize("lang", ["both", "zh"])
def test_make_lab_serves_the_workspace_not_notebooks(lang):
    """What `make lab` would run, as make prints it (-n): the workspace, the banner's module."""
    env_lang = "" if lang == "both" else lang
    made = subprocess.run(
        ["make", "-n", "lab", f"COURSE_LANG={env_lang}", "PORT=9"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"course workspace --lang {lang} --dir work/{lang}" in made
    assert f"-m autograder.lab.serve work/{lang} --port 9" in made
    assert "root_dir=notebooks" not in made and "course edition" not in made


def test_a_lesson_renamed_by_a_release_leaves_the_old_folder_as_it_was(tmp_path, capsys):
    """The course was re-cut (issue 26): a learner's work under an old lesson name stays."""
    work = tmp_path / "work"
    assert course(["workspace", "--lang", "both", "--dir", str(work)]) == 0
    old = work / "03_differentiation" / "03_differentiation.ipynb"  # a name the course had
    old.parent.mkdir()
    old.write_text('{"cells": [], "note": "my answers from before the re-cut"}', encoding="utf-8")
    kept = old.read_bytes()
    assert course(["workspace", "--lang", "both", "--dir", str(work)]) == 0
    capsys.readouterr()
    assert old.read_bytes() == kept, "the learner's old lesson was touched"
    assert (work / NOTEBOOK).is_file(), "the new lessons are there beside it"
