"""Nothing a learner reads is in one language only (docs/BILINGUAL.md, rule 4).

Two views of the same rule: the source (every ``Msg``/``say`` has both texts, Chinese never
stands alone, lessons do not ``print`` sentences) and what the lessons really show: each
solution is executed in the Chinese edition (``COURSE_LANG=zh``) and its output must hold no
English sentence, apart from torch's own messages quoted as ``RuntimeError: …``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from autograder.authoring.bilingual import (
    message_problems,
    messages_tree,
    one_language_lines,
)
from autograder.authoring.release import lessons
from autograder.config import ROOT


def test_course_utils_autograder_and_lessons_have_no_one_language_message(root):
    problems = messages_tree(root)
    assert problems == [], "\n".join(problems)


def test_feedback_notes_and_report_headings_are_bilingual(root):
    """The grader's notes to learners and the report's headings were the review's examples."""
    from autograder.grading.notes import HEADING, MESSAGES

    for key, msg in {**MESSAGES, "heading": HEADING}.items():
        assert msg.en.strip() and msg.zh.strip(), key
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in msg.en), key
        assert any("\u4e00" <= ch <= "\u9fff" for ch in msg.zh), key
    assert message_problems((root / "autograder/grading/export.py").read_text()) == []


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ('Msg("The shape is wrong.")', "without its Chinese text"),
        ('say("Finish Exercise 1 first.")', "without its Chinese text"),
        ('Msg("The shape is wrong.", "The shape is wrong.")', "has no Chinese"),
        ('Msg("形状不对。", "形状不对。")', "Chinese in its English text"),
        ('HEADING = "评分时发现的情况"', "Chinese without its English twin"),
        ('notes.append("按空白笔记本评分")', "Chinese without its English twin"),
        ('print("No disagreement found in 300 random programs.")', "print() of a sentence"),
        ('print(f"{n} of {total} parameter tensors now have a gradient")', "print() of a sentence"),
    ],
)
def test_one_language_messages_are_caught(source, problem):
    problems = message_problems(source)
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize(
    "source",
    [
        'Msg("The shape is wrong.", "形状不对。")',
        'say("Finish Exercise 1 first.", "请先完成练习 1。")',
        'say(Msg("a", "甲").format(n=1))',
        'TITLE = "Grading report · 评分报告"',
        'figures.append(("scores.png", "Score distribution", "各课成绩分布"))',
        'lines_zh.append(f"  下标 {i}：应为 {want}")',
        'print("loss:", loss)',
        'print("requires grad:", t.requires_grad, "| grad_fn:", t.grad_fn)',
    ],
)
def test_bilingual_messages_and_labels_pass(source):
    assert message_problems(source) == []


def test_english_sentences_in_output_are_found():
    output = "\n".join(
        [
            "loss before: 0.2336   after one step: 0.0872",
            "62 of 62 parameter tensors now have a gradient",
            "loss = tensor(0.2336)",  # a label and a value
            "is_leaf: True True False",
            "((<MulBackward0 object at 0x7f51>, 0), (None, 0))",
            "RuntimeError: Trying to backward through the graph a second time (or directly access",
            "saved tensors after they have already been freed). Saved intermediate values of the",
            "走这一步之前的损失：0.2336",
        ]
    )
    assert one_language_lines(output) == [
        "loss before: 0.2336   after one step: 0.0872",
        "62 of 62 parameter tensors now have a gradient",
    ]


@pytest.mark.parametrize("lesson", lessons(ROOT))
def test_the_chinese_edition_of_each_lesson_prints_no_english_sentence(lesson, monkeypatch):
    path = next((ROOT / "solutions" / lesson).glob("*.ipynb"))
    nb = nbformat.read(path, as_version=4)
    monkeypatch.setenv("COURSE_LANG", "zh")
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    found = []
    for i, cell in enumerate(nb.cells):
        # One print can reach nbclient in several stream messages ("RuntimeError:", then the
        # rest): read the cell's stdout whole, as the learner sees it.
        texts = ["".join(o.text for o in cell.get("outputs", []) if o.get("name") == "stdout")]
        for out in cell.get("outputs", []):
            if out.output_type in ("execute_result", "display_data"):
                texts.append(out.get("data", {}).get("text/plain", ""))
            # stderr and errors are Python's and torch's own
        for text in texts:
            found += [f"cell {i}: {line}" for line in one_language_lines(text)]
    assert found == [], f"{lesson} shows English only, in the Chinese edition:\n" + "\n".join(found)


def test_course_check_reports_a_one_language_message(tmp_path):
    """The scan above is also the author's: ``course check`` runs it, not only the tests."""
    for folder in ("course_utils", "autograder", "docs"):
        shutil.copytree(
            ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    for folder in ("solutions", "notebooks"):
        (tmp_path / folder).mkdir()
    command = [sys.executable, "-m", "autograder.cli", "check", "--root", str(tmp_path)]
    clean = subprocess.run(command, capture_output=True, text=True)
    assert clean.returncode == 0 and clean.stdout.strip() == "0 problem(s).", clean.stdout
    extra = tmp_path / "course_utils" / "extra.py"
    extra.write_text('from course_utils.i18n import say\n\nsay("The gradient is not ready yet.")\n')
    found = subprocess.run(command, capture_output=True, text=True)
    assert found.returncode == 1 and "extra.py" in found.stdout, found.stdout
