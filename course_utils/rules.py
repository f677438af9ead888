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
# Two more that the grader adds itself (Exercise.__post_init__): a derivation by hand may use
# only what NOT_ALLOWED's list allows, and no exercise accepts code that reaches into the kernel.
NOT_ALLOWED = "not_allowed"  # outside a derivation's allowlist (see ALLOWED_* below)
TAMPER = "tamper"  # sys, threads, frames, IPython, monkey-patching: anywhere in the notebook
FINITE_DIFFERENCES = "finite_differences"  # a step h where a derivation is asked
# A prediction made by reading code: calling torch at all would run it instead (leaf_mask).
NO_TORCH = "no_torch"
# torch's one-call version of what the exercise builds: Tensor.sum_to_size for a broadcast
# gradient, torch.autograd.functional (vhp, hvp, hessian, ...) for a Hessian-vector product.
READY_MADE = "ready_made"
READY_MADE_ATTRS = frozenset({"sum_to_size"})
READY_MADE_MODULES = ("autograd.functional",)
EVERY_EXERCISE = frozenset({COURSE_REFERENCE, DYNAMIC_CODE, TAMPER})

MEANS = (AUTOGRAD, TORCH_FUNC, OPTIM, COURSE_REFERENCE, DYNAMIC_CODE, NOT_ALLOWED, TAMPER)
MEANS += (FINITE_DIFFERENCES, NO_TORCH, READY_MADE)

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

WHY[NOT_ALLOWED] = Msg(
    "this exercise asks for a derivation by hand, which may use arithmetic, tensor operations, "
    "`math` and your own helpers; `{what}` is none of these, so this answer does not count.",
    "这道练习要求手工推导，只能使用算术运算、张量运算、`math` 和你自己写的辅助函数；"
    "`{what}` 不在其中，所以这个答案不计分。",
)
WHY[FINITE_DIFFERENCES] = Msg(
    "this exercise asks you to derive the gradient; `{what}` is a finite difference, which only "
    "approximates it. Write the derivative's formula instead, or this answer does not count.",
    "这道练习要求你推导出梯度；`{what}` 说明你用的是有限差分，它只能近似梯度。"
    "请写出导数的公式，否则这个答案不计分。",
)
WHY[NO_TORCH] = Msg(
    "this exercise asks you to work the answer out by reading the code, not by running it; "
    "`{what}` calls torch, so this answer does not count. Use plain Python (strings, lists, "
    "bools) and return a list of bools.",
    "这道练习要求你通过阅读代码推断出答案，而不是运行它；`{what}` 调用了 torch，所以这个答案不计分。"
    "请只用普通的 Python（字符串、列表、布尔值），并返回一个由 bool 组成的列表。",
)
WHY[TAMPER] = Msg(
    "`{what}` in your notebook reaches into the Python process, IPython or the modules the "
    "grader relies on; graded notebooks may not do that, so the exercises after it do not count. "
    "Remove it, then restart the kernel and run the notebook again.",
    "你的笔记本里的 `{what}` 会去改动 Python 进程、IPython 或评分程序依赖的模块；"
    "参加评分的笔记本不允许这样做，所以它之后的练习都不计分。请删掉它，重启内核后再重新运行笔记本。",
)

WHY[READY_MADE] = Msg(
    "this exercise asks you to build the result from what the lesson taught (a broadcast "
    "gradient from sums, a Hessian-vector product from two calls of torch.autograd.grad); "
    "`{what}` is torch's one-call version of it, which hides the very step the exercise is "
    "about, so this answer does not count.",
    "这道练习要求你用本课讲过的方法自己构造结果（被广播的张量的梯度用求和得到，"
    "海森矩阵-向量积用两次 torch.autograd.grad 得到）；`{what}` 是 torch 一步到位的现成版本，"
    "恰好把这道练习要练的那一步藏了起来，所以这个答案不计分。",
)

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
        if not isinstance(use, (list, tuple)) or len(use) != 2:
            continue
        use = _ready_made(tuple(use), allowed)
        if use[0] in allowed and use not in out:
            out.append((str(use[0]), str(use[1])[:120]))
    return out


def _ready_made(use: tuple, allowed: set[str]) -> tuple:
    """An autograd use of torch.autograd.functional is a ready-made one too: it counts as such
    where the exercise allows autograd itself (torch.autograd.grad) but not the shortcut."""
    means, what = use
    ready = means == AUTOGRAD and any(m in str(what) for m in READY_MADE_MODULES)
    if ready and AUTOGRAD not in allowed and READY_MADE in allowed:
        return READY_MADE, what
    return use


# --- the static view ------------------------------------------------------------------------

# Names inside torch.autograd that only switch recording on or off: not differentiation.
GRAD_MODE = {"grad_mode", "no_grad", "enable_grad", "set_grad_enabled", "inference_mode"}
# course_utils parts a learner may call: messages, checks, plots.
COURSE_ALLOWED = {"i18n", "plots", "checks", "check", "Msg", "say", "current_lang", "more_help"}
COURSE_ALLOWED |= {"objects", "models"}  # what a lesson hands over, and loading its model
COURSE_ALLOWED |= {"check_tensor", "check_value", "CheckFailure"}
# a learner's own member of a family, and the function a lesson hands over for it: no answers
COURSE_ALLOWED |= {"variants", "custom_functions"}
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


# --- what any graded notebook may do, and what a derivation by hand may use -----------------

# Modules a learner's cell may import. Anything else (sys, os, threading, inspect, gc, ctypes,
# importlib, operator, IPython, pickle, ...) can reach the kernel, the harness or the grader.
SAFE_MODULES = frozenset(
    {
        "torch", "torchvision", "numpy", "math", "cmath", "random", "itertools", "collections",
        "dataclasses", "typing", "functools", "statistics", "time", "matplotlib", "copy",
        "warnings", "textwrap", "string", "re", "json", "fractions", "decimal", "pprint",
        "course_utils", "abc", "enum", "numbers", "heapq", "bisect", "__future__",
    }
)  # fmt: skip
# course_utils' parts that drive or judge the grading: never a learner's to import.
COURSE_PRIVATE = {"harness", "rules", "exercises"}
# Builtins that reach the interpreter, IPython or files.
TAMPER_BUILTINS = {"get_ipython", "breakpoint", "open", "exit", "quit"}
TAMPER_BUILTINS |= {"__builtins__", "__loader__", "__spec__", "memoryview"}
# Dunder attributes anyone may use; the others (__dict__, __globals__, __class__, __code__,
# __closure__, __self__, __subclasses__, ...) lead out of the object to the interpreter.
ALLOWED_DUNDERS = {"__init__", "__name__", "__doc__", "__call__", "__len__", "__qualname__"}
ALLOWED_DUNDERS |= {"__version__", "__file__", "__repr__", "__str__", "__iter__", "__next__"}
ALLOWED_DUNDERS |= {"__class__"}  # type(x).__name__'s twin; its way out (__mro__, …) is not
ALLOWED_DUNDERS |= {"__getitem__", "__setitem__", "__contains__", "__enter__", "__exit__"}
ALLOWED_DUNDERS |= {f"__{op}__" for op in ("eq", "ne", "lt", "le", "gt", "ge", "hash", "bool")}
ALLOWED_DUNDERS |= {
    f"__{r}{op}__"
    for op in ("add", "sub", "mul", "truediv", "floordiv", "pow", "matmul", "mod")
    for r in ("", "r", "i")
} | {"__neg__", "__pos__", "__abs__"}
# Attributes of frames, tracebacks, generators and code: the way out to any module's globals.
FRAME_ATTRS = {"f_back", "f_globals", "f_locals", "f_builtins", "tb_frame", "tb_next"}
FRAME_ATTRS |= {"gi_frame", "gi_code", "cr_frame", "ag_frame", "co_consts", "co_code"}
# IPython magics a graded cell may hold; ``%time``/``%timeit`` lines are read as the code they time.
SAFE_MAGICS = {"matplotlib", "time", "timeit"}

# A derivation by hand: arithmetic, tensor operations, math, and the learner's own helpers.
BY_HAND_MODULES = {"torch", "math", "numpy", "typing", "collections", "__future__"}
# torch's parts that differentiate, optimise, compile or reach its internals.
TORCH_DENIED = {
    "autograd", "func", "optim", "ops", "library", "jit", "compile", "vmap", "fx", "utils",
    "testing", "hub", "distributed", "backends", "export", "overrides", "profiler", "package",
    "onnx", "ao", "quantization", "compiler", "monitor", "multiprocessing", "finfo",
}  # fmt: skip
# Attributes of values that walk or run autograd's graph.
VALUE_DENIED = {"backward", "grad_fn", "next_functions", "register_hook", "variable"}
VALUE_DENIED |= {"register_post_accumulate_grad_hook", "register_full_backward_hook"}
VALUE_DENIED |= {"register_backward_hook", "register_full_backward_pre_hook", "_grad_fn"}
# Reading the graph is the point of the graph lesson; only a derivative may not walk it.
GRAPH_WALK = {"grad_fn", "next_functions"}
SAFE_BUILTINS = {
    "abs", "all", "any", "bool", "dict", "divmod", "enumerate", "filter", "float", "int",
    "isinstance", "len", "list", "map", "max", "min", "pow", "print", "range", "reversed",
    "round", "set", "sorted", "str", "sum", "tuple", "zip", "super", "property", "staticmethod",
    "classmethod", "object", "repr", "format", "iter", "next", "slice", "frozenset", "callable",
    "hasattr", "getattr", "setattr", "type", "ValueError", "TypeError", "NotImplementedError",
    "RuntimeError", "KeyError", "IndexError", "Exception", "ZeroDivisionError", "AssertionError",
    "ArithmeticError", "StopIteration", "True", "False", "None", "NotImplemented",
    "id", "hash", "issubclass", "ord", "chr", "AttributeError", "OverflowError",
}  # fmt: skip
FINITE_STEP = 1e-3  # a constant this small, in a derivation, is a finite difference's step


MODULE_ROOTS = frozenset(sys.stdlib_module_names) | SAFE_MODULES | {"IPython", "functorch"}


def _module_path(table: dict[str, set[str]], name: str) -> bool:
    """Whether ``name`` resolved (through imports) to a module or one of its members."""
    return name in table and any(p.split(".")[0] in MODULE_ROOTS for p in table[name])


def allowed_by_hand(path: str) -> bool:
    """Whether a derivation by hand may use the dotted name ``path`` (``torch.exp``: yes)."""
    parts = path.split(".")
    root = parts[0]
    if any(p.startswith("_") and p != "__future__" for p in parts):
        return False
    if root in ("math", "numpy", "typing", "collections", "__future__"):
        return True
    if root == "course_utils":
        return len(parts) == 1 or parts[1] in ("i18n", "Msg", "say")
    if root != "torch":
        return False
    if len(parts) == 1:
        return True
    if parts[1] in TORCH_DENIED:
        return False
    if parts[1] == "nn" and len(parts) > 2 and parts[2] in ("utils", "parallel"):
        return False
    return not (parts[1] == "Tensor" and len(parts) > 2 and parts[2] in VALUE_DENIED)


def _small_constant(node: ast.AST) -> float | complex | None:
    """The value of a constant expression (``1e-6``, ``10 ** -6``, ``1j``) if it is one."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, complex)):
        return None if isinstance(node.value, bool) else node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _small_constant(node.operand)
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Pow, ast.Mult, ast.Div)):
        left, right = _small_constant(node.left), _small_constant(node.right)
        if left is None or right is None:
            return None
        try:
            if isinstance(node.op, ast.Pow):
                return left**right if abs(right) < 64 else None
            return left * right if isinstance(node.op, ast.Mult) else left / right
        except (ArithmeticError, TypeError, ValueError):
            return None
    return None


class _Finder(ast.NodeVisitor):
    """Every forbidden-looking means in the code, and, asked for, what an allowlist excludes.

    ``by_hand``: also what a derivation by hand may not use (:data:`NOT_ALLOWED`): names outside
    :func:`allowed_by_hand`, builtins outside :data:`SAFE_BUILTINS`, graph-walking attributes,
    private attributes the learner's own code never sets. ``derives``: a constant small enough to
    be a finite difference's step (:data:`FINITE_DIFFERENCES`). Always: what reaches into the
    kernel (:data:`TAMPER`). ``bound``: the names the learner's code binds at module level.
    ``no_torch``: also the first call of anything in torch (:data:`NO_TORCH`).
    """

    def __init__(
        self,
        table: dict[str, set[str]],
        learner_backward: bool,
        *,
        by_hand: bool = False,
        derives: bool = False,
        bound: Iterable[str] = (),
        own_attrs: Iterable[str] | None = (),
        no_torch: bool = False,
    ) -> None:
        self.table = table
        self.no_torch = no_torch
        self.learner_backward = learner_backward
        self.by_hand = by_hand
        self.derives = derives
        self.bound = set(bound)
        self.own_attrs = None if own_attrs is None else set(own_attrs)  # None: not judged
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
                elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    names.add(sub.name)
                elif isinstance(sub, ast.arg):
                    names.add(sub.arg)
        self.local.append(names)
        for default in [*args.defaults, *args.kw_defaults]:
            if default is not None:
                self.visit(default)
        for stmt in body:
            self.visit(stmt)
        self.local.pop()
        for deco in getattr(node, "decorator_list", []):
            self.visit(deco)
        for annotation in [getattr(node, "returns", None)]:
            if annotation is not None:
                self.visit(annotation)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.local.append({node.name})
        self.generic_visit(node)
        self.local.pop()

    def _scope(self) -> set[str]:
        return set().union(*self.local[1:]) if len(self.local) > 1 else set()

    def _import(self, module: str, what: str) -> None:
        parts = module.split(".")
        if parts[0] not in SAFE_MODULES or any(
            p.startswith("_") and p != "__future__" for p in parts
        ):
            self._add((TAMPER, what))
        elif parts[0] == "course_utils" and len(parts) > 1 and parts[1] in COURSE_PRIVATE:
            self._add((TAMPER, what))
        elif parts[0] == "torch" and len(parts) > 1 and parts[1] in ("ops", "library"):
            self._add((TAMPER, what))
        if self.by_hand and (parts[0] not in BY_HAND_MODULES or not allowed_by_hand(module)):
            self._add((NOT_ALLOWED, what))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(_classify_path(alias.name, self.learner_backward))
            self._import(alias.name, f"import {alias.name}")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:
            self._add((TAMPER, f"from {'.' * node.level}{module} import …"))
        for alias in node.names:
            path = f"{module}.{alias.name}".lstrip(".")
            self._add(_classify_path(path, self.learner_backward))
            self._import(
                path if module in ("course_utils", "torch") else module,
                f"from {module} import {alias.name}",
            )

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if self.no_torch and not any(u[0] == NO_TORCH for u in self.uses):  # one is enough
            for path in _paths(func, self.table, self._scope()):
                if path.split(".")[0] == "torch":
                    self._add((NO_TORCH, f"{path}()"))
                    break
        if isinstance(func, ast.Name) and func.id not in self._scope():
            if func.id in DYNAMIC_BUILTINS:
                self._add((DYNAMIC_CODE, f"{func.id}()"))
            if func.id in ("getattr", "setattr", "delattr", "hasattr") and (
                len(node.args) < 2 or not isinstance(node.args[1], ast.Constant)
            ):
                self._add((DYNAMIC_CODE, f"{func.id}() with a computed name"))
            if func.id in ("setattr", "delattr") and node.args and self._imported(node.args[0]):
                self._add((TAMPER, f"{func.id}() on a module"))
        self.generic_visit(node)

    def _imported(self, node: ast.AST) -> bool:
        """Whether an expression's root name is an import (a module or one of its members)."""
        while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
            node = node.func if isinstance(node, ast.Call) else node.value
        return (
            isinstance(node, ast.Name)
            and node.id not in self._scope()
            and _module_path(self.table, node.id)
        )

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr.startswith("__") and node.attr.endswith("__"):
            if node.attr not in ALLOWED_DUNDERS:
                self._add((TAMPER, f".{node.attr}"))
        elif node.attr in FRAME_ATTRS:
            self._add((TAMPER, f".{node.attr}"))
        if isinstance(node.ctx, (ast.Store, ast.Del)) and self._imported(node.value):
            self._add((TAMPER, f"{_dotted(node)} = … (changing a module)"))
        # the whole chain `torch.autograd.no_grad` is judged once, not its prefix `torch.autograd`
        paths = _paths(node, self.table, self._scope())
        for path in paths:
            self._add(_classify_path(path, self.learner_backward))
            parts = path.split(".")
            if (
                parts[0] == "torch"
                and len(parts) > 1
                and (
                    parts[1] in ("ops", "library")
                    or (parts[1].startswith("_") and parts[1] not in ALLOWED_DUNDERS)
                )
            ):
                self._add((TAMPER, path))
        if self.by_hand:
            self._by_hand_attribute(node, paths)
        inner: ast.AST = node.value
        while isinstance(inner, ast.Attribute):
            if self.by_hand:
                self._by_hand_attribute(inner, set())
            inner = inner.value
        if not isinstance(inner, ast.Name):
            self.visit(inner)
        elif self.by_hand and not any(p.split(".")[0] != inner.id for p in paths):
            self.visit(inner)

    def _by_hand_attribute(self, node: ast.Attribute, paths: set[str]) -> None:
        if node.attr in READY_MADE_ATTRS:
            self._add((READY_MADE, f"Tensor.{node.attr}"))
        rooted = [p for p in paths if not p.startswith("?")]
        if rooted and self._imported(node):
            for path in rooted:
                if not allowed_by_hand(path):
                    self._add((NOT_ALLOWED, path))
            return
        attr = node.attr
        if attr == "backward" and self.learner_backward:
            return  # the learner's own engine; the runtime view still sees torch's
        if attr in VALUE_DENIED and (self.derives or attr not in GRAPH_WALK):
            self._add((NOT_ALLOWED, f".{attr}"))
        elif (
            attr.startswith("_")
            and not attr.startswith("__")
            and self.own_attrs is not None
            and attr not in self.own_attrs
        ):
            self._add((NOT_ALLOWED, f".{attr}"))

    def visit_Name(self, node: ast.Name) -> None:
        if not isinstance(node.ctx, ast.Load):
            return
        local = node.id in self._scope()
        if not local and node.id in TAMPER_BUILTINS and node.id not in self.bound:
            self._add((TAMPER, f"{node.id}"))
        for path in _paths(node, self.table, self._scope()):
            if path != node.id or node.id in DYNAMIC_ROOTS:
                self._add(_classify_path(path, self.learner_backward))
            if self.by_hand and not local and path != node.id and not allowed_by_hand(path):
                self._add((NOT_ALLOWED, path))
        if (
            self.by_hand
            and not local
            and node.id not in self.bound
            and node.id not in self.table
            and node.id in BUILTIN_NAMES
            and node.id not in SAFE_BUILTINS
        ):
            self._add((NOT_ALLOWED, f"{node.id}()"))

    def visit_Constant(self, node: ast.Constant) -> None:
        self._step(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if self.derives and isinstance(node.op, ast.Div):
            divisor = _small_constant(node.right)
            if isinstance(divisor, (int, float)) and abs(divisor) >= 1 / FINITE_STEP:
                self._add((FINITE_DIFFERENCES, f"dividing by {divisor:g}"))
        if not self._step(node):
            self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if not self._step(node):
            self.generic_visit(node)

    def _step(self, node: ast.AST) -> bool:
        """A finite difference's step (or the complex step) where a derivation is asked."""
        if not self.derives:
            return False
        value = _small_constant(node)
        if value is None:
            return False
        if isinstance(value, complex) and value.imag:
            self._add((FINITE_DIFFERENCES, f"the complex step {value!r}"))
        elif isinstance(value, (int, float)) and 0 < abs(value) <= FINITE_STEP:
            self._add((FINITE_DIFFERENCES, f"the step {value:g}"))
        return True


BUILTIN_NAMES = frozenset(dir(__import__("builtins")))


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else "…"


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
    by_hand: bool = False,
    derives: bool = False,
    bound: Iterable[str] = (),
    own_attrs: Iterable[str] | None = (),
    no_torch: bool = False,
) -> list[Use]:
    """Every forbidden-looking means the code refers to, with aliases resolved (see _Finder)."""
    trees = list(code)
    table = aliases if aliases is not None else aliases_of(trees)
    finder = _Finder(
        table,
        learner_backward,
        by_hand=by_hand,
        derives=derives,
        bound=bound,
        own_attrs=own_attrs,
        no_torch=no_torch,
    )
    for tree in trees:
        finder.visit(tree)
    return _shorter(finder.uses)[:MAX_USES]


def _magic(line: str) -> tuple[str, str] | None:
    """``(name, rest)`` of an IPython magic or shell line (``!ls`` is the magic ``!``)."""
    stripped = line.lstrip()
    if stripped.startswith("!"):
        return "!", stripped[1:]
    if stripped.startswith("%"):
        body = stripped.lstrip("%")
        name, _, rest = body.partition(" ")
        return name, rest
    return None


def parse(source: str) -> ast.Module | None:
    """The AST of a cell, or None when it is not Python.

    ``%time``/``%timeit`` lines (and cells) are read as the code they run; other magics and
    shell lines are blanked (:func:`magic_uses` judges them)."""
    lines = []
    for line in source.splitlines():
        magic = _magic(line)
        if magic is None:
            lines.append(line)
        elif magic[0] in ("time", "timeit") and not line.lstrip().startswith("%%"):
            indent = line[: len(line) - len(line.lstrip())]
            rest = magic[1].strip()
            while rest.startswith("-"):  # %timeit -n 10 -r 3 code
                _, _, rest = rest.partition(" ")
                if rest[:1].isdigit():
                    _, _, rest = rest.partition(" ")
                rest = rest.strip()
            lines.append(indent + rest)
        else:
            lines.append("")
    try:
        return ast.parse("\n".join(lines))
    except (SyntaxError, ValueError):
        return None


def magic_uses(source: str) -> list[Use]:
    """IPython magics and shell lines a graded notebook may not hold (``%run``, ``!pip``, …)."""
    found: list[Use] = []
    for line in source.splitlines():
        magic = _magic(line)
        if magic is not None and magic[0] not in SAFE_MAGICS:
            use = (TAMPER, line.strip()[:60])
            if use not in found:
                found.append(use)
    return found


def notebook_tampering() -> list[Use]:
    """What the cells run so far in this kernel hold that the grader counts as tampering.

    The grader judges every cell above a test (``autograder.grading.rules``); :func:`check`
    says the same in the notebook, from IPython's history of raw cells, so that a learner
    learns it before submitting. Outside IPython there is nothing to say.
    """
    try:
        from IPython import get_ipython

        shell = get_ipython()
        cells = list(shell.history_manager.input_hist_raw) if shell is not None else []
    except Exception:  # no IPython, or a history it cannot give
        return []
    trees = [t for t in (parse(c) for c in cells) if t is not None]
    found = [u for u in find_uses(trees) if u[0] in (TAMPER, DYNAMIC_CODE)]
    for cell in cells:
        found += [u for u in magic_uses(cell) if u not in found]
    return found[:MAX_USES]


def function_uses(
    answer: Callable,
    *,
    depth: int = 2,
    by_hand: bool = False,
    derives: bool = False,
    no_torch: bool = False,
) -> list[Use]:
    """The static view inside the learner's kernel: the function's source (where Python has it).

    Global names are resolved to the objects they are bound to now, and functions the answer
    calls that the learner defined in the notebook are inspected too (``depth`` levels).
    ``by_hand``/``derives`` as in :class:`_Finder`, but for private attributes, which this view
    cannot tell from the learner's own (the grader's view can).
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
        found = find_uses(
            [tree],
            aliases=table,
            learner_backward=learner_backward,
            by_hand=by_hand,
            derives=derives,
            bound=set(globals_),
            own_attrs=None,
            no_torch=no_torch,
        )
        uses.extend(found)
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
_PROGRAMS = os.path.join(_COURSE, "programs.py")
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
    # "<frozen importlib._bootstrap>": Python importing a module (a tensor's first print may
    # import one lazily), which runs its code with exec: not the learner's
    if filename.startswith("<frozen "):
        return False
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


# Entry points that differentiate whoever calls them; the other autograd functions count only
# when the learner's code calls them (torch calls forward_ad itself to print a tensor).
_ALWAYS = ("Tensor.backward()", "torch.autograd.backward()", "torch.autograd.grad()")


def _asked_by_learner(frame: types.FrameType, use: Use) -> bool:
    caller = frame.f_back
    if use[1] in _ALWAYS or use[1] == "the autograd engine" or caller is None:
        return True
    return _learner_frame(caller.f_code.co_filename)


def _torch_builtin(fn: Any) -> bool:
    """Whether a builtin is torch's: a function of torch, or a method of a tensor."""
    module = getattr(fn, "__module__", None) or ""
    owner = getattr(fn, "__self__", None)
    return (
        module.startswith("torch")
        or isinstance(owner, torch.Tensor)
        or (isinstance(owner, types.ModuleType) and owner.__name__.startswith("torch"))
        or (isinstance(owner, type) and owner.__module__.startswith("torch"))
    )


class Watch:
    """Record what the learner's function used while it ran: see the module docstring.

    One Watch per :func:`check`; :meth:`recording` wraps each call of the learner's function.
    It does nothing for an exercise that forbids nothing.
    """

    def __init__(self, forbids: Iterable[str], answer: Callable | None = None) -> None:
        self.forbids = frozenset(forbids)
        self.answer = answer
        self.uses: list[Use] = []
        self.observed: list[dict] = []  # how each call went: see observe()
        self._allowed: set[types.CodeType] = set()
        self._inside: types.FrameType | None = None
        self._now: dict = {}

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
        self._count(frame, event, arg)
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
                if use is not None and not _asked_by_learner(frame, use):
                    use = None  # torch's own use (printing a tensor asks forward_ad)
            elif filename.startswith(_EXERCISES) or filename in (_GRAPH, _PROGRAMS):
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
            elif NO_TORCH in self.forbids and _torch_builtin(arg):
                if _learner_frame(frame.f_code.co_filename):
                    on_tensor = isinstance(getattr(arg, "__self__", None), torch.Tensor)
                    self._note((NO_TORCH, f"{'Tensor' if on_tensor else 'torch'}.{name}()"))
        if (
            event == "call"
            and NO_TORCH in self.forbids
            and frame.f_code.co_filename.startswith(_TORCH)
            and frame.f_back is not None
            and _learner_frame(frame.f_back.f_code.co_filename)
        ):
            self._note((NO_TORCH, f"torch: {frame.f_code.co_qualname}()"))

    def _count(self, frame: types.FrameType, event: str, arg: Any) -> None:
        """The process, whatever is forbidden: engine runs, hooks, the learner's own backward."""
        now = self._now
        if event == "c_call" and getattr(arg, "__name__", "") == "run_backward":
            now["engine_runs"] += 1
        elif event == "call":
            code = frame.f_code
            if code.co_name == "register_hook" and code.co_filename.startswith(_TORCH):
                now["hooks"] += 1
            elif code.co_name == "backward" and _learner_frame(code.co_filename):
                now["own_backward"] += 1

    def call(self, answer: Callable, args: tuple) -> Any:
        """``answer(*args)``, recorded (what it used, and how it went: :attr:`observed`)."""
        self._now = {
            "engine_runs": 0,
            "hooks": 0,
            "own_backward": 0,
            "forward_grad": [],  # was autograd recording when a model the exercise gave ran?
            "optimizer_frozen": False,  # did an optimizer step hold a frozen parameter?
        }
        self.observed.append(self._now)
        if not self.active:
            return answer(*args)
        self._allow_methods_of(args)
        handles = self._instrument(args)
        previous = sys.getprofile()
        sys.setprofile(self._profile)
        self._inside = None
        try:
            return answer(*args)
        finally:
            sys.setprofile(previous)
            for handle in handles:
                handle.remove()

    def _instrument(self, args: tuple) -> list:
        """Hooks on what the exercise hands over: the learner's code never sees them."""
        now = self._now
        handles = []
        for arg in args:
            if isinstance(arg, torch.nn.Module):
                handles.append(
                    arg.register_forward_pre_hook(
                        lambda module, inputs: now["forward_grad"].append(torch.is_grad_enabled())
                    )
                )

        def step_pre_hook(optimizer, *_: Any) -> None:
            if any(
                not p.requires_grad for group in optimizer.param_groups for p in group["params"]
            ):
                now["optimizer_frozen"] = True

        from torch.optim.optimizer import register_optimizer_step_pre_hook

        handles.append(register_optimizer_step_pre_hook(step_pre_hook))
        return handles

    def static_uses(self) -> list[Use]:
        if not self.active or self.answer is None:
            return []
        try:
            return function_uses(
                self.answer,
                by_hand=NOT_ALLOWED in self.forbids,
                derives=FINITE_DIFFERENCES in self.forbids,
                no_torch=NO_TORCH in self.forbids,
            )
        except Exception:  # never let an odd function break the check itself
            return []

    def violations(self) -> list[Use]:
        return forbidden([*self.uses, *self.static_uses()], self.forbids)
