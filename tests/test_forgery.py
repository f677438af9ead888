"""A grade that cannot be forged: the routes a determined student tried, rebuilt on every lesson.

Each route is a submission graded by `course grade` (one run for all of them):

- ``forged-check``: every answer left blank, and a first cell that replaces ``check`` with one
  that displays the course's reference answers as the grader's record (the route that scored
  67 of 67): the references are not importable in a grading kernel, the test cells' ``check``
  is never called, and the cell reaches for the grader's code;
- ``oracle``: answers computed from the grader's seed and the references, read in a first cell;
- ``fake-record``: every answer displays a record of the grader's kind, with a guessed token;
- ``honest``: the lesson's own answers with what a learner adds while working (a debugging
  ``print`` in every answer, a helper cell, comments): full marks;

and, where the lesson asks for a derivative, ``finite-difference``: a real central difference
in float64 (lesson 3), which the tolerances forgive and the rules do not. The masking tricks
and the lazy families, one per exercise, are tests/by_hand_corpus.py's. Each forged route scores
what a blank scores, and its feedback names the reason in both languages.
"""

from __future__ import annotations

import ast
import copy
import csv
from pathlib import Path

import nbformat
import pytest

from autograder.authoring.samples import fill, grade_id, lesson_paths, points, solved_source
from autograder.grading import notes
from autograder.grading.rules import checks_in
from course_utils import rules as R
from course_utils.checks import CheckFailure
from course_utils.exercises import ANSWER_MIME, check
from tests.derivatives import right_dq_da
from tests.test_by_hand import LESSONS
from tests.test_grade import course_grade
from tests.test_nbgrader_e2e import visible_text

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("grade")]

FORGED_CHECK = """\
from IPython.display import display
from course_utils.exercises import get as _get, encode as _encode, ANSWER_MIME as _MIME
import os as _os


def check(exercise_id, answer, hidden=False):
    seed = int(_os.environ.get("COURSE_GRADER_SEED", "0"))
    ex = _get(exercise_id)
    outcomes = [_encode(ex.reference(*args)) for args in ex.inputs(seed, hidden)]
    record = {"exercise": exercise_id, "seed": seed, "hidden": hidden, "outcomes": outcomes}
    display({_MIME: record, "text/plain": "ok"}, raw=True)
"""

ORACLE = """\
import os
from course_utils.exercises import get as _get

SEED = int(os.environ.get("COURSE_GRADER_SEED", "0"))


def oracle(exercise_id, *args):
    return _get(exercise_id).reference(*args)
"""


def _released_and_solution(lesson: str):
    solution_path, released_path = lesson_paths(lesson)
    return (
        nbformat.read(released_path, as_version=4),
        nbformat.read(solution_path, as_version=4),
        solution_path.name,
    )


def _tested(released) -> list[tuple[str, str, str]]:
    """(answer cell, exercise id, checked name) for each test, in the lesson's order."""
    out, answer = [], None
    for cell in released.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            answer = grade_id(cell)
        if meta.get("grade"):
            for exercise_id, name, _ in dict.fromkeys(checks_in(cell.source)):
                out.append((answer, exercise_id, name))
    return out


def _first_code(nb) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")


def _functions_named(source: str, names: set[str]) -> list[ast.FunctionDef]:
    return [n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name in names]


def _with_body(source: str, names: set[str], make) -> str:
    """``source`` with ``make(fn)`` lines first in the body of each function in ``names``."""
    lines = source.splitlines()
    for fn in sorted(_functions_named(source, names), key=lambda f: -f.lineno):
        first = fn.body[0]
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            first = fn.body[1] if len(fn.body) > 1 else first  # after the docstring
        indent = " " * first.col_offset
        block = [indent + line for line in make(fn).splitlines()]
        lines[first.lineno - 1 : first.lineno - 1] = block
    return "\n".join(lines) + "\n"


def forged_check(lesson: str):
    released, _, _ = _released_and_solution(lesson)
    nb = copy.deepcopy(released)
    nb.cells.insert(_first_code(nb) + 1, nbformat.v4.new_code_cell(FORGED_CHECK))
    return nb


def oracle(lesson: str):
    released, solution, _ = _released_and_solution(lesson)
    answers = {}
    for answer, exercise_id, name in _tested(released):
        answers[answer] = answers.get(answer, "") + (
            f"def {name}(*args):\n    return oracle({exercise_id!r}, *args)\n\n"
        )
    nb = fill(released, solution, answers)
    nb.cells.insert(_first_code(nb) + 1, nbformat.v4.new_code_cell(ORACLE))
    return nb


def fake_record(lesson: str):
    released, solution, _ = _released_and_solution(lesson)
    answers = {}
    for answer, exercise_id, name in _tested(released):
        answers[answer] = answers.get(answer, "") + (
            f"def {name}(*args):\n"
            f"    display({{{ANSWER_MIME!r}: {{'exercise': {exercise_id!r}, 'token': '0' * 32, "
            f"'outcomes': [], 'used': []}}}}, raw=True)\n"
            f"    raise NotImplementedError()\n\n"
        )
    return fill(released, solution, answers)


def honest(lesson: str):
    """The lesson's answers as a learner leaves them: prints, a helper, comments."""
    released, solution, _ = _released_and_solution(lesson)
    names = {name for _, _, name in _tested(released)}
    solved = {grade_id(c): solved_source(c.source) for c in solution.cells if grade_id(c)}
    answers = {}
    for cell in released.cells:
        gid = grade_id(cell)
        if not cell.metadata.get("nbgrader", {}).get("solution"):
            continue
        source = solved[gid]

        def debug(fn: ast.FunctionDef) -> str:
            first = fn.args.args[0].arg if fn.args.args else None
            shown = f"print('checking', {first})" if first else "print('checking')"
            return f"# my own note: look at the input first\n{shown}\n_seen = my_helper(1)"

        defined = {f.name for f in _functions_named(source, names)}
        answers[gid] = _with_body(source, defined, debug) if defined else source
    nb = fill(released, solution, answers)
    helper = "# a helper of my own\ndef my_helper(n):\n    return n + 1\n\n\nprint(my_helper(1))"
    nb.cells.insert(_first_code(nb) + 1, nbformat.v4.new_code_cell(helper))
    return nb


FINITE_DIFFERENCE = '''\
def dq_da(a: torch.Tensor) -> torch.Tensor:
    """dQ/da by a central difference, in float64."""
    h = 1e-6
    a64 = a.double()
    high, low = 3 * (a64 + h) ** 3, 3 * (a64 - h) ** 3
    return ((high - low) / (2 * h)).to(a.dtype)
'''


# The value an exercise asks for, reached another way than the process it asks for.
SUBSTITUTES = {
    "09_finetuning": {
        "evaluate": (
            "evaluate_tests",
            "def evaluate(model, x):\n    model.eval()\n    return model(x).detach()\n",
            R"no graph at all",
        ),
        "finetune_step": (
            "finetune_step_tests",
            "def finetune_step(model, new_head, x, y, lr):\n"
            "    for p in model.parameters():\n"
            "        p.requires_grad_(False)\n"
            "    model[-1] = new_head\n"
            "    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)\n"
            "    for _ in range(2):\n"
            "        optimizer.zero_grad()\n"
            "        nn.functional.cross_entropy(model(x), y).backward()\n"
            "        optimizer.step()\n"
            "    grads = [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)\n"
            "             for p in model.parameters()]\n"
            "    return nn.utils.parameters_to_vector(model.parameters()).detach(), torch.cat(grads)\n",
            "held frozen parameters",
        ),
    },
    "11_autograd_tools": {
        "hvp": (
            "hvp_tests",
            "def hessian_vector_product(f, x, v):\n"
            "    x = x.detach().requires_grad_(True)\n"
            "    (g,) = torch.autograd.grad(f(x), x, create_graph=True)\n"
            "    rows = [torch.autograd.grad(gi, x, retain_graph=True)[0] for gi in g]\n"
            "    return torch.stack(rows) @ v\n",
            "more than twice",
        ),
        "clipped_grad": (
            "clipped_grad_tests",
            "def clipped_grad(x, w, y, c):\n"
            "    h = x @ w\n"
            "    g = (2 * (h - y)).clamp(-c, c)\n"
            "    return x.T @ g\n",
            "registered no hook",
        ),
    },
    "05_build_your_own_autograd": {
        "train_neuron": (
            "train_neuron_tests",
            "def train_neuron(xs, ys, w0, b0, lr, steps):\n"
            "    w, b, losses = w0.clone().double(), float(b0), []\n"
            "    for _ in range(steps):\n"
            "        pred = torch.tanh(xs @ w + b)\n"
            "        err = pred - ys\n"
            "        losses.append(float((err**2).mean()))\n"
            "        g = 2 * err * (1 - pred**2) / len(ys)\n"
            "        w, b = w - lr * (xs.T @ g), b - lr * float(g.sum())\n"
            "    return torch.tensor(losses, dtype=torch.float64)\n",
            "backward() never ran",
        ),
    },
}


class Routes:
    def __init__(self) -> None:
        self.expected: dict[tuple[str, str], float] = {}
        self.reasons: dict[tuple[str, str], list] = {}
        self.scores: dict[tuple[str, str], float] = {}
        self.out: Path | None = None

    def page(self, student: str, lesson: str) -> str:
        name = lesson_paths(lesson)[0].name.replace(".ipynb", ".html")
        return visible_text((self.out / "feedback" / student / lesson / name).read_text("utf-8"))


@pytest.fixture(scope="module")
def routes(tmp_path_factory) -> Routes:
    base = tmp_path_factory.mktemp("forgery")
    made = Routes()

    def add(student: str, lesson: str, nb, expected: float, reasons: list) -> None:
        path = base / "submitted" / student / lesson / lesson_paths(lesson)[0].name
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
        made.expected[(student, lesson)] = expected
        made.reasons[(student, lesson)] = reasons

    for lesson in LESSONS:
        total = sum(points(_released_and_solution(lesson)[1]).values())
        add("forged-check", lesson, forged_check(lesson), 0.0, [R.WHY[R.TAMPER]])
        add("oracle", lesson, oracle(lesson), 0.0, [R.WHY[R.TAMPER]])
        add("fake-record", lesson, fake_record(lesson), 0.0, [])
        add("honest", lesson, honest(lesson), total, [])
    lesson = "02_derivatives"
    released, solution, _ = _released_and_solution(lesson)
    pts = points(solution)
    nb = fill(released, solution, {"dq_da": FINITE_DIFFERENCE})
    add(
        "finite-difference",
        lesson,
        nb,
        sum(pts.values()) - pts["dq_da_tests"],
        [R.WHY[R.FINITE_DIFFERENCES]],
    )
    for lesson, answers in SUBSTITUTES.items():
        released, solution, _ = _released_and_solution(lesson)
        pts = points(solution)
        for answer, (test, source, _why) in answers.items():
            add(
                f"process-{answer}",
                lesson,
                fill(released, solution, {answer: source}),
                sum(pts.values()) - pts[test],
                [],
            )
    proc = course_grade(
        str(base / "submitted"), "--out", str(base / "out"), "--workers", "2", timeout=1500
    )
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    made.out = base / "out"
    for row in csv.DictReader((base / "out" / "grades.csv").open(encoding="utf-8")):
        made.scores[(row["student_id"], row["assignment"])] = float(row["score"])
    return made


def test_each_route_scores_what_its_honest_content_earns(routes):
    wrong = {
        key: (routes.scores.get(key), want)
        for key, want in routes.expected.items()
        if routes.scores.get(key) != want
    }
    assert not wrong, f"(score, expected): {wrong}"


def test_each_forged_route_is_told_why_in_both_languages(routes):
    for (student, lesson), reasons in routes.reasons.items():
        page = routes.page(student, lesson)
        for why in reasons:
            assert why.en.split("{what}")[-1][:40] in page, (student, lesson)
            assert why.zh.split("{what}")[-1][:12] in page, (student, lesson)
        if reasons:
            forbidden = notes.MESSAGES["forbidden"]
            for lang in ("en", "zh"):
                assert forbidden.render(lang).split("{detail}")[0] in page, (student, lesson)


def test_the_grading_kernel_cannot_reach_the_answers(routes):
    """What the forged check and the oracle reached for is not there when the grader runs."""
    for lesson in LESSONS:
        page = routes.page("forged-check", lesson)
        assert "ModuleNotFoundError: import of course_utils.exercises halted" in page, lesson


def test_honest_work_with_prints_helpers_and_comments_keeps_its_points(routes):
    for lesson in LESSONS:
        page = routes.page("honest", lesson)
        assert "checking" in page, lesson  # the learner's own prints are shown
        assert notes.HEADING.en not in page, lesson  # and nothing was noticed


def test_a_value_reached_another_way_than_asked_is_named(routes):
    """No value-only substitute for the process an exercise asks for (Exercise.process)."""
    for lesson, answers in SUBSTITUTES.items():
        for answer, (_test, _source, why) in answers.items():
            page = routes.page(f"process-{answer}", lesson)
            assert why in page, (lesson, answer)


# --- predictions are not oracles ---------------------------------------------------------------


@pytest.mark.usefixtures("course_code_as_learners")
def test_a_prediction_is_told_how_many_are_wrong_never_which():
    from course_utils.exercises.gradient_check import BACKWARD_CANDIDATES

    def wrong_two(name: str) -> bool:
        return name in {"B", "D", "E"}  # H and J are missing

    with pytest.raises(CheckFailure) as info:
        check("differentiation.gradcheck_rejects", wrong_two, hidden=True)
    told = info.value.msg
    assert "2 of the 10 predictions" in told.en and "10 个预测中有 2 个不对" in told.zh
    for name in BACKWARD_CANDIDATES:  # no item is named, in either language
        assert f"({name})" not in told.en and f" {name}," not in told.en
        assert f"（{name}）" not in told.zh
    for _ in range(3):  # after a few tries in one kernel, only right or not
        with pytest.raises(CheckFailure) as info:
            check("differentiation.gradcheck_rejects", wrong_two, hidden=True)
    assert "of the 10" not in info.value.msg.en and "not all right yet" in info.value.msg.en


# --- in the notebook, check() says what the grader will say -------------------------------------


def _run_cells(*sources: str) -> list:
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True).execute()
    return [o for c in nb.cells for o in c.outputs]


def test_check_in_the_notebook_counts_tampering_anywhere_above_it():
    answer = right_dq_da()
    test = 'from course_utils import check\ncheck("differentiation.grad_a", dq_da)'
    outputs = _run_cells("import torch", "import sys\nprint(sys.version_info[0])", answer, test)
    errors = [o for o in outputs if o.output_type == "error"]
    assert errors and "`import sys`" in errors[-1].evalue, outputs
    assert R.WHY[R.TAMPER].zh.split("{what}")[-1][:12] in errors[-1].evalue
    honest = _run_cells("import torch", "print(torch.__version__)", answer, test)
    assert not [o for o in honest if o.output_type == "error"], honest


def test_a_finite_difference_is_named_in_the_notebook_too():
    outputs = _run_cells(
        "import torch",
        FINITE_DIFFERENCE,
        'from course_utils import check\ncheck("differentiation.grad_a", dq_da)',
    )
    errors = [o for o in outputs if o.output_type == "error"]
    assert errors and "finite difference" in errors[-1].evalue, outputs
