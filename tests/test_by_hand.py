"""An exercise that asks for work by hand cannot be answered by autograd or the course's code.

Fast tests: the static inspector on every alias it must see, the runtime record inside the
learner's kernel (check()), and the solutions, which must use nothing their exercises forbid.
Slow tests: for every exercise that forbids something, one submission per forbidden means,
one calling the course's reference and one rebinding the checked name, made from the released
lessons (tests/by_hand_corpus.py), graded by `course grade` (all lessons, one run) and by plain
`nbgrader autograde` with the course's configuration (lessons 4 and 8): each cheated exercise
scores what a blank one scores (0), and the feedback says why in both languages.
"""

from __future__ import annotations

import ast
import copy
import csv
import html
from pathlib import Path

import nbformat
import pytest
import torch

from autograder.authoring.release import lessons
from autograder.authoring.samples import fill, grade_id, lesson_paths, make_course, points, submit
from autograder.grading import notes
from autograder.grading.rules import Submission, checks_in
from course_utils import rules as R
from course_utils.checks import CheckFailure
from course_utils.exercises import AUTOGRAD, all_exercises, check
from tests import by_hand_corpus as corpus
from tests.derivatives import dq_da_for
from tests.test_grade import course_grade
from tests.test_nbgrader_e2e import nbgrader, visible_text

# --- the static inspector -------------------------------------------------------------------

SEEN = {
    "import torch.autograd as ag\ndef f(x): return ag.grad(x, x)": R.AUTOGRAD,
    "from torch import autograd\ndef f(x): return autograd.grad(x, x)": R.AUTOGRAD,
    "from torch.autograd import grad as g\ndef f(x): return g(x, x)": R.AUTOGRAD,
    "def f(x): return getattr(torch, 'autograd').grad(x, x)": R.AUTOGRAD,
    "def f(x): return torch.Tensor.backward(x)": R.AUTOGRAD,
    "def f(x):\n    x.sum().backward()\n    return x.grad": R.AUTOGRAD,
    "import torch.nn as nn\ndef f(x): return nn.modules.module.torch.autograd.grad(x, x)": R.AUTOGRAD,
    "from torch.autograd.functional import jacobian\ndef f(x): return jacobian(g, x)": R.AUTOGRAD,
    "ag = torch.autograd\ndef f(x): return ag.functional.vjp(g, x)": R.AUTOGRAD,
    "def f(x): return torch.autograd.Variable._execution_engine.run_backward(x)": R.AUTOGRAD,
    "def f(x): return __import__('torch.autograd').autograd.grad(x, x)": R.DYNAMIC_CODE,
    "import importlib\ndef f(x): return importlib.import_module('torch.autograd').grad(x, x)": (
        R.AUTOGRAD
    ),
    "def f(x): return exec('y = 1')": R.DYNAMIC_CODE,
    "def f(x): return eval('x * 2')": R.DYNAMIC_CODE,
    "def f(x): return compile('x', 's', 'eval')": R.DYNAMIC_CODE,
    "def f(x): return getattr(torch, 'auto' + 'grad').grad(x, x)": R.DYNAMIC_CODE,
    "import sys\ndef f(x):\n    sys.setprofile(None)\n    return x": R.DYNAMIC_CODE,
    "from course_utils.exercises.capstone import torch_value\ndef f(l, p): return torch_value(l, p)": (
        R.COURSE_REFERENCE
    ),
    "import course_utils.graph as g\ndef f(x): return len(g.walk(x).nodes)": R.COURSE_REFERENCE,
    "from course_utils.exercises import get\ndef f(a): return get('x').reference(a)": (
        R.COURSE_REFERENCE
    ),
    "from torch.func import grad\ndef f(x): return grad(torch.sin)(x)": R.TORCH_FUNC,
    "import functorch\ndef f(x): return functorch.grad(torch.sin)(x)": R.TORCH_FUNC,
    "def f(x): return torch.func.jacrev(torch.sin)(x)": R.TORCH_FUNC,
    "def f(p, lr):\n    o = torch.optim.SGD([p], lr=lr)\n    o.step()": R.OPTIM,
    "from torch import optim\ndef f(p): optim.SGD([p], lr=1).step()": R.OPTIM,
}
CLEAN = [
    "def f(x):\n    with torch.no_grad():\n        return x * 2",
    "def f(x): return torch.autograd.no_grad",
    "def f(a): return 9 * a**2",
    "def f(x, grad): return grad * 2",  # a parameter called grad is not torch.autograd.grad
    "def f(p, g, lr): return p - lr * g",
    "from course_utils import say\ndef f(x):\n    say('a', 'b')\n    return x",
    "def f(W, x, v): return (v @ W) * torch.cos(x)",
]


@pytest.mark.parametrize("source", list(SEEN))
def test_the_inspector_sees_every_alias(source):
    uses = R.find_uses([ast.parse(source)])
    assert SEEN[source] in {means for means, _ in uses}, uses


@pytest.mark.parametrize("source", CLEAN)
def test_the_inspector_leaves_plain_arithmetic_alone(source):
    assert R.find_uses([ast.parse(source)]) == []


def test_a_learner_backward_is_left_to_the_runtime_record():
    # In the capstone the learner writes Value.backward: `loss.backward()` is theirs.
    engine = "class Value:\n    def backward(self): pass\ndef train(v): v.backward()"
    tree = ast.parse(engine)
    assert R.find_uses([tree], learner_backward=R.defines_backward([tree])) == []
    torch_one = "def train(v): torch.Tensor.backward(v)"
    assert R.find_uses([ast.parse(torch_one)], learner_backward=True)


# --- the learner's kernel: check() -----------------------------------------------------------


def _by_backward(a):
    t = a.detach().clone().requires_grad_(True)
    (3 * t**3).sum().backward()
    return t.grad


def _by_grad(a):
    t = a.detach().clone().requires_grad_(True)
    return torch.autograd.grad((3 * t**3).sum(), t)[0]


def _helper(a):
    return torch.func.grad(lambda u: (3 * u**3).sum())(a)


def _through_a_helper(a):
    return _helper(a)


def _by_reference(a):
    from course_utils.exercises import get

    return get("differentiation.grad_a").reference(a)


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (_by_backward, "backward()"),
        (_by_grad, "torch.autograd.grad"),
        (_through_a_helper, "torch.func"),
        (_by_reference, "course_utils.exercises"),
    ],
)
def test_check_refuses_the_means_and_says_so_in_both_languages(answer, said):
    with pytest.raises(CheckFailure) as info:
        check("differentiation.grad_a", answer)
    msg = info.value.msg
    assert said in msg.en and said in msg.zh
    assert "does not count" in msg.en and "不计分" in msg.zh


def test_check_names_backward_as_the_chain_rule_done_for_you():
    with pytest.raises(CheckFailure) as info:
        check("chain_rule.grad_a", _chain_by_backward)
    assert "apply the chain rule yourself" in info.value.msg.en
    assert "链式法则" in info.value.msg.zh


def _chain_by_backward(a):
    t = a.detach().clone().requires_grad_(True)
    ((t**3) ** 2).sum().backward()
    return t.grad


def test_the_reference_inside_check_is_not_counted_against_the_learner():
    # every reference of these exercises runs autograd; only the learner's call is recorded
    check("differentiation.grad_a", dq_da_for(), hidden=True)
    check("chain_rule.grad_a", lambda a: 6 * a**5, hidden=True)


def test_an_exercise_that_forbids_no_means_may_use_autograd():
    # what every exercise forbids: the course's code, code from strings, reaching into the kernel
    assert all_exercises()["forward_backward.descent_step"].forbids == R.EVERY_EXERCISE

    assert all_exercises()["training_step.train"].forbids == R.EVERY_EXERCISE

    def train(model, data, labels, lr, steps):
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        losses = []
        for _ in range(steps):
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(model(data), labels)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        return torch.tensor(losses)

    check("training_step.train", train)


def test_objects_the_exercise_hands_over_may_run_their_own_methods():
    # lesson 6 passes an Expression (course code) for the learner to call
    def count_nodes(expr, x):
        y = expr(x)
        seen, todo = set(), [y.grad_fn]
        while todo:
            node = todo.pop()
            if node is None or node in seen:
                continue
            seen.add(node)
            todo.extend(child for child, _ in node.next_functions)
        return len(seen)

    check("computational_graph.count_nodes", count_nodes, hidden=True)
    with pytest.raises(CheckFailure) as info:
        check("computational_graph.count_nodes", _count_with_the_walker)
    assert "course_utils.graph" in info.value.msg.en


def _count_with_the_walker(expr, x):
    from course_utils.graph import walk

    return len(walk(expr(x)).nodes)


# --- the solutions and the notebooks ----------------------------------------------------------

# lessons being written may not be released yet: `course release --check` is another test's job
LESSONS = [lesson for lesson in lessons() if lesson_paths(lesson)[1].exists()]


@pytest.mark.parametrize("lesson", LESSONS)
def test_solutions_use_nothing_their_exercises_forbid(lesson):
    solution_path, released_path = lesson_paths(lesson)
    solution = nbformat.read(solution_path, as_version=4)
    released = nbformat.read(released_path, as_version=4)
    nb = fill(released, solution)
    code = Submission(nb, released)
    for index, cell in enumerate(nb.cells):
        if not cell.metadata.get("nbgrader", {}).get("grade"):
            continue
        for exercise_id, name, _ in checks_in(cell.source):
            assert not code.rebound(name, index), (exercise_id, name)
            forbids = all_exercises()[exercise_id].forbids
            uses = R.forbidden(
                code.uses(code.answer_code(name, index), all_exercises()[exercise_id]), forbids
            )
            assert uses == [], (exercise_id, uses)


@pytest.mark.parametrize("lesson", LESSONS)
def test_learner_notebooks_import_no_reference_code(lesson):
    released = nbformat.read(lesson_paths(lesson)[1], as_version=4)
    trees = [R.parse(c.source) for c in released.cells if c.cell_type == "code"]
    table = R.aliases_of([t for t in trees if t is not None])
    for name, paths in table.items():
        for path in paths:
            assert not path.startswith("course_utils.graph.walk"), (lesson, name)
            assert "torch_value" not in path and "train_reference" not in path, (lesson, name)
            assert "reference" not in path.rsplit(".", 1)[-1], (lesson, name)


def test_the_capstone_bridge_is_locked():
    released = nbformat.read(lesson_paths("05_build_your_own_autograd")[1], as_version=4)
    bridge = next(c for c in released.cells if "def value_and_grads" in c.source)
    meta = bridge.metadata["nbgrader"]
    assert meta["locked"] and not meta["solution"] and meta["grade_id"] == "bridge"


# --- the corpus, graded end to end ------------------------------------------------------------


def _extra_cases(base: Path) -> dict[str, tuple]:
    """Hand-made cases beside the generated ones: (lesson, expected score, feedback needles)."""
    out = {}
    lesson = "05_build_your_own_autograd"
    solution_path, released_path = lesson_paths(lesson)
    solution = nbformat.read(solution_path, as_version=4)
    released = nbformat.read(released_path, as_version=4)
    total = sum(points(solution).values())
    pts = points(solution)

    # The bridge edited to answer with torch and no Value class at all: the bridge is locked and
    # restored from the release, so the tests call the real one and find no engine.
    nb = fill(released, solution, {"value_class": "class Value:\n    pass\n"})
    for cell in nb.cells:
        if grade_id(cell) == "bridge":
            for name, part in (("value_of", "[:1]"), ("value_and_grads", "")):
                head = f"def {name}(leaves, program, engine=None) -> torch.Tensor:\n"
                assert head in cell.source
                cell.source = cell.source.replace(
                    head, f"{head}    return torch_answer(leaves, program){part}\n"
                )
    out["edited-bridge"] = (lesson, nb, 0.0, [])

    # A rebinding in a learner's own cell between the answer and its test.
    nb = fill(released, solution)
    at = next(i for i, c in enumerate(nb.cells) if grade_id(c) == "train_neuron") + 1
    nb.cells.insert(
        at,
        nbformat.v4.new_code_cell(
            "from course_utils.exercises import capstone as _c\ntrain_neuron = _c.train_reference"
        ),
    )
    out["rebind-extra-cell"] = (lesson, nb, total - pts["train_neuron_tests"], ["rebound"])

    # autograd hidden in a helper that lives in a learner's own cell above the answer.
    lesson = "03_chain_rule"
    solution_path, released_path = lesson_paths(lesson)
    solution = nbformat.read(solution_path, as_version=4)
    released = nbformat.read(released_path, as_version=4)
    total, pts = sum(points(solution).values()), points(solution)
    nb = fill(released, solution, {"sin_square": "def dsin_square(x):\n    return _slope(x)\n"})
    at = next(i for i, c in enumerate(nb.cells) if grade_id(c) == "sin_square")
    nb.cells.insert(
        at,
        nbformat.v4.new_code_cell(
            "from torch import autograd as _ag\n\n\ndef _slope(x):\n"
            "    x = x.detach().clone().requires_grad_(True)\n"
            "    (g,) = _ag.grad(torch.sin(x**2).sum(), x)\n    return g\n"
        ),
    )
    out["helper-in-extra-cell"] = (lesson, nb, total - pts["sin_square_tests"], ["forbidden"])
    return out


def _ids(lesson: str) -> list[str]:
    released = nbformat.read(lesson_paths(lesson)[1], as_version=4)
    return [
        e
        for c in released.cells
        if c.metadata.get("nbgrader", {}).get("grade")
        for e, _, _ in checks_in(c.source)
    ]


CORPUS_LESSONS = [
    lesson for lesson in LESSONS if any(all_exercises()[e].forbids for e in _ids(lesson))
]


class Graded:
    def __init__(self) -> None:
        self.expected: dict[tuple[str, str], float] = {}
        self.cheats: dict[tuple[str, str], list[corpus.Cheat]] = {}
        self.needles: dict[tuple[str, str], list[str]] = {}
        self.scores: dict[tuple[str, str], float] = {}
        self.out: Path | None = None

    def page(self, student: str, lesson: str) -> str:
        name = lesson_paths(lesson)[0].name.replace(".ipynb", ".html")
        return visible_text((self.out / "feedback" / student / lesson / name).read_text("utf-8"))


def write_corpus(folder: Path, only: list[str] | None = None) -> Graded:
    graded = Graded()
    for lesson in only or CORPUS_LESSONS:
        solution_path, released_path = lesson_paths(lesson)
        built = corpus.build(lesson, released_path, solution_path)
        for k, (nb, chosen, expected) in enumerate(corpus.submissions(built)):
            student = f"cheat{k}"
            path = folder / student / lesson / solution_path.name
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, path)
            graded.expected[(student, lesson)] = expected
            graded.cheats[(student, lesson)] = chosen
    return graded


@pytest.fixture(scope="module")
def graded_by_course_grade(tmp_path_factory):
    base = tmp_path_factory.mktemp("by_hand")
    graded = write_corpus(base / "submitted")
    for student, (lesson, nb, expected, needles) in _extra_cases(base).items():
        path = base / "submitted" / student / lesson / lesson_paths(lesson)[0].name
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
        graded.expected[(student, lesson)] = expected
        graded.needles[(student, lesson)] = needles
    proc = course_grade(
        str(base / "submitted"), "--out", str(base / "out"), "--workers", "2", timeout=1500
    )
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    graded.out = base / "out"
    for row in csv.DictReader((base / "out" / "grades.csv").open(encoding="utf-8")):
        graded.scores[(row["student_id"], row["assignment"])] = float(row["score"])
    return graded


def _masked(cheat: corpus.Cheat, cheats: list[corpus.Cheat]) -> bool:
    """Whether a cheat that reaches into the kernel earlier in the notebook zeroed this one's
    test first: the test then says why for that one."""
    order = [grade_id(c) for c in nbformat.read(lesson_paths(cheat.lesson)[1], as_version=4).cells]
    return any(
        c.means in corpus.EVERY_LATER and order.index(c.test_id) < order.index(cheat.test_id)
        for c in cheats
        if c is not cheat
    )


def _assert_scores_and_reasons(graded: Graded) -> None:
    wrong = {
        key: (graded.scores.get(key), want)
        for key, want in graded.expected.items()
        if graded.scores.get(key) != want
    }
    assert not wrong, f"score, expected: {wrong}"
    for (student, lesson), cheats in graded.cheats.items():
        page = html.unescape(graded.page(student, lesson))  # "torch's" is "torch&#x27;s" there
        for cheat in cheats:
            code = corpus.NOTE[cheat.means]
            for lang in ("en", "zh"):
                head = notes.MESSAGES[code].render(lang).split("{detail}")[0]
                assert head in page, (student, lesson, cheat.exercise, cheat.means, lang)
            assert cheat.test_id in page
            if cheat.means in R.WHY and cheat.means != AUTOGRAD and not _masked(cheat, cheats):
                why = R.WHY[cheat.means]
                assert why.en.split("{what}")[-1][:40] in page, (student, cheat.exercise)
                assert why.zh.split("{what}")[-1][:12] in page, (student, cheat.exercise)
        # the cheats' values were right: only the means cost them the points (but a cheat that
        # imports the references fails in the grading kernel, where they are not importable)
        if not any("course_utils.exercises" in c.source for c in cheats):
            assert "On random input" not in page, (student, lesson)
    for (student, lesson), needles in graded.needles.items():
        page = graded.page(student, lesson)
        for code in needles:
            assert notes.MESSAGES[code].render("zh").split("{detail}")[0] in page, student


@pytest.mark.slow
@pytest.mark.xdist_group("grade")
def test_every_cheat_scores_what_a_blank_answer_scores_with_course_grade(graded_by_course_grade):
    assert len(graded_by_course_grade.cheats) >= len(CORPUS_LESSONS) * 4
    _assert_scores_and_reasons(graded_by_course_grade)


@pytest.mark.slow
@pytest.mark.xdist_group("grade")
def test_every_forbidding_exercise_has_every_cheat(graded_by_course_grade):
    made = {(c.exercise, c.means) for cs in graded_by_course_grade.cheats.values() for c in cs}
    for lesson in CORPUS_LESSONS:
        for exercise_id in dict.fromkeys(_ids(lesson)):
            forbids = all_exercises()[exercise_id].forbids
            for means in [*forbids, corpus.REBINDING] if forbids else []:
                assert (exercise_id, means) in made, (exercise_id, means)


@pytest.mark.slow
@pytest.mark.xdist_group("grade")
def test_plain_nbgrader_autograde_applies_the_same_rules(tmp_path):
    chosen = ["03_chain_rule", "05_build_your_own_autograd"]
    course = make_course(tmp_path / "course", chosen)
    for lesson in chosen:
        nbgrader(course, "generate_assignment", lesson, "--force")
    graded = write_corpus(tmp_path / "scratch", chosen)
    for (student, lesson), _ in graded.cheats.items():
        nb = nbformat.read(
            tmp_path / "scratch" / student / lesson / lesson_paths(lesson)[0].name, as_version=4
        )
        submit(course, student, lesson, copy.deepcopy(nb), lesson_paths(lesson)[0].name)
    for lesson in chosen:
        nbgrader(course, "autograde", lesson, "--create")
        nbgrader(course, "generate_feedback", lesson)
    nbgrader(course, "export", "--to", str(tmp_path / "grades.csv"))
    for row in csv.DictReader((tmp_path / "grades.csv").open(encoding="utf-8")):
        key = (row["student_id"], row["assignment"])
        if key in graded.expected:
            graded.scores[key] = float(row["score"])
    graded.out = course
    _assert_scores_and_reasons(graded)


def test_imports_inside_the_answer_are_not_dynamic_code():
    def dsin_square(x):
        from math import pi  # noqa: F401  (a plain import runs importlib's own helpers)

        import torch as t

        return t.cos(x**2) * 2 * x

    check("chain_rule.sin_square", dsin_square, hidden=True)


def test_torch_func_runs_unchanged_and_is_named():
    def dsin_square(x):
        return torch.vmap(torch.func.grad(lambda u: torch.sin(u**2)))(x)

    with pytest.raises(CheckFailure) as info:
        check("chain_rule.sin_square", dsin_square)
    assert "torch.func" in info.value.msg.en and "RuntimeError" not in info.value.msg.en
