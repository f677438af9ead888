"""``course release``: regenerate the learner notebooks (notebooks/) from solutions/.

nbgrader's generate_assignment does the work (solutions cleared to stubs, hidden tests
removed, cells locked, checksums); this module runs it for every lesson into a
scratch folder, adds the start page, and then either replaces notebooks/ or, with
``--check``, reports which files differ.
"""

from __future__ import annotations

import filecmp
import json
import logging
import shutil
import tempfile
from pathlib import Path

import nbformat
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory

from autograder.authoring import cells, course_map
from autograder.config import RELEASE_DIR, ROOT, SOURCE_DIR, course_config, ensure_tools_on_path

START_PAGE = "START_HERE.ipynb"


def lessons(root: Path = ROOT) -> list[str]:
    """Lesson (assignment) names in course order: the folders of solutions/ with a notebook."""
    src = root / SOURCE_DIR
    return sorted(p.name for p in src.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def _titles(nb_path: Path) -> tuple[str, str]:
    """The first English and Chinese headings of a lesson."""
    nb = nbformat.read(nb_path, as_version=4)
    found = {}
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        tags = cell.metadata.get("tags", [])
        for line in cell.source.splitlines():
            if line.startswith("# "):
                for lang in ("en", "zh"):
                    if f"lang:{lang}" in tags:
                        found.setdefault(lang, line[2:].strip())
                break
        if len(found) == 2:
            break
    return found.get("en", nb_path.stem), found.get("zh", nb_path.stem)


def lesson_infos(root: Path = ROOT) -> list[course_map.LessonInfo]:
    """What the course map says about every lesson, in course order."""
    return [
        course_map.lesson_info(nb_path)
        for lesson in lessons(root)
        for nb_path in sorted((root / SOURCE_DIR / lesson).glob("*.ipynb"))
    ]


def start_page(root: Path = ROOT) -> nbformat.NotebookNode:
    """The landing page of the learner's JupyterLab: the course map in both languages."""
    infos = lesson_infos(root)
    en = (
        "# Learning torch.autograd\n\n"
        "Welcome! This course explains how PyTorch computes gradients, from one forward and "
        "backward pass to building your own automatic differentiation engine and checking, "
        "extending and debugging it. Work through the lessons in order.\n\n"
        + course_map.intro(infos, "en")
        + "\n\n**How to work.** Read, run each cell with Shift+Enter, and fill in the cells "
        "that say `YOUR CODE HERE`. The test cell under each exercise tells you what is "
        "wrong and gives a hint. When you are done, press **Validate** in the notebook "
        "toolbar: it runs the whole notebook and reports every test at once.\n\n"
        "**Language.** The lessons and the feedback come in English and Chinese. For one "
        "language only, if you started the course with `make lab`: stop JupyterLab (press "
        "Ctrl-C twice in its terminal) and start it again with `COURSE_LANG=en make lab` for "
        "English, `COURSE_LANG=zh make lab` for Chinese, or `COURSE_LANG=both make lab` for both."
    )
    zh = (
        "# 学习 torch.autograd\n\n"
        "欢迎！这门课讲解 PyTorch 如何计算梯度：从一次前向传播和反向传播讲起，"
        "一直到亲手实现一个自动微分引擎，并学会检验、扩展和调试它。请按顺序学习。\n\n"
        + course_map.intro(infos, "zh")
        + "\n\n**学习方法。** 边读边用 Shift+Enter 运行每个单元格，并在标有 `YOUR CODE HERE` "
        "的单元格里写代码。每道练习下面的测试单元格会指出哪里不对，并给出提示。"
        "全部完成后，点击笔记本工具栏上的 **Validate**：它会从头运行整个笔记本，一次报告所有测试结果。\n\n"
        "**语言。** 课程内容和反馈都是中英双语的。若只想看一种语言，并且课程是用 `make lab` "
        "启动的，就先关闭 JupyterLab（在它的终端里连按两次 Ctrl-C），再用相应的命令重新启动："
        "只看中文用 `COURSE_LANG=zh make lab`，只看英文用 `COURSE_LANG=en make lab`，"
        "中英文都看用 `COURSE_LANG=both make lab`。"
    )
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(en, metadata={"tags": ["lang:en"]}),
        nbformat.v4.new_markdown_cell(zh, metadata={"tags": ["lang:zh"]}),
    ]
    for i, cell in enumerate(nb.cells):
        cell.id = f"start-{i}"
    return nb


def lab_metadata() -> dict:
    """The notebook metadata JupyterLab writes once the course's kernel is up.

    Released notebooks carry it already, so opening one (or pressing Validate, which saves)
    neither marks it as changed nor leaves a diff: JupyterLab copies the kernel's
    ``language_info`` into the notebook, and any difference counts as an edit.
    """
    from ipykernel.ipkernel import IPythonKernel
    from ipykernel.kernelspec import get_kernel_dict

    spec = get_kernel_dict()
    return {
        "kernelspec": {
            "display_name": spec["display_name"],
            "language": spec["language"],
            "name": "python3",
        },
        "language_info": dict(IPythonKernel.language_info),
    }


class ReleaseError(RuntimeError):
    """A source that cannot become a learner notebook; notebooks/ is left as it was."""


def readable_sources(lesson: str, root: Path = ROOT) -> None:
    """Name the source notebook nbformat cannot read, before nbgrader's traceback would."""
    for path in sorted((root / SOURCE_DIR / lesson).glob("*.ipynb")):
        try:
            cells.read(path, path.relative_to(root))
        except cells.UnreadableNotebook as exc:
            raise ReleaseError(str(exc)) from None


def build(out: Path, root: Path = ROOT) -> None:
    """Generate every learner notebook, and the start page, into ``out``."""
    ensure_tools_on_path()
    config = course_config(root)
    config.CourseDirectory.release_directory = str(out)
    # nbgrader 0.9.6 still runs SaveCells with no_database: give it a throwaway gradebook.
    config.CourseDirectory.db_url = f"sqlite:///{out.parent / 'release-gradebook.db'}"
    config.GenerateAssignment.force = True
    coursedir = CourseDirectory(config=config)
    api = NbGraderAPI(coursedir=coursedir, config=config)
    api.log.setLevel(logging.ERROR)
    for lesson in lessons(root):
        readable_sources(lesson, root)
        result = api.generate_assignment(lesson, force=True, create=True)
        if not result["success"]:
            raise ReleaseError(
                f"nbgrader could not release {lesson}:\n{result['log']}\n{result.get('error', '')}"
            )
    nbformat.write(start_page(root), out / START_PAGE)
    metadata = lab_metadata()
    for path in sorted(out.rglob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        nb.metadata.update(metadata)
        nbformat.write(nb, path)


def _files(folder: Path) -> set[str]:
    return {
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file() and ".ipynb_checkpoints" not in p.parts and "__pycache__" not in p.parts
    }


def _same(a: Path, b: Path) -> bool:
    """Equal files; notebooks may differ in the Python patch version that released them."""
    if filecmp.cmp(a, b, shallow=False):
        return True
    if a.suffix != ".ipynb":
        return False
    try:
        nbs = [json.loads(p.read_text(encoding="utf-8")) for p in (a, b)]
    except (OSError, ValueError):
        return False
    for nb in nbs:
        nb.get("metadata", {}).get("language_info", {}).pop("version", None)
    return nbs[0] == nbs[1]


def differences(fresh: Path, current: Path) -> list[str]:
    """Relative paths that are missing, extra or different in ``current``."""
    new, old = _files(fresh), _files(current) if current.exists() else set()
    diff = [f"missing: {p}" for p in sorted(new - old)]
    diff += [f"stale (not in solutions/): {p}" for p in sorted(old - new)]
    diff += [f"differs: {p}" for p in sorted(new & old) if not _same(fresh / p, current / p)]
    return diff


def release(check: bool = False, root: Path = ROOT) -> list[str]:
    """Regenerate notebooks/ (or only compare, with ``check``); return the differences."""
    target = root / RELEASE_DIR
    with tempfile.TemporaryDirectory(prefix="course-release-") as tmp:
        fresh = Path(tmp) / "release"
        fresh.mkdir()
        build(fresh, root)
        diff = differences(fresh, target)
        if not check and diff:
            staging = root / f".{RELEASE_DIR}.new"
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(fresh, staging)
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
    return diff
