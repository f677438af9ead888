"""Prepare the learner's JupyterLab: nbgrader's exchange, quiet defaults, language, a CJK font.

Run by ``make lab`` and ``make setup`` (``python -m autograder.lab.setup``); safe to run again.
``make lab`` then makes or updates the learner's workspace (``course workspace``) and serves
it (``autograder.lab.serve``).

1. ``.exchange/`` exists (nbgrader's exchange lives inside the course, see ``config.py``).
2. nbgrader's JupyterLab panels find the course configuration from any folder: JupyterLab
   serves the learner's workspace (``work/<lang>/``), where there is no
   ``nbgrader_config.py``, and the assignment list would otherwise look for the default exchange
   (``/usr/local/share/nbgrader/exchange``) and report that it "does not exist". A small
   ``nbgrader_config.py`` in this environment's Jupyter config folder points it here.
3. JupyterLab defaults for every learner (``overrides.d/autograd-course.json`` in this
   environment's settings folder): no news pop-up, no update checks, and the interface
   language that ``COURSE_LANG`` asks for (``zh`` -> Chinese; a learner's own choice in
   Settings -> Language still wins).
4. Learners see the learner's side of nbgrader only: Validate (and on a hub the Assignment List), not
   the instructor's Create Assignment, Formgrader or course list
   (``labconfig/page_config.json`` in the environment's Jupyter config folder). The course
   hub's service turns them back on for the grader account (``autograder/lab/hub.py``).
   Studying alone (not on a hub) there is no course to fetch from or submit to, so the
   Assignment List ("No courses found", three empty lists) and the Nbgrader menu that opens it
   are hidden too; Validate stays. ``jupyter_server_config.py`` in the same folder does this
   when the server starts outside JupyterHub (no ``JUPYTERHUB_API_TOKEN``): a server a hub
   spawns, in this environment or in the learner image that ``make setup`` built, keeps them,
   since learners fetch and submit there.
5. Chinese needs a CJK font in the browser, or it shows as boxes. On Linux without one we
   install ``fonts-wqy-microhei`` when we are root with apt-get (once), otherwise say how.
   Matplotlib keeps its own font list: when it predates the font, it is rebuilt so that
   plots get Chinese labels (``course_utils.plots.localized``).
6. The course's own bytecode is written once. Every kernel imports ``course_utils``, and an
   environment that sets ``PYTHONDONTWRITEBYTECODE`` would compile it from source each time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from autograder.config import COURSE_ID, EXCHANGE_DIR, ROOT

OVERRIDES_NAME = "autograd-course.json"
NEWS_PLUGIN = "@jupyterlab/apputils-extension:notification"
LANGUAGE_PLUGIN = "@jupyterlab/translation-extension:plugin"
# COURSE_LANG -> JupyterLab locale (the language pack jupyterlab-language-pack-zh-CN).
LAB_LOCALES = {"zh": "zh_CN", "en": "en"}

NBGRADER_CONFIG = """\
# Written by autograder/lab/setup.py (`make lab`): nbgrader's JupyterLab panels load their
# configuration from the folder JupyterLab serves, which has no nbgrader_config.py. This file
# (in the environment's Jupyter config path) gives them the course's exchange. The course's
# own nbgrader_config.py, read from the working directory, overrides it.
c = get_config()  # noqa: F821
c.Exchange.root = {exchange!r}
c.CourseDirectory.course_id = {course_id!r}
"""

# nbgrader's JupyterLab plugins for instructors (``@jupyter/nbgrader:<name>``).
INSTRUCTOR_PANELS = ("create-assignment", "formgrader", "course-list")

# nbgrader's learner plugins that only a hub gives a use: the Assignment List (fetch, submit) and
# the Nbgrader menu, which would be empty without it. Validate is a plugin of its own and stays.
SELF_STUDY_HIDDEN = ("assignment-list", "menu")
HUB_ENV = ("JUPYTERHUB_API_TOKEN", "JUPYTERHUB_SERVICE_PREFIX")  # set for every server a hub spawns
SELF_STUDY_MARK = "# Written by autograder/lab/setup.py (self-study panels)."
SELF_STUDY_CONFIG = """\
{mark}
# Studying alone (`make lab`) there is no course to fetch from or submit to: nbgrader's Assignment
# List would show "No courses found" and three empty lists. A server started outside JupyterHub
# hides it and the Nbgrader menu; Validate stays. A hub's servers keep them. Delete this file to
# see them everywhere.
import os

SELF_STUDY_HIDDEN = {hidden!r}
HUB_ENV = {hub_env!r}


def _hide_hub_panels(handler, page_config):
    if any(os.environ.get(name) for name in HUB_ENV):
        return page_config
    disabled = page_config.get("disabledExtensions") or []
    if isinstance(disabled, dict):
        disabled = [name for name, off in disabled.items() if off]
    page_config["disabledExtensions"] = [
        *disabled, *(name for name in SELF_STUDY_HIDDEN if name not in disabled)
    ]
    return page_config


c = get_config()  # noqa: F821
# Not under a hub at all: touching tornado_settings there makes it a lazy value, which
# JupyterHub's single-user extension cannot read, and the server never comes up.
if not any(os.environ.get(name) for name in HUB_ENV):
    c.ServerApp.tornado_settings.update({{"page_config_hook": _hide_hub_panels}})
"""

FONT_PACKAGE = "fonts-wqy-microhei"
FONT_STAMP = ".cjk-font-tried"
FONT_NOTICE = (
    "Note: no Chinese (CJK) font was found, so Chinese text in the browser may show as boxes.\n"
    "Install one, e.g. `sudo apt-get install fonts-wqy-microhei` (Debian/Ubuntu) or\n"
    "`sudo dnf install google-noto-sans-cjk-fonts` (Fedora), then reload the page.\n"
    "注意：没有找到中文（CJK）字体，浏览器中的中文可能显示为方框。\n"
    "请安装一个中文字体，例如 `sudo apt-get install fonts-wqy-microhei`（Debian/Ubuntu）或\n"
    "`sudo dnf install google-noto-sans-cjk-fonts`（Fedora），然后刷新页面。"
)


def current_lang() -> str:
    """``COURSE_LANG`` as course_utils.i18n reads it (not imported: it would load torch)."""
    lang = os.environ.get("COURSE_LANG", "both").strip().lower()
    return lang if lang in ("en", "zh", "both") else "both"


def lab_settings_dir(prefix: Path | str = sys.prefix) -> Path:
    """JupyterLab's application settings folder of the environment at ``prefix``."""
    return Path(prefix) / "share" / "jupyter" / "lab" / "settings"


def jupyter_config_dir(prefix: Path | str = sys.prefix) -> Path:
    """The environment's Jupyter config folder (first on ``jupyter_config_path()``)."""
    return Path(prefix) / "etc" / "jupyter"


def lab_overrides(lang: str | None = None) -> dict:
    """The JupyterLab setting defaults every learner gets, for course language ``lang``."""
    lang = lang or current_lang()
    overrides: dict = {NEWS_PLUGIN: {"fetchNews": "false", "checkForUpdates": False}}
    if lang in LAB_LOCALES:
        overrides[LANGUAGE_PLUGIN] = {"locale": LAB_LOCALES[lang]}
    return overrides


def write_lab_overrides(settings_dir: Path, lang: str | None = None) -> Path:
    """Write our own overrides file (``overrides.d/``), leaving ``overrides.json`` to the user."""
    path = settings_dir / "overrides.d" / OVERRIDES_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(lab_overrides(lang), indent=2) + "\n", encoding="utf-8")
    _forget_old_overrides(settings_dir / "overrides.json")
    return path


def _forget_old_overrides(path: Path) -> None:
    """Earlier versions wrote the news settings into overrides.json: take back only those."""
    if not path.is_file():
        return
    try:
        current = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if current.get(NEWS_PLUGIN) == {"fetchNews": "false", "checkForUpdates": False}:
        del current[NEWS_PLUGIN]
        if current:
            path.write_text(json.dumps(current, indent=2) + "\n", encoding="utf-8")
        else:
            path.unlink()


def write_nbgrader_config(config_dir: Path, root: Path = ROOT) -> Path:
    """nbgrader configuration found from any folder: the course's exchange and course id."""
    path = config_dir / "nbgrader_config.py"
    config_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(
        NBGRADER_CONFIG.format(exchange=str(root / EXCHANGE_DIR), course_id=COURSE_ID),
        encoding="utf-8",
    )
    return path


def write_learner_page_config(config_dir: Path) -> Path:
    """Turn off nbgrader's instructor panels in JupyterLab (``labconfig/page_config.json``).

    Other keys of an existing file are kept; a higher folder on ``JUPYTER_CONFIG_PATH`` may turn
    a panel back on with ``false``.
    """
    path = config_dir / "labconfig" / "page_config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        current = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        current = {}
    disabled = current.setdefault("disabledExtensions", {})
    if isinstance(disabled, list):
        disabled = current["disabledExtensions"] = {name: True for name in disabled}
    disabled.update({f"@jupyter/nbgrader:{p}": True for p in INSTRUCTOR_PANELS})
    path.write_text(json.dumps(current, indent=2) + "\n", encoding="utf-8")
    return path


def self_study_hidden() -> tuple[str, ...]:
    """The plugins a server started outside JupyterHub hides (``@jupyter/nbgrader:<name>``)."""
    return tuple(f"@jupyter/nbgrader:{p}" for p in SELF_STUDY_HIDDEN)


def write_self_study_config(config_dir: Path) -> Path | None:
    """``jupyter_server_config.py`` that hides :data:`SELF_STUDY_HIDDEN` outside a hub.

    A file of that name that we did not write is left alone (None is returned).
    """
    path = config_dir / "jupyter_server_config.py"
    if path.is_file() and SELF_STUDY_MARK not in path.read_text(encoding="utf-8"):
        return None
    config_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(
        SELF_STUDY_CONFIG.format(mark=SELF_STUDY_MARK, hidden=self_study_hidden(), hub_env=HUB_ENV),
        encoding="utf-8",
    )
    return path


def cjk_families() -> set[str] | None:
    """Font families with Chinese glyphs, from fontconfig; None when it cannot tell (no fc-list)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    try:
        out = subprocess.run(
            [fc_list, ":lang=zh", "family"], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return {
        name.strip() for line in out.stdout.splitlines() for name in line.split(",") if name.strip()
    }


def has_cjk_font() -> bool | None:
    families = cjk_families()
    return None if families is None else bool(families)


def _install_font() -> bool:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    apt = shutil.which("apt-get")
    print(f"Installing a Chinese font ({FONT_PACKAGE}) · 正在安装中文字体（{FONT_PACKAGE}）…")
    try:
        subprocess.run(
            [apt, "update", "-qq"], env=env, capture_output=True, timeout=600, check=True
        )
        subprocess.run(
            [apt, "install", "-y", "-qq", "--no-install-recommends", FONT_PACKAGE, "fontconfig"],
            env=env,
            capture_output=True,
            timeout=600,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return bool(has_cjk_font())


def refresh_matplotlib_fonts() -> bool:
    """Rebuild matplotlib's cached font list when it predates the installed CJK fonts.

    Returns whether matplotlib knows a CJK font afterwards.
    """
    families = cjk_families()
    if not families:
        return False
    try:
        from matplotlib import font_manager

        def known() -> bool:
            return bool(families & {f.name for f in font_manager.fontManager.ttflist})

        if not known():
            fresh = font_manager._load_fontmanager(try_read_cache=False)  # rewrites the cache
            vars(font_manager.fontManager).update(vars(fresh))
        return known()
    except Exception:  # a private matplotlib API: never let it break `make lab`
        return False


def ensure_cjk_font(stamp_dir: Path | str = sys.prefix, lang: str | None = None) -> str:
    """Make sure Chinese can be rendered; returns what happened (for tests and logs).

    ``"present"``, ``"not needed"`` (English only, or not Linux: macOS and Windows ship
    CJK fonts), ``"installed"``, or ``"notice"`` (we printed how to install one).
    """
    if (lang or current_lang()) == "en" or not sys.platform.startswith("linux"):
        return "not needed"
    if has_cjk_font():
        refresh_matplotlib_fonts()
        return "present"
    stamp = Path(stamp_dir) / FONT_STAMP
    can_install = hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get")
    if can_install and not stamp.exists():
        try:
            stamp.touch()  # once: a failed install is not retried on every `make lab`
        except OSError:
            pass
        if _install_font():
            refresh_matplotlib_fonts()
            return "installed"
    print(FONT_NOTICE, file=sys.stderr)
    return "notice"


PACKAGES = ("course_utils", "autograder")


def compile_bytecode(root: Path = ROOT) -> bool:
    """Write ``__pycache__`` for the course's packages under ``root`` (up-to-date files are
    skipped); False when some could not be written, which only costs speed."""
    import compileall

    folders = [root / name for name in PACKAGES if (root / name).is_dir()]
    return all([compileall.compile_dir(str(f), quiet=2) for f in folders])


def setup(
    prefix: Path | str = sys.prefix, root: Path = ROOT, lang: str | None = None, fonts: bool = True
) -> None:
    """Everything ``make lab`` needs before JupyterLab starts."""
    (root / EXCHANGE_DIR).mkdir(exist_ok=True)
    write_nbgrader_config(jupyter_config_dir(prefix), root)
    write_learner_page_config(jupyter_config_dir(prefix))
    write_self_study_config(jupyter_config_dir(prefix))
    write_lab_overrides(lab_settings_dir(prefix), lang)
    compile_bytecode(root)
    if fonts:
        ensure_cjk_font(prefix, lang)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder.lab.setup", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--no-fonts", action="store_true", help="do not check for (or install) a Chinese font"
    )
    args = parser.parse_args(argv)
    setup(fonts=not args.no_fonts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
