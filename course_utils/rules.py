"""What an exercise accepts: the means it forbids (``Exercise.forbids``) and how they are seen.

An exercise that asks for a derivation or an update rule "by hand" cannot be answered by
autograd, ``torch.func``, ``torch.optim``, the course's own reference code, or code built from
strings. Two views find such means, and the grader and :func:`check` use both:

- **static**, :func:`find_uses`: the answer's source (an AST), with aliases resolved
  (``import torch.autograd as ag``, ``from torch import autograd``,
  ``getattr(torch, "autograd")``, ``x.backward()``, names reached through other modules);
- **runtime**, :class:`Watch`: while the learner's function runs (and only then, so the
  reference that :func:`check` computes is never counted), a profile hook notes every call
  into ``torch.autograd``/``torch.func``/``torch.optim``/the course's exercises, every run of
  the autograd engine, and every ``exec``/``eval``/``compile``/``__import__`` made by the
  learner's own code. (No saved-tensor hooks: torch.func refuses to run under them, which
  would change what the learner's code does.)

The runtime record travels with the answers (``ANSWER_MIME``) and is judged again in the
grader's process, which also runs the static view on the submitted cells
(:mod:`autograder.grading.rules`).
"""

from __future__ import annotations

import ast
import inspect
import os
import sys
import sysconfig
import textwrap
import types
from collections.abc import Callable, Iterable
from typing import Any

import torch

from course_utils.i18n import Msg

# The means an exercise may forbid (``Exercise.forbids``). A derivation "by hand" forbids
# every way of letting torch or the course differentiate for the learner.
AUTOGRAD = "autograd"  # .backward(), torch.autograd.* (grad, functional.jacobian, ...)
TORCH_FUNC = "torch.func"  # torch.func / functorch transforms (grad, vjp, jacrev, ...)
OPTIM = "torch.optim"  # an optimizer, where the update rule is the exercise
COURSE_REFERENCE = "course_reference"  # the course's own reference code (course_utils.*)
DYNAMIC_CODE = "dynamic_code"  # exec / eval / compile of strings, importlib tricks
BY_HAND = frozenset({AUTOGRAD, TORCH_FUNC, COURSE_REFERENCE, DYNAMIC_CODE})

MEANS = (AUTOGRAD, TORCH_FUNC, OPTIM, COURSE_REFERENCE, DYNAMIC_CODE)

Use = tuple[str, str]  # (means, what was used), e.g. ("autograd", "loss.backward()")
MAX_USES = 12

# Why each means does not count, in both languages. ``{what}`` is what was used.
WHY: dict[str, Msg] = {
    AUTOGRAD: Msg(
        "this exercise asks you to apply the chain rule yourself; `{what}` lets autograd do it "
        "for you, so this answer does not count.",
        "这道练习要求你自己运用链式法则求导；`{what}` 让 autograd 替你完成了求导，所以这个答案不计分。",
    ),
    TORCH_FUNC: Msg(
        "this exercise asks you to derive the result yourself; `{what}` (torch.func) computes "
        "the derivative for you, so this answer does not count.",
        "这道练习要求你自己推导结果；`{what}`（torch.func）替你求了导，所以这个答案不计分。",
    ),
    OPTIM: Msg(
        "this exercise asks you to write the update rule yourself; `{what}` (torch.optim) "
        "applies it for you, so this answer does not count.",
        "这道练习要求你自己写出参数的更新规则；`{what}`（torch.optim）替你做了更新，所以这个答案不计分。",
    ),
    COURSE_REFERENCE: Msg(
        "`{what}` is the course's own code that computes the answer; the answer must be your "
        "own work, so it does not count.",
        "`{what}` 是课程自带的、能直接算出答案的代码；答案必须是你自己完成的，所以不计分。",
    ),
    DYNAMIC_CODE: Msg(
        "`{what}` runs code built from strings or reached indirectly, which the grader cannot "
        "check; write your function as ordinary code, or it does not count.",
        "`{what}` 执行的是由字符串拼出来或间接取得的代码，评分程序无法检查；"
        "请把函数写成普通的代码，否则不计分。",
    ),
}

REBOUND = Msg(
    "the test calls `{what}`, but your code gives that name another value; the test must call "
    "the function the lesson has you write, so this answer does not count.",
    "测试调用的是 `{what}`，但你的代码给这个名字赋了别的值；测试必须调用课程让你写的那个函数，"
    "所以这个答案不计分。",
)


def message(title: Msg, uses: Iterable[Use], rebound: Iterable[str] = ()) -> Msg:
    """The bilingual verdict for an answer that used forbidden means (or a rebound name)."""
    parts = [WHY[means].format(what=what) for means, what in _first_per_means(uses)]
    parts += [REBOUND.format(what=name) for name in dict.fromkeys(rebound)]
    head = Msg(f"✗ {title.en}: ", f"✗ {title.zh}：")
    out = Msg(head.en + parts[0].en, head.zh + parts[0].zh)
    for part in parts[1:]:
        out = Msg(out.en + " Also: " + part.en, out.zh + "另外：" + part.zh)
    return out


def _first_per_means(uses: Iterable[Use]) -> list[Use]:
    seen: dict[str, Use] = {}
    for means, what in uses:
        seen.setdefault(means, (means, what))
    return list(seen.values())


def forbidden(uses: Iterable[Use], forbids: Iterable[str]) -> list[Use]:
    """The uses whose means the exercise forbids, without duplicates, in order."""
    allowed = set(forbids)
    out: list[Use] = []
    for use in uses:
        if (
            isinstance(use, (list, tuple))
            and len(use) == 2
            and use[0] in allowed
            and tuple(use) not in out
        ):
            out.append((str(use[0]), str(use[1])[:120]))
    return out


# --- the static view ------------------------------------------------------------------------

# Names inside torch.autograd that only switch recording on or off: not differentiation.
GRAD_MODE = {"grad_mode", "no_grad", "enable_grad", "set_grad_enabled", "inference_mode"}
# course_utils parts a learner may call: messages, checks, plots.
COURSE_ALLOWED = {"i18n", "plots", "checks", "check", "Msg", "say", "current_lang", "more_help"}
COURSE_ALLOWED |= {"check_tensor", "check_value", "CheckFailure"}
DYNAMIC_BUILTINS = {"exec", "eval", "compile", "__import__", "globals", "vars", "locals"}
DYNAMIC_ROOTS = {"importlib", "builtins", "ctypes", "gc", "__builtins__"}
DYNAMIC_ATTRS = {"setprofile", "settrace", "_getframe", "__dict__", "__globals__"}
DYNAMIC_ATTRS |= {"__code__", "__builtins__", "f_globals", "f_locals"}


def _classify_path(path: str, learner_backward: bool) -> Use | None:
    """Which forbidden means a dotted name reaches, if any (``torch.autograd.grad`` → autograd)."""
    parts = path.split(".")
    root = parts[0]
    if root == "course_utils":
        if len(parts) == 1 or parts[1] in COURSE_ALLOWED:
            return None
        return COURSE_REFERENCE, path
    if root in DYNAMIC_ROOTS:
        return DYNAMIC_CODE, path
    for i, part in enumerate(parts):
        if part == "autograd" and not (i + 1 < len(parts) and parts[i + 1] in GRAD_MODE):
            return AUTOGRAD, path
        if part in ("_execution_engine", "run_backward", "_engine_run_backward"):
            return AUTOGRAD, path
        if part in ("functorch", "_functorch") or (part == "func" and i > 0):
            return TORCH_FUNC, path
        if part == "optim" and i > 0:
            return OPTIM, path
        if part == "backward" and i > 0 and (root == "torch" or not learner_backward):
            return AUTOGRAD, path + "()"
        if i > 0 and (part in DYNAMIC_ATTRS or (part == "modules" and parts[i - 1] == "sys")):
            return DYNAMIC_CODE, path
        if part == "course_utils" and i > 0:
            return COURSE_REFERENCE, path
    return None


def aliases_of(trees: Iterable[ast.AST]) -> dict[str, set[str]]:
    """Module-level names bound to modules or their members: ``ag`` → ``torch.autograd``."""
    table: dict[str, set[str]] = {}
    statements = [s for tree in trees for s in getattr(tree, "body", [])]
    for _ in range(2):  # twice, so that `a = torch.autograd; g = a.grad` resolves
        for stmt in statements:
            if isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    if alias.asname:
                        table.setdefault(alias.asname, set()).add(alias.name)
                    else:
                        top = alias.name.split(".")[0]
                        table.setdefault(top, set()).add(top)
            elif isinstance(stmt, ast.ImportFrom) and stmt.module and not stmt.level:
                for alias in stmt.names:
                    table.setdefault(alias.asname or alias.name, set()).add(
                        f"{stmt.module}.{alias.name}"
                    )
            elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
                target = stmt.targets[0]
                if isinstance(target, ast.Name):
                    for path in _paths(stmt.value, table, set()):
                        table.setdefault(target.id, set()).add(path)
    return table


def _paths(node: ast.AST, table: dict[str, set[str]], local: set[str]) -> set[str]:
    """The dotted names an expression may stand for (empty when it is not a name chain)."""
    if isinstance(node, ast.Name):
        if node.id in local:
            return set()
        return table.get(node.id) or {node.id}
    if isinstance(node, ast.Attribute):
        return {f"{p}.{node.attr}" for p in _paths(node.value, table, local)} or {f"?.{node.attr}"}
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        args = node.args
        const = len(args) >= 2 and isinstance(args[1], ast.Constant)
        if node.func.id == "getattr" and const and isinstance(args[1].value, str):
            return {f"{p}.{args[1].value}" for p in _paths(args[0], table, local)}
        if node.func.id == "__import__" and args and isinstance(args[0], ast.Constant):
            return {str(args[0].value)}
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
        if any(p.endswith("import_module") for p in _paths(node.func, table, local)):
            return {str(node.args[0].value)}
    return set()


class _Finder(ast.NodeVisitor):
    def __init__(self, table: dict[str, set[str]], learner_backward: bool) -> None:
        self.table = table
        self.learner_backward = learner_backward
        self.uses: list[Use] = []
        self.local: list[set[str]] = [set()]

    def _add(self, use: Use | None) -> None:
        if use is not None and use not in self.uses:
            self.uses.append(use)

    def _function(self, node: ast.AST) -> None:
        args = node.args  # type: ignore[attr-defined]
        names = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
        names |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
        body = node.body if isinstance(node.body, list) else [node.body]  # type: ignore[attr-defined]
        for stmt in body:  # names the function binds itself shadow module-level aliases
            for sub in ast.walk(stmt):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    names.add(sub.id)
        self.local.append(names)
        for default in [*args.defaults, *args.kw_defaults]:
            if default is not None:
                self.visit(default)
        for stmt in body:
            self.visit(stmt)
        self.local.pop()
        for deco in getattr(node, "decorator_list", []):
            self.visit(deco)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def _scope(self) -> set[str]:
        return set().union(*self.local[1:]) if len(self.local) > 1 else set()

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(_classify_path(alias.name, self.learner_backward))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            path = f"{node.module or ''}.{alias.name}".lstrip(".")
            self._add(_classify_path(path, self.learner_backward))

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id not in self._scope():
            if func.id in DYNAMIC_BUILTINS:
                self._add((DYNAMIC_CODE, f"{func.id}()"))
            if func.id in ("getattr", "setattr", "delattr") and (
                len(node.args) < 2 or not isinstance(node.args[1], ast.Constant)
            ):
                self._add((DYNAMIC_CODE, f"{func.id}() with a computed name"))
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        # the whole chain `torch.autograd.no_grad` is judged once, not its prefix `torch.autograd`
        for path in _paths(node, self.table, self._scope()):
            self._add(_classify_path(path, self.learner_backward))
        inner: ast.AST = node.value
        while isinstance(inner, ast.Attribute):
            inner = inner.value
        if not isinstance(inner, ast.Name):
            self.visit(inner)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            for path in _paths(node, self.table, self._scope()):
                if path != node.id or node.id in DYNAMIC_ROOTS:
                    self._add(_classify_path(path, self.learner_backward))


def defines_backward(trees: Iterable[ast.AST]) -> bool:
    """Whether the code defines something called ``backward`` (the capstone's own engine)."""
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in (
                "backward",
                "_backward",
            ):
                return True
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                if node.attr == "backward":
                    return True
    return False


def _shorter(uses: list[Use]) -> list[Use]:
    """Drop a use whose text is a prefix of another one's (``torch.autograd`` beside ``….grad``)."""
    return [
        u
        for u in uses
        if not any(o is not u and o[0] == u[0] and o[1].startswith(u[1] + ".") for o in uses)
    ]


def find_uses(
    code: Iterable[ast.AST],
    *,
    aliases: dict[str, set[str]] | None = None,
    learner_backward: bool = False,
) -> list[Use]:
    """Every forbidden-looking means the code refers to, with aliases resolved."""
    trees = list(code)
    table = aliases if aliases is not None else aliases_of(trees)
    finder = _Finder(table, learner_backward)
    for tree in trees:
        finder.visit(tree)
    return _shorter(finder.uses)[:MAX_USES]


def parse(source: str) -> ast.Module | None:
    """The AST of a cell, or None when it is not Python (IPython magics are blanked first)."""
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    try:
        return ast.parse("\n".join(lines))
    except (SyntaxError, ValueError):
        return None


def function_uses(answer: Callable, *, depth: int = 2) -> list[Use]:
    """The static view inside the learner's kernel: the function's source (where Python has it).

    Global names are resolved to the objects they are bound to now, and functions the answer
    calls that the learner defined in the notebook are inspected too (``depth`` levels).
    """
    seen: set[int] = set()
    uses: list[Use] = []
    learner_backward = _kernel_defines_backward(answer)

    def visit(fn: Any, level: int) -> None:
        code = getattr(fn, "__code__", None)
        if code is None or id(code) in seen or level > depth:
            return
        seen.add(id(code))
        try:
            tree = parse(textwrap.dedent(inspect.getsource(fn)))
        except (OSError, TypeError):
            return
        if tree is None:
            return
        if code.co_name == "<lambda>":  # getsource gives the whole statement around a lambda
            lambdas = [n for n in ast.walk(tree) if isinstance(n, ast.Lambda)]
            tree = ast.Module(body=[ast.Expr(n) for n in lambdas], type_ignores=[])
        table: dict[str, set[str]] = {}
        globals_ = getattr(fn, "__globals__", {})
        for name in {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}:
            path = _object_path(globals_.get(name))
            if path:
                table[name] = {path}
        uses.extend(u for u in find_uses([tree], aliases=table, learner_backward=learner_backward))
        for name in {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}:
            obj = globals_.get(name)
            if isinstance(obj, types.FunctionType) and obj.__module__ == "__main__":
                visit(obj, level + 1)

    visit(answer, 0)
    return list(dict.fromkeys(uses))[:MAX_USES]


def _object_path(obj: Any) -> str | None:
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str) and module != "__main__":
        if module.startswith(("torch", "course_utils", "functorch")):
            return f"{module}.{qualname}"
    return None


def _kernel_defines_backward(answer: Callable) -> bool:
    for obj in getattr(answer, "__globals__", {}).values():
        if isinstance(obj, type) and obj.__module__ == "__main__" and hasattr(obj, "backward"):
            return True
    return False


# --- the runtime view -----------------------------------------------------------------------

_TORCH = os.path.dirname(torch.__file__) + os.sep
_COURSE = os.path.dirname(os.path.abspath(__file__)) + os.sep
_EXERCISES = os.path.join(_COURSE, "exercises") + os.sep
_GRAPH = os.path.join(_COURSE, "graph.py")
_ROOT = os.path.dirname(_COURSE.rstrip(os.sep))
_SELF = os.path.abspath(__file__)
_SYSTEM = tuple(
    {
        p + os.sep
        for p in (
            sys.prefix,
            sys.base_prefix,
            sys.exec_prefix,
            sysconfig.get_paths()["stdlib"],
            sysconfig.get_paths()["purelib"],
        )
    }
)
_DYNAMIC_C = {"exec", "eval", "compile", "__import__", "setprofile", "settrace"}
_DYNAMIC_C |= {"start_new_thread", "start_joinable_thread"}


def _learner_frame(filename: str) -> bool:
    return not filename.startswith((_TORCH, _COURSE, *_SYSTEM)) and filename != _SELF


def _torch_use(code: types.CodeType) -> Use | None:
    rel = code.co_filename[len(_TORCH) :].replace(os.sep, "/")
    name = code.co_name
    if rel == "_tensor.py" and name == "backward":
        return AUTOGRAD, "Tensor.backward()"
    if rel == "autograd/__init__.py" and name in ("backward", "grad"):
        return AUTOGRAD, f"torch.autograd.{name}()"
    if rel in ("autograd/functional.py", "autograd/forward_ad.py"):
        return AUTOGRAD, f"torch.{rel[:-3].replace('/', '.')}.{name}()"
    if rel == "autograd/graph.py" and name == "_engine_run_backward":
        return AUTOGRAD, "the autograd engine"
    if rel in ("_functorch/eager_transforms.py", "_functorch/apis.py") and name != "vmap":
        return TORCH_FUNC, f"torch.func.{name}()"
    if rel.startswith("optim/"):
        return OPTIM, f"torch.optim.{code.co_qualname}"
    return None


class Watch:
    """Record what the learner's function used while it ran: see the module docstring.

    One Watch per :func:`check`; :meth:`recording` wraps each call of the learner's function.
    It does nothing for an exercise that forbids nothing.
    """

    def __init__(self, forbids: Iterable[str], answer: Callable | None = None) -> None:
        self.forbids = frozenset(forbids)
        self.answer = answer
        self.uses: list[Use] = []
        self._allowed: set[types.CodeType] = set()
        self._inside: types.FrameType | None = None

    @property
    def active(self) -> bool:
        return bool(self.forbids)

    def _note(self, use: Use) -> None:
        if use not in self.uses and len(self.uses) < MAX_USES:
            self.uses.append(use)

    def _allow_methods_of(self, args: tuple) -> None:
        """Objects the exercise hands over (an Expression to call) may run their own methods."""
        todo = list(args)
        while todo:
            arg = todo.pop()
            if isinstance(arg, (tuple, list)):
                todo.extend(arg[:64])
                continue
            for cls in type(arg).__mro__:
                for value in vars(cls).values():
                    fn = getattr(value, "__func__", value)
                    code = getattr(fn, "__code__", None)
                    if code is not None:
                        self._allowed.add(code)

    def _profile(self, frame: types.FrameType, event: str, arg: Any) -> None:
        if self._inside is not None:  # only the outermost forbidden call is worth naming
            if event == "return" and frame is self._inside:
                self._inside = None
            return
        if event == "call":
            code = frame.f_code
            filename = code.co_filename
            use = None
            if filename.startswith(_TORCH):
                use = _torch_use(code)
            elif filename.startswith(_EXERCISES) or filename == _GRAPH:
                if filename != _SELF and code not in self._allowed:
                    module = os.path.relpath(filename, _ROOT)[:-3].replace(os.sep, ".")
                    module = module.removesuffix(".__init__")
                    use = COURSE_REFERENCE, f"{module}.{code.co_qualname}"
            elif code.co_name in ("import_module", "reload") and frame.f_back is not None:
                if _learner_frame(frame.f_back.f_code.co_filename):
                    use = DYNAMIC_CODE, f"importlib.{code.co_name}()"
            if use is not None:
                self._note(use)
                self._inside = frame
        elif event == "c_call":
            name = getattr(arg, "__name__", "")
            if name == "run_backward":
                self._note((AUTOGRAD, "the autograd engine"))
            elif name in _DYNAMIC_C and _learner_frame(frame.f_code.co_filename):
                self._note((DYNAMIC_CODE, f"{name}()"))

    def call(self, answer: Callable, args: tuple) -> Any:
        """``answer(*args)``, recorded."""
        if not self.active:
            return answer(*args)
        self._allow_methods_of(args)
        previous = sys.getprofile()
        sys.setprofile(self._profile)
        self._inside = None
        try:
            return answer(*args)
        finally:
            sys.setprofile(previous)

    def static_uses(self) -> list[Use]:
        if not self.active or self.answer is None:
            return []
        try:
            return function_uses(self.answer)
        except Exception:  # never let an odd function break the check itself
            return []

    def violations(self) -> list[Use]:
        return forbidden([*self.uses, *self.static_uses()], self.forbids)
