"""EnforceRules: an answer that used what its exercise forbids scores 0, and the learner is told why.

Runs in the grader's process after :class:`~autograder.grading.preprocessors.VerifyAnswers`.
For every ``check(id, name)`` of a graded test cell whose exercise forbids something
(``Exercise.forbids``, see :mod:`course_utils.rules`), it looks at

- the submitted code (AST, never executed here): the answer cell that defines ``name``, or
  every answer cell above the test when the lesson defines ``name`` (the capstone's bridge),
  plus whatever the learner's own code there refers to, followed through the learner's other
  cells; aliases come from every cell of the notebook;
- the runtime record that ``check()`` emitted with the answers (what ran while the learner's
  function ran);
- rebinding: any learner code above the test that gives ``name`` another value than the one
  definition the lesson asks for (``value_of = …``, ``globals()["value_of"] = …``). This holds
  for every exercise, forbidding or not.

A violation adds an error output to the test cell (nbgrader scores it 0) with the bilingual
reason, and a note at the top of the feedback (:mod:`autograder.grading.notes`).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from traitlets import Bool

from autograder.grading import notes
from autograder.grading.preprocessors import released_notebook
from course_utils import rules as R
from course_utils.exercises import ANSWER_MIME, Exercise, get

# Learner code anywhere above a test that reaches into the kernel (rules.TAMPER) or runs code
# built from strings counts against that test's exercise, whatever it forbids.
TAMPERING = (R.TAMPER, R.DYNAMIC_CODE)


@dataclass
class Statement:
    cell: int  # index of the cell in the notebook
    node: ast.stmt
    binds: set[str] = field(default_factory=set)
    loads: set[str] = field(default_factory=set)


def bound_names(stmt: ast.stmt) -> set[str]:
    """Module-level names a statement binds, including ``globals()["x"] = …`` and ``setattr``."""
    names: set[str] = set()
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        names.add(stmt.name)
    elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
        names |= {(a.asname or a.name).split(".")[0] for a in stmt.names}
    else:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
    for node in ast.walk(stmt):
        if isinstance(node, ast.Global):
            names |= set(node.names)
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
            if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
                names.add(node.slice.value)  # globals()["name"] = …, __main__.__dict__[…]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "setattr" and len(node.args) >= 2:
                key = node.args[1]
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    names.add(key.value)
    return names


def loaded_names(stmt: ast.stmt) -> set[str]:
    """The global names ``stmt`` reads; a function's own arguments and locals are not global."""
    loads = {
        n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
        declared = {
            name
            for n in ast.walk(stmt)
            if isinstance(n, (ast.Global, ast.Nonlocal))
            for name in n.names
        }
        args = stmt.args
        local = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
        local |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
        local |= {
            n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        }
        loads -= local - declared
        # what the signature reads (defaults, annotations) is read where the def runs
        loads |= {
            n.id
            for part in [*args.defaults, *args.kw_defaults, *stmt.decorator_list]
            if part is not None
            for n in ast.walk(part)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
        }
    return loads


def checks_in(source: str) -> list[tuple[str, str, bool]]:
    """``(exercise id, function name, hidden)`` for each ``check("id", name, …)`` of a test cell."""
    tree = R.parse(source)
    found = []
    for node in ast.walk(tree) if tree is not None else []:
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "check"
            and len(node.args) >= 2
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and isinstance(node.args[1], ast.Name)
        ):
            hidden = any(
                k.arg == "hidden" and isinstance(k.value, ast.Constant) and k.value.value is True
                for k in node.keywords
            )
            found.append((node.args[0].value, node.args[1].id, hidden))
    return found


def _norm(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


class Submission:
    """The submitted notebook's code, sorted into the lesson's cells and the learner's."""

    def __init__(self, nb: NotebookNode, released: NotebookNode | None) -> None:
        lesson_sources = (
            {_norm(c.source) for c in released.cells if c.cell_type == "code"}
            if released
            else set()
        )
        self.trees: list[ast.Module] = []
        self.kind: dict[int, str] = {}  # cell index -> "answer" | "lesson" | "learner"
        self.statements: list[Statement] = []
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution"):
                kind = "answer"
            elif meta.get("grade") or meta.get("locked") or _norm(cell.source) in lesson_sources:
                kind = "lesson"  # tests and locked cells are restored from the gradebook
            else:
                kind = "learner"
            tree = R.parse(cell.source)
            self.kind[i] = kind
            if tree is None:
                continue
            self.trees.append(tree)
            if kind != "lesson":
                for stmt in tree.body:
                    self.statements.append(
                        Statement(i, stmt, bound_names(stmt), loaded_names(stmt))
                    )
        self.aliases = R.aliases_of(self.trees)
        self.learner_backward = R.defines_backward(s.node for s in self.statements)
        self.bound = set().union(*(s.binds for s in self.statements))
        self.own_attrs = own_attributes(s.node for s in self.statements)
        self.magics: list[tuple[int, R.Use]] = [
            (i, use)
            for i, cell in enumerate(nb.cells)
            if self.kind.get(i) in ("answer", "learner")
            for use in R.magic_uses(cell.source)
        ]
        self.lesson_binds: dict[str, list[int]] = {}
        for i, cell in enumerate(nb.cells):
            if self.kind.get(i) == "lesson" and not cell.metadata.get("nbgrader", {}).get("grade"):
                tree = R.parse(cell.source)
                for stmt in tree.body if tree else []:
                    for name in bound_names(stmt):
                        self.lesson_binds.setdefault(name, []).append(i)

    def answer_code(self, name: str, test: int) -> list[Statement]:
        """The learner's code for the function a test checks, with what it refers to."""
        own = [
            s
            for s in self.statements
            if s.cell < test
            and self.kind[s.cell] == "answer"
            and isinstance(s.node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and s.node.name == name
        ]
        cells = (
            {own[-1].cell}
            if own
            else {
                s.cell for s in self.statements if s.cell < test and self.kind[s.cell] == "answer"
            }
        )
        chosen = [s for s in self.statements if s.cell in cells]
        todo = set().union(*(s.loads for s in chosen)) if chosen else set()
        done: set[str] = set()
        while todo:
            want = todo.pop()
            done.add(want)
            for s in self.statements:  # what has run when the test runs: the cells above it
                if s.cell < test and want in s.binds and s not in chosen:
                    chosen.append(s)
                    todo |= s.loads - done
        return chosen

    def uses(self, statements: list[Statement], exercise: Exercise | None = None) -> list[R.Use]:
        """What the statements use; for an exercise, judged by its allowlist too."""
        forbids = exercise.forbids if exercise is not None else frozenset()
        return R.find_uses(
            [ast.Module(body=[s.node], type_ignores=[]) for s in statements],
            aliases=self.aliases,
            learner_backward=self.learner_backward and exercise is not None and exercise.engine,
            by_hand=R.NOT_ALLOWED in forbids,
            derives=R.FINITE_DIFFERENCES in forbids,
            bound=self.bound | set(self.lesson_binds),
            own_attrs=self.own_attrs,
            no_torch=R.NO_TORCH in forbids,
        )

    def tampering(self, test: int) -> list[R.Use]:
        """Learner code anywhere above the test that reaches into the kernel (or magics)."""
        above = [s for s in self.statements if s.cell < test]
        found = [use for use in self.uses(above) if use[0] in TAMPERING]
        return found + [use for i, use in self.magics if i < test and use not in found]

    def rebound(self, name: str, test: int) -> bool:
        """Whether learner code above the test gives ``name`` a value other than its one definition."""
        bindings = [s for s in self.statements if s.cell < test and name in s.binds]
        if any(c < test for c in self.lesson_binds.get(name, [])):
            return bool(bindings)  # the lesson defines it (the capstone's bridge)
        defs = [
            s
            for s in bindings
            if self.kind[s.cell] == "answer"
            and isinstance(s.node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and s.node.name == name
        ]
        return len(bindings) > (1 if defs else 0)


def own_attributes(statements) -> set[str]:
    """Attributes the learner's own code sets or defines (``self._prev = …``, ``def _backward``)."""
    names: set[str] = set()
    for stmt in statements:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        names.add(item.name)
                    for sub in ast.walk(item):
                        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                            names.add(sub.id)
    return names


def runtime_uses(cell: NotebookNode, exercise_id: str) -> list[R.Use]:
    found: list[R.Use] = []
    for out in cell.get("outputs", []):
        record = out.get("data", {}).get(ANSWER_MIME) if isinstance(out, dict) else None
        if isinstance(record, dict) and record.get("exercise") == exercise_id:
            used = record.get("used")
            if isinstance(used, list):
                found.extend(tuple(u) for u in used if isinstance(u, list) and len(u) == 2)
    return found


class EnforceRules(Preprocessor):
    """Zero an exercise answered with what it forbids, or through a rebound name; say why."""

    enabled = Bool(True).tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict):
        code = Submission(nb, released_notebook(self, resources))
        for index, cell in enumerate(nb.cells):
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type != "code" or not meta.get("grade"):
                continue
            verdicts = []
            for exercise_id, name, _hidden in dict.fromkeys(checks_in(cell.source)):
                try:
                    exercise = get(exercise_id)
                except KeyError:
                    continue
                rebound = [name] if code.rebound(name, index) else []
                static = code.uses(code.answer_code(name, index), exercise)
                used = R.forbidden(static + runtime_uses(cell, exercise_id), exercise.forbids)
                used += [u for u in code.tampering(index) if u not in used]
                if used or rebound:
                    verdicts.append((exercise, used, rebound))
            seen: set[str] = set()
            for exercise, used, rebound in verdicts:
                if exercise.id in seen:
                    continue
                seen.add(exercise.id)
                gid = meta.get("grade_id")
                if used:
                    whats = ", ".join(dict.fromkeys(w for _, w in used))
                    notes.add(nb, "forbidden", f"{gid}: {whats}")
                for name in rebound:
                    notes.add(nb, "rebound", f"{name} ({gid})")
                problem = R.message(exercise.title, used, rebound)
                notes.fail_cell(cell, problem)
                # For the class view: the cell scores 0 for its rules, whatever its values.
                why = [w for _, w in used] + [f"rebound {name}" for name in rebound]
                notes.set_verdict(
                    nb,
                    gid,
                    exercise.id,
                    "rule",
                    detail=", ".join(dict.fromkeys(why)),
                    message=problem,
                )
        return nb, resources
