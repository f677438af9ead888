"""Variant exercises: each learner answers their own member of a family, and no one else's.

The family here is a demo (``demo.q``: dQ/da of Q = c·aᵖ − d·b², three members), the way a
lesson declares one (docs/EXERCISES.md): what each member is, for the learner's kernel
(``course_utils.variants.Family``), and each member's reference and mistakes, for the grader
only (``course_utils.exercises.Variant``). The last test grades it through ``course grade``
in a copy of the course that has a demo lesson, as two students who shared one answer.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch

from autograder.config import ROOT
from autograder.grading.harness import request_source
from autograder.grading.preprocessors import verify_outcomes, wrong_verdict
from course_utils import exercises as ex_mod
from course_utils.checks import CheckFailure
from course_utils.exercises import (
    Exercise,
    Variant,
    check,
    diagnose,
    encode,
    first_problem_of,
    get,
)
from course_utils.i18n import Msg
from course_utils.variants import (
    Family,
    describe,
    family,
    learner_for,
    learner_id,
    show,
    variant,
)

# The demo family as a lesson writes it: `FAMILY` in a module a learner's kernel imports
# (course_utils/families.py), `EXERCISE` in the lesson's course_utils/exercises/<module>.py.
FAMILY = """\
from course_utils.variants import Family

COEFFICIENTS = ((3, 3, 1), (2, 4, 5), (5, 2, 4))
DEMO_Q = Family(
    "demo.q",
    tuple(rf"Q = {c}a^{p} - {d}b^2" for c, p, d in COEFFICIENTS),
    params=tuple({"c": c, "p": p, "d": d} for c, p, d in COEFFICIENTS),
)
"""

EXERCISE = """\
import torch

from course_utils.exercises import Exercise, Mistake, Variant, register
from course_utils.families import COEFFICIENTS, DEMO_Q
from course_utils.i18n import Msg


def _member(c: int, p: int, d: int) -> Variant:
    return Variant(
        reference=lambda a: c * p * a ** (p - 1),
        mistakes=(
            Mistake(
                "power_kept",
                lambda a: c * p * a**p,
                Msg("You kept the power: lower it by one.", "你保留了原来的幂：要降一次。"),
            ),
        ),
    )


register(
    Exercise(
        id="demo.grad_a",
        title=Msg("The derivative dQ/da", "导数 dQ/da"),
        make_args=lambda gen: (torch.randn(5, generator=gen, dtype=torch.float64),),
        hints=(Msg("Differentiate your own Q.", "对你自己的 Q 求导。"),),
        family=DEMO_Q,
        variants=tuple(_member(*k) for k in COEFFICIENTS),
        mistakes=(
            Mistake(
                "sign",
                lambda a: -a,
                Msg("A sign slipped.", "符号错了。"),
            ),
        ),
        asks="derive",
        novel="dQ/da of the learner's own Q, which the page does not differentiate",
    )
)
"""


@pytest.fixture(scope="module")
def demo():
    """The demo family and exercise, registered for this module's tests only."""
    scope: dict = {"__name__": "families"}
    exec(compile(FAMILY, "families.py", "exec"), scope)
    # The exercise module as written, its import of the families module answered by `scope`.
    source = EXERCISE.replace("from course_utils.families import COEFFICIENTS, DEMO_Q\n", "")
    exec(compile(source, "variant_demo.py", "exec"), {**scope, "__name__": "variant_demo"})
    yield get("demo.grad_a"), scope["COEFFICIENTS"]
    ex_mod._REGISTRY.pop("demo.grad_a", None)


@pytest.fixture(autouse=True)
def variants_on(monkeypatch):
    for name in ("COURSE_VARIANTS", "COURSE_VARIANT_SEED", "COURSE_LEARNER", "JUPYTERHUB_USER"):
        monkeypatch.delenv(name, raising=False)


def right_for(coefficients, member):
    c, p, _ = coefficients[member]
    return lambda a: c * p * a ** (p - 1)


def test_learner_id_comes_from_course_learner_then_the_hub_then_a_default(monkeypatch):
    assert learner_id() == "learner"
    monkeypatch.setenv("JUPYTERHUB_USER", "hub-ana")
    assert learner_id() == "hub-ana"
    monkeypatch.setenv("COURSE_LEARNER", "graded-ana")
    assert learner_id() == "graded-ana"


def test_members_are_spread_over_learners_and_stable():
    chosen = [variant("demo.q", 3, f"student{i}") for i in range(300)]
    assert chosen == [variant("demo.q", 3, f"student{i}") for i in range(300)]
    assert all(60 < chosen.count(k) < 140 for k in range(3)), chosen
    # Another family shuffles the same learners differently.
    assert chosen != [variant("demo.r", 3, f"student{i}") for i in range(300)]


def test_two_learners_get_different_references(demo):
    exercise, _ = demo
    a, b = learner_for("demo.q", 0, 3), learner_for("demo.q", 1, 3)
    args = exercise.args_for(5, 0)
    ref_a = exercise.for_learner(a).reference(*args)
    ref_b = exercise.for_learner(b).reference(*args)
    assert not torch.allclose(ref_a, ref_b)
    assert exercise.for_learner(a).member == 0 and exercise.for_learner(b).member == 1


@pytest.mark.parametrize("member", [0, 1, 2])
def test_a_right_answer_passes_for_any_learner(demo, member, monkeypatch, capsys):
    _, coefficients = demo
    for i in range(3):
        learner = learner_for("demo.q", member, 3, prefix=f"id{i}-")
        monkeypatch.setenv("COURSE_LEARNER", learner)  # as the grader sets it in a kernel
        check("demo.grad_a", right_for(coefficients, member), hidden=True)
    assert "✓" in capsys.readouterr().out


def test_an_answer_for_another_learner_fails_and_says_why(demo, monkeypatch):
    _, coefficients = demo
    monkeypatch.setenv("COURSE_LEARNER", learner_for("demo.q", 2, 3))
    with pytest.raises(CheckFailure) as info:
        check("demo.grad_a", right_for(coefficients, 0))
    assert "another variant than yours" in info.value.msg.en
    assert "别人的变体" in info.value.msg.zh
    # The learner's own member's mistakes, and the shared ones, are still told apart.
    c, p, _ = coefficients[2]
    for wrong, said in ((lambda a: c * p * a**p, "kept the power"), (lambda a: -a, "sign")):
        with pytest.raises(CheckFailure) as info:
            check("demo.grad_a", wrong)
        assert said in info.value.msg.en and "another variant" not in info.value.msg.en


def test_variants_off_gives_everyone_member_0(demo, monkeypatch):
    exercise, coefficients = demo
    monkeypatch.setenv("COURSE_VARIANTS", "off")
    assert {variant("demo.q", 3, f"s{i}") for i in range(50)} == {0}
    assert {exercise.for_learner(f"s{i}").member for i in range(50)} == {0}
    monkeypatch.setenv("COURSE_LEARNER", "anyone")
    check("demo.grad_a", right_for(coefficients, 0))
    assert "variant" not in describe(family("demo.q")).en  # one function for everyone


def test_a_course_seed_reshuffles_who_gets_which_member(monkeypatch):
    before = [variant("demo.q", 3, f"s{i}") for i in range(60)]
    monkeypatch.setenv("COURSE_VARIANT_SEED", "spring-2027")
    after = [variant("demo.q", 3, f"s{i}") for i in range(60)]
    assert before != after
    assert after == [variant("demo.q", 3, f"s{i}") for i in range(60)]


def test_show_typesets_the_learners_own_function_and_no_answer(demo, monkeypatch):
    _, coefficients = demo
    learner = learner_for("demo.q", 1, 3)
    text = describe("demo.q", learner)
    assert "$$\nQ = 2a^4 - 5b^2\n$$" in text.en and "$$\nQ = 2a^4 - 5b^2\n$$" in text.zh
    assert "Your function" in text.en and "你的函数" in text.zh and learner in text.en
    assert "3a^3" not in text.en and "8a^3" not in text.en + text.zh  # not others', no answer
    assert family("demo.q").params_of(learner) == {"c": 2, "p": 4, "d": 5}
    shown: list[str] = []
    monkeypatch.setattr("IPython.display.display", lambda obj, **kw: shown.append(obj.data))
    for lang in ("en", "zh", "both"):
        monkeypatch.setenv("COURSE_LANG", lang)
        show("demo.q", learner)
        assert shown[-1].count("Q = 2a^4 - 5b^2") == 1  # once, even in both languages
        assert ("你的函数" in shown[-1]) == (lang != "en")
        assert ("Your function" in shown[-1]) == (lang != "zh")


def test_a_family_must_show_as_many_members_as_it_grades(demo):
    shown = Family("demo.two", ("Q = a", "Q = 2a"))
    with pytest.raises(ValueError, match="shows 2 members"):
        Exercise(
            id="demo.bad",
            title=Msg("t", "t"),
            make_args=lambda gen: (torch.zeros(1),),
            hints=(Msg("h", "h"),),
            family=shown,
            variants=(Variant(lambda a: a),),
        )
    with pytest.raises(ValueError, match="two different families"):
        Family("demo.two", ("Q = a", "Q = 3a"))


def test_the_grader_judges_the_students_member(demo):
    """verify_outcomes, wrong_verdict and the request are computed for the student given."""
    exercise, coefficients = demo
    a, b = learner_for("demo.q", 0, 3), learner_for("demo.q", 1, 3)
    cases = exercise.for_learner(a).inputs(11, True)
    made_for_a = [encode(right_for(coefficients, 0)(*copy.deepcopy(c))) for c in cases]
    assert verify_outcomes("demo.grad_a", 11, True, made_for_a, learner=a) is None
    told = verify_outcomes("demo.grad_a", 11, True, made_for_a, learner=b)
    assert told is not None and "another variant than yours" in told.en and b in told.en
    assert wrong_verdict("demo.grad_a", 11, True, made_for_a, learner=b) == (
        "wrong",
        "other-variant",
    )
    source = request_source([("demo.grad_a", "dq_da", True)], 11, ["0" * 32], learner=b)
    assert "demo.grad_a" in source


# --- predictions: how many are wrong, never which --------------------------------------------

PREDICTION = "differentiation.gradcheck_rejects"


def _prediction():
    try:
        return get(PREDICTION)
    except KeyError:
        pytest.skip(f"no {PREDICTION} exercise in this checkout")


def _answer_with_wrong(exercise, wrong: set[str]):
    right = {args[0]: exercise.reference(*args) for args in exercise.all_items()}
    return lambda name: (not right[name]) if name in wrong else right[name]


def test_a_prediction_is_checked_on_all_its_items_every_time():
    exercise = _prediction()
    items = exercise.all_items()
    assert len(items) >= 5
    assert exercise.inputs(1, False) == items == exercise.inputs(2, True)


def test_prediction_feedback_counts_and_never_says_which(monkeypatch):
    """Two answers with the same number of wrong items get the same feedback, word for word,
    in check(), diagnose(), first_problem_of() and the grader's verify_outcomes()."""
    exercise = _prediction()
    names = [args[0] for args in exercise.all_items()]

    def a_misconception(wrong: set[str]) -> bool:  # named, as it explains every answer
        answer = _answer_with_wrong(exercise, wrong)
        return any(
            all(m.answer(n) == answer(n) for n in names) for m in exercise.mistakes if not m.raises
        )

    pairs = [{a, b} for i, a in enumerate(names) for b in names[i + 1 :]]
    wrong_sets = [w for w in pairs if not a_misconception(w)][::7][:3]
    assert len(wrong_sets) == 3
    told: dict[str, set[str]] = {"check": set(), "first": set(), "grader": set(), "diag": set()}
    for wrong in wrong_sets:
        answer = _answer_with_wrong(exercise, wrong)
        for hidden in (False, True):
            monkeypatch.setattr(ex_mod, "_FAILURES", {})  # the same hint tier for each
            with pytest.raises(CheckFailure) as info:
                check(PREDICTION, answer, hidden=hidden)
            told["check"].add(info.value.msg.en + info.value.msg.zh)
        answered = [(args, answer(*args), None) for args in exercise.all_items()]
        first = first_problem_of(exercise, answered, pointer=False)
        told["first"].add(first[0].en + first[0].zh)
        outcomes = [encode(answer(*args)) for args in exercise.inputs(5, True)]
        grader = verify_outcomes(PREDICTION, 5, True, outcomes)
        told["grader"].add(grader.en + grader.zh)
        for args in exercise.all_items():
            said = diagnose(exercise, args, answer(*args), None)
            if said is not None:
                told["diag"].add(said.en + said.zh)
    n = len(names)
    for where, messages in told.items():
        assert len(messages) == 1, (where, messages)
        (message,) = messages
        if where != "diag":
            assert f"2 of the {n} predictions" in message and f"{n} 个预测中有 2 个" in message
        for name in names:  # no candidate is named
            assert f" {name} " not in message and f"'{name}'" not in message


# --- through the real grader ------------------------------------------------------------------

LESSON = "01_variant_demo"


def _demo_lesson() -> nbformat.NotebookNode:
    def meta(**nbgrader):
        return {"nbgrader": {"schema_version": 3, "locked": False, **nbgrader}}

    cells = [
        nbformat.v4.new_markdown_cell("# Demo: your own Q", metadata={"lang": "en"}),
        nbformat.v4.new_code_cell(
            "from course_utils import check\n"
            "from course_utils.variants import family, show\n\n"
            'show("demo.q")\n'
            'mine = family("demo.q").params_of()'
        ),
        nbformat.v4.new_code_cell(
            "def dq_da(a):\n"
            "    ### BEGIN SOLUTION\n"
            '    return mine["c"] * mine["p"] * a ** (mine["p"] - 1)\n'
            "    ### END SOLUTION\n",
            metadata=meta(solution=True, grade=False, grade_id="dq_da"),
        ),
        nbformat.v4.new_code_cell(
            'check("demo.grad_a", dq_da)\n'
            "### BEGIN HIDDEN TESTS\n"
            'check("demo.grad_a", dq_da, hidden=True)\n'
            "### END HIDDEN TESTS\n",
            metadata=meta(solution=False, grade=True, locked=True, points=2, grade_id="dq_tests"),
        ),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def _demo_course(base: Path) -> Path:
    """A copy of the course's code with the demo family, exercise and lesson, and nothing else."""
    root = base / "course"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in ("autograder", "course_utils"):
        shutil.copytree(ROOT / part, root / part, ignore=ignore)
    shutil.copy(ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    for module in (root / "course_utils" / "exercises").glob("*.py"):
        if module.name not in ("__init__.py", "inputs.py"):
            module.unlink()  # the lessons' exercises: not needed here, and slow to import
    (root / "course_utils" / "families.py").write_text(FAMILY)
    (root / "course_utils" / "exercises" / "variant_demo.py").write_text(EXERCISE)
    lesson = root / "solutions" / LESSON
    lesson.mkdir(parents=True)
    nbformat.write(_demo_lesson(), lesson / f"{LESSON}.ipynb")
    return root


def _submission(answer: str) -> nbformat.NotebookNode:
    nb = _demo_lesson()
    nb.cells[2].source = answer
    return nb


@pytest.mark.slow
@pytest.mark.xdist_group("grade")
def test_an_answer_copied_from_another_student_scores_what_a_blank_does(tmp_path):
    from tests.test_nbgrader_e2e import visible_text

    root = _demo_course(tmp_path)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("COURSE_VARIANTS", "COURSE_VARIANT_SEED", "COURSE_LEARNER")
    }
    env["PYTHONPATH"] = str(root)
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import course_utils.families, autograder; print(autograder.__file__)",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )
    assert probe.stdout.strip().startswith(str(root)), probe.stdout + probe.stderr
    ana, ben = learner_for("demo.q", 0, 3, prefix="ana"), learner_for("demo.q", 1, 3, prefix="ben")
    anas_answer = "def dq_da(a):\n    return 9 * a ** 2  # my Q is 3a³ − b²\n"
    students = {
        ana: _submission(anas_answer),  # right for ana
        ben: _submission(anas_answer),  # ana's answer, handed in by ben
        "blank": _submission("def dq_da(a):\n    raise NotImplementedError()\n"),
        "solved": _submission(
            'def dq_da(a):\n    return mine["c"] * mine["p"] * a ** (mine["p"] - 1)\n'
        ),
    }
    submitted = tmp_path / "submitted"
    for student, nb in students.items():
        path = submitted / student / LESSON / f"{LESSON}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder.cli",
            "grade",
            "--quiet",
            str(submitted),
            "--out",
            str(out),
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    import csv

    rows = {r["student_id"]: float(r["score"]) for r in csv.DictReader((out / "grades.csv").open())}
    assert rows == {ana: 2.0, ben: 0.0, "blank": 0.0, "solved": 2.0}, rows
    page = next((out / "feedback" / ben).rglob("*.html")).read_text(encoding="utf-8")
    text = visible_text(page)
    assert "another variant than yours" in text and "别人的变体" in text
    # The kernel worked for the student graded: it showed ben his own function.
    # ben's own Q, drawn as MathML by the page (its TeX, Q = 2a^4 - 5b^2, read as text).
    assert "Q=2a4−5b2" in "".join(text.split()) and ben in text
