"""autograder.lab.setup: what `make lab` prepares before JupyterLab starts."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.config import COURSE_ID
from autograder.lab import setup as labsetup

NEWS = {"fetchNews": "false", "checkForUpdates": False}


def overrides(prefix):
    path = labsetup.lab_settings_dir(prefix) / "overrides.d" / labsetup.OVERRIDES_NAME
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize(("lang", "locale"), [("zh", "zh_CN"), ("en", "en"), ("both", None)])
def test_overrides_quiet_news_and_follow_course_lang(tmp_path, monkeypatch, lang, locale):
    monkeypatch.setenv("COURSE_LANG", lang)
    labsetup.setup(prefix=tmp_path, root=tmp_path, fonts=False)
    got = overrides(tmp_path)
    assert got[labsetup.NEWS_PLUGIN] == NEWS
    assert got.get(labsetup.LANGUAGE_PLUGIN) == (locale and {"locale": locale})
    assert (tmp_path / ".exchange").is_dir()


def test_a_learners_own_overrides_are_left_alone(tmp_path):
    settings = labsetup.lab_settings_dir(tmp_path)
    settings.mkdir(parents=True)
    # what earlier versions of labsetup wrote, plus a setting of the learner's own
    theme = {"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"}}
    (settings / "overrides.json").write_text(json.dumps({labsetup.NEWS_PLUGIN: NEWS, **theme}))
    labsetup.setup(prefix=tmp_path, root=tmp_path, lang="both", fonts=False)
    assert json.loads((settings / "overrides.json").read_text()) == theme
    labsetup.setup(prefix=tmp_path, root=tmp_path, lang="both", fonts=False)  # again: no change
    assert overrides(tmp_path)[labsetup.NEWS_PLUGIN] == NEWS


@pytest.mark.slow
def test_nbgrader_finds_the_exchange_from_a_folder_without_config(tmp_path):
    """The assignment list of nbgrader's JupyterLab extension, run in the served folder."""
    course, config_dir, served = tmp_path / "course", tmp_path / "etc", tmp_path / "notebooks"
    course.mkdir()
    served.mkdir()
    labsetup.write_nbgrader_config(config_dir, root=course)
    code = (
        "import json\n"
        "from nbgrader.server_extensions.assignment_list.handlers import AssignmentList\n"
        f"a = AssignmentList(); a.root_dir = {str(served)!r}\n"
        "print(json.dumps([a.list_assignments(), a.list_courses()]))\n"
    )

    def assignment_list():
        env = {"JUPYTER_CONFIG_PATH": str(config_dir), "PATH": "", "HOME": str(tmp_path)}
        proc = subprocess.run(
            [sys.executable, "-c", code],
            cwd=served,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.splitlines()[-1])

    # Before `make lab` created it, the exchange named by that config is missing ...
    listed, _ = assignment_list()
    assert not listed["success"] and "exchange directory does not exist" in listed["value"]
    # ... afterwards the learner's assignment list works.
    labsetup.setup(prefix=tmp_path / "env", root=course, fonts=False)
    listed, courses = assignment_list()
    assert listed == {"success": True, "value": []}, listed
    assert courses == {"success": True, "value": []}, courses
    text = (config_dir / "nbgrader_config.py").read_text()
    assert str(course / ".exchange") in text and COURSE_ID in text


def test_the_course_bytecode_is_written_where_the_environment_writes_none(tmp_path, monkeypatch):
    """Every kernel imports course_utils: under PYTHONDONTWRITEBYTECODE it compiled the package
    from source at each start, unless setup wrote the bytecode."""
    pkg = tmp_path / "course_utils" / "exercises"
    pkg.mkdir(parents=True)
    sources = [pkg.parent / "__init__.py", pkg / "__init__.py", pkg / "lesson.py"]
    for source in sources:
        source.write_text("ANSWER = 42\n")
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    labsetup.setup(prefix=tmp_path / "env", root=tmp_path, fonts=False)
    cached = [Path(importlib.util.cache_from_source(str(s))) for s in sources]
    assert all(c.is_file() for c in cached), cached
    (pkg / "broken.py").write_text("def (\n")  # a file that cannot compile costs only speed
    written = {c: c.stat().st_mtime_ns for c in cached}
    labsetup.setup(prefix=tmp_path / "env", root=tmp_path, fonts=False)
    assert {c: c.stat().st_mtime_ns for c in cached} == written  # up to date: left alone
    assert labsetup.compile_bytecode(tmp_path) is False


@pytest.fixture
def linux(monkeypatch):
    monkeypatch.setattr(labsetup.sys, "platform", "linux")


def test_font_present_nothing_to_do(linux, monkeypatch, tmp_path):
    monkeypatch.setattr(labsetup, "has_cjk_font", lambda: True)
    monkeypatch.setattr(labsetup, "refresh_matplotlib_fonts", lambda: True)
    monkeypatch.setattr(labsetup, "_install_font", lambda: pytest.fail("must not install"))
    assert labsetup.ensure_cjk_font(tmp_path, lang="both") == "present"
    assert labsetup.ensure_cjk_font(tmp_path, lang="en") == "not needed"


def test_font_missing_as_root_with_apt_installs_once(linux, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(labsetup, "has_cjk_font", lambda: False)
    monkeypatch.setattr(labsetup.os, "geteuid", lambda: 0)
    monkeypatch.setattr(labsetup.shutil, "which", lambda name: f"/usr/bin/{name}")
    calls = []
    monkeypatch.setattr(labsetup, "_install_font", lambda: calls.append(1) or False)
    assert labsetup.ensure_cjk_font(tmp_path, lang="zh") == "notice"  # the install failed
    assert labsetup.ensure_cjk_font(tmp_path, lang="zh") == "notice"  # and is not retried
    assert calls == [1]
    err = capsys.readouterr().err
    assert "fonts-wqy-microhei" in err and "中文字体" in err


def test_font_missing_without_root_prints_a_bilingual_notice(linux, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(labsetup, "has_cjk_font", lambda: False)
    monkeypatch.setattr(labsetup.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(labsetup, "_install_font", lambda: pytest.fail("must not install"))
    assert labsetup.ensure_cjk_font(tmp_path, lang="both") == "notice"
    err = capsys.readouterr().err
    assert (
        "Chinese (CJK) font" in err
        and "方框" in err
        and "apt-get install fonts-wqy-microhei" in err
    )


NO_CJK = not labsetup.has_cjk_font()


@pytest.mark.slow
@pytest.mark.skipif(NO_CJK, reason="no CJK font installed (fonts-wqy-microhei)")
def test_a_stale_matplotlib_font_list_is_rebuilt(tmp_path):
    """Matplotlib's font list cached before the font was installed learns the Chinese fonts."""
    env = {**os.environ, "MPLCONFIGDIR": str(tmp_path)}

    def python(code):
        proc = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    python("import matplotlib.font_manager")  # builds the cache
    [cache] = tmp_path.glob("fontlist-*.json")
    data = json.loads(cache.read_text())
    cjk = labsetup.cjk_families()
    data["ttflist"] = [f for f in data["ttflist"] if f["name"] not in cjk]
    cache.write_text(json.dumps(data))  # as if the font came after the cache
    assert (
        python(
            "from autograder.lab import setup as labsetup; print(labsetup.refresh_matplotlib_fonts())"
        )
        == "True"
    )
    names = {f["name"] for f in json.loads(cache.read_text())["ttflist"]}
    assert names & cjk, "the cached font list on disk knows the Chinese fonts again"


def _self_study_hook(config_dir: Path):
    """The page-config hook that ``jupyter_server_config.py`` gives JupyterLab, as it loads it
    (None where it leaves tornado_settings alone)."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("jupyter_server_config.py", path=str(config_dir)).load_config()
    if "tornado_settings" not in config.ServerApp:
        return None
    settings = config.ServerApp.tornado_settings
    if not isinstance(settings, dict):  # a lazy value: what it adds to the server's settings
        settings = settings.get_value({})
    return settings["page_config_hook"]


@pytest.mark.parametrize("hub", [False, True])
def test_the_assignment_list_is_hidden_when_studying_alone_not_on_a_hub(tmp_path, monkeypatch, hub):
    """`make lab` has no course to fetch from or submit to: no Assignment List, no Nbgrader menu
    (it would be empty), Validate stays. A hub's servers (JUPYTERHUB_API_TOKEN) keep them."""
    for name in labsetup.HUB_ENV:
        monkeypatch.delenv(name, raising=False)
    if hub:
        monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "secret")
    labsetup.setup(prefix=tmp_path / "env", root=tmp_path, fonts=False)
    hook = _self_study_hook(labsetup.jupyter_config_dir(tmp_path / "env"))
    if hub:
        # JupyterHub's single-user extension reads ServerApp.tornado_settings as a dict: a lazy
        # value there (what .update() makes) kept every hub server from starting.
        assert hook is None
        return
    instructor = [f"@jupyter/nbgrader:{p}" for p in labsetup.INSTRUCTOR_PANELS]
    for given in (list(instructor), {name: True for name in instructor}):
        disabled = hook(None, {"disabledExtensions": given})["disabledExtensions"]
        hidden = set(disabled if isinstance(disabled, list) else [k for k, v in given.items() if v])
        expected = set(instructor) | (set() if hub else set(labsetup.self_study_hidden()))
        assert hidden == expected
        assert "@jupyter/nbgrader:validate-assignment" not in hidden


def test_a_jupyter_server_config_of_the_learners_own_is_left_alone(tmp_path):
    config_dir = tmp_path / "etc"
    config_dir.mkdir()
    (config_dir / "jupyter_server_config.py").write_text("c = get_config()\n")
    assert labsetup.write_self_study_config(config_dir) is None
    assert (config_dir / "jupyter_server_config.py").read_text() == "c = get_config()\n"
