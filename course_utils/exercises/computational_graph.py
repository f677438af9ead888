"""Lesson 6 · The computational graph: grad_fn, next_functions, leaves."""

from __future__ import annotations

import torch

from course_utils.exercises import BY_HAND, COURSE_REFERENCE, DYNAMIC_CODE, Exercise, register
from course_utils.graph import walk
from course_utils.i18n import Msg


def _int(gen: torch.Generator, low: int, high: int) -> int:
    return int(torch.randint(low, high + 1, (1,), generator=gen))


# One step of a random expression: the code it runs on `y` (x is the input).
STEPS = {
    "sin": "y = y.sin()",
    "exp": "y = (y / 4).exp()",
    "square": "y = y * y",
    "times_x": "y = y * x",
    "plus_x": "y = y + x",
    "double": "y = 2 * y",
    "reuse": "y = y.tanh() + y",
    "branch": "y = y.sin() if y.sum() > 0 else y.cos() * 3",
    "loop": "for _ in range(3): y = y + 1",
    "sum": "y = y.sum()",
}


SHORT = {
    "sin": "sin",
    "exp": "exp",
    "square": "y*y",
    "times_x": "y*x",
    "plus_x": "y+x",
    "double": "2y",
    "reuse": "tanh+y",
    "branch": "if",
    "loop": "for",
    "sum": "sum",
}


class Expression:
    """A small random function of one tensor; ``print`` shows the code it runs."""

    def __init__(self, steps: tuple[str, ...]) -> None:
        self.steps = tuple(steps)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        for step in self.steps:
            if step == "sin":
                y = y.sin()
            elif step == "exp":
                y = (y / 4).exp()
            elif step == "square":
                y = y * y
            elif step == "times_x":
                y = y * x
            elif step == "plus_x":
                y = y + x
            elif step == "double":
                y = 2 * y
            elif step == "reuse":
                y = y.tanh() + y
            elif step == "branch":  # Python control flow: the graph depends on the data
                y = y.sin() if y.sum() > 0 else y.cos() * 3
            elif step == "loop":
                for _ in range(3):
                    y = y + 1
            elif step == "sum":
                y = y.sum()
            else:
                raise ValueError(step)
        return y

    def __str__(self) -> str:
        return "y = x; " + "; ".join(STEPS[s] for s in self.steps)

    def __repr__(self) -> str:  # short, for feedback; print(expr) shows the code
        return "<" + ", ".join(SHORT[s] for s in self.steps) + ">"


_BODY = [s for s in STEPS if s != "sum"]


def _expression_args(gen: torch.Generator) -> tuple:
    n_steps = _int(gen, 1, 6)
    steps = [_BODY[_int(gen, 0, len(_BODY) - 1)] for _ in range(n_steps)]
    if _int(gen, 0, 1):
        steps.append("sum")
    x = (torch.randn(_int(gen, 1, 4), generator=gen)).requires_grad_(True)
    return Expression(tuple(steps)), x


def _count_nodes(expr: Expression, x: torch.Tensor) -> int:
    return len(walk(expr(x)).nodes)


def _longest_path(expr: Expression, x: torch.Tensor) -> int:
    return max(walk(expr(x)).depth, default=0)


def _x(*values: float) -> torch.Tensor:
    return torch.tensor(values, requires_grad=True)


register(
    Exercise(
        id="computational_graph.count_nodes",
        forbids=frozenset({COURSE_REFERENCE, DYNAMIC_CODE}),
        title=Msg("Counting the nodes of a graph", "数一数计算图的节点"),
        make_args=_expression_args,
        reference=_count_nodes,
        kind="value",
        hint=Msg(
            "Start at y.grad_fn and follow next_functions, a tuple of (node, index) pairs; skip "
            "None (an input that needs no gradient). A node can be reached along several paths "
            "(y * y, y * x): keep a set of the nodes you have seen and count each once. "
            "AccumulateGrad, the node of the leaf x, counts too. (print(expr) shows the code it runs.)",
            "从 y.grad_fn 出发，沿着 next_functions 走；它是由 (节点, 下标) 组成的元组，遇到 None "
            "（不需要梯度的输入）就跳过。同一个节点可能经由多条路径到达（y * y、y * x）："
            "用一个集合记下已经见过的节点，每个只数一次。叶子张量 x 对应的 AccumulateGrad 节点也要算上。"
            "（print(expr) 可以显示它运行的代码。）",
        ),
        edge_cases=lambda: [
            (Expression(("square", "square", "square", "square")), _x(1.0, 2.0)),
            (Expression(("branch", "sum")), _x(1.0, 2.0)),
            (Expression(("branch", "sum")), _x(-1.0, -2.0)),
            (Expression(("loop",)), _x(0.5)),
        ],
    )
)

register(
    Exercise(
        id="computational_graph.longest_path",
        forbids=frozenset({COURSE_REFERENCE, DYNAMIC_CODE}),
        title=Msg("The longest path from the root", "从根出发的最长路径"),
        make_args=_expression_args,
        reference=_longest_path,
        kind="value",
        hint=Msg(
            "Count arrows, not nodes: an AccumulateGrad node (no next_functions) has length 0, "
            "and any other node has 1 + the largest length among its children. Recursion says "
            "this in three lines; skip the None entries of next_functions.",
            "数的是箭头而不是节点：AccumulateGrad 节点（没有 next_functions）的长度是 0，"
            "其他节点的长度是 1 加上它所有子节点中最大的长度。用递归三行就能写完；"
            "记得跳过 next_functions 里的 None。",
        ),
        edge_cases=lambda: [
            (Expression(("reuse",)), _x(0.3, -0.4)),
            (Expression(("branch",)), _x(1.0)),
            (Expression(("branch",)), _x(-1.0)),
            (Expression(("loop", "times_x", "sum")), _x(2.0, 1.0)),
        ],
    )
)


class Terms:
    """y = Σ f(xs[i]) * xs[j] over a few random terms; ``repr`` shows the formula."""

    FORMS = {"sin": "xs[{i}].sin()", "exp": "xs[{i}].exp()", "detach": "xs[{i}].detach()"}

    def __init__(self, terms: tuple[tuple[str, int, int], ...]) -> None:
        self.terms = tuple(terms)

    def __call__(self, *xs: torch.Tensor) -> torch.Tensor:
        total = None
        for form, i, j in self.terms:
            a = xs[i].sin() if form == "sin" else xs[i].exp() if form == "exp" else xs[i].detach()
            term = a * xs[j]
            total = term if total is None else total + term
        return total

    def __repr__(self) -> str:
        parts = [f"{self.FORMS[f].format(i=i)} * xs[{j}]" for f, i, j in self.terms]
        return "y = " + " + ".join(parts)


def _terms_args(gen: torch.Generator) -> tuple:
    k = _int(gen, 2, 5)
    n = _int(gen, 1, 3)
    xs = tuple(
        torch.randn(n, generator=gen).requires_grad_(bool(_int(gen, 0, 1))) for _ in range(k)
    )
    forms = ("sin", "exp", "detach")
    terms = tuple(
        (forms[_int(gen, 0, 2)], _int(gen, 0, k - 1), _int(gen, 0, k - 1))
        for _ in range(_int(gen, 1, 3))
    )
    return Terms(terms), xs


def _grad_leaves(expr: Terms, xs: tuple[torch.Tensor, ...]) -> int:
    """Ask autograd itself: which inputs that require grad does y really depend on?"""
    y = expr(*xs)
    wanted = [x for x in xs if x.requires_grad]
    if not y.requires_grad or not wanted:
        return 0
    grads = torch.autograd.grad(y.sum(), wanted, allow_unused=True)
    return sum(g is not None for g in grads)


def _xs(*flags: bool) -> tuple[torch.Tensor, ...]:
    return tuple(torch.tensor([1.0, 2.0], requires_grad=f) for f in flags)


register(
    Exercise(
        id="computational_graph.grad_leaves",
        forbids=BY_HAND,
        title=Msg("Leaves that will receive a gradient", "会得到梯度的叶子张量"),
        make_args=_terms_args,
        reference=_grad_leaves,
        kind="value",
        hint=Msg(
            "Walk the graph of y and count its AccumulateGrad nodes: there is exactly one per leaf "
            "that requires grad and that y depends on, however often that leaf is used. Inputs "
            "with requires_grad=False, unused inputs and inputs seen only through .detach() are "
            "not in the graph. If y.grad_fn is None there is no graph at all: the answer is 0.",
            "遍历 y 的计算图，数其中的 AccumulateGrad 节点：y 所依赖的、需要梯度的每个叶子张量恰好对应一个，"
            "不论它被用了多少次。requires_grad=False 的输入、没有用到的输入，以及只通过 .detach() "
            "出现的输入，都不在图里。如果 y.grad_fn 是 None，就根本没有计算图：答案是 0。",
        ),
        edge_cases=lambda: [
            (Terms((("sin", 0, 0), ("exp", 0, 1))), _xs(True, True)),
            (Terms((("sin", 0, 1),)), _xs(False, False)),
            (Terms((("detach", 0, 1), ("detach", 1, 0))), _xs(True, False)),
            (Terms((("detach", 0, 1),)), _xs(True, True, True)),
        ],
    )
)


# The lines a program may contain; tJ, tK are earlier tensors.
LINE_FORMS = {
    "new_grad": "t{i} = torch.randn(3, requires_grad=True)",
    "new": "t{i} = torch.randn(3)",
    "mul": "t{i} = t{j} * t{k}",
    "exp": "t{i} = t{j}.exp()",
    "detach": "t{i} = t{j}.detach()",
    "new_leaf": "t{i} = t{j}.detach().requires_grad_()",
}


# How often each kind of line is drawn: operations often, so that non-leaves are common.
_LINE_WEIGHTS = {"new_grad": 2, "new": 1, "mul": 3, "exp": 2, "detach": 1, "new_leaf": 1}


def _program_args(gen: torch.Generator) -> tuple:
    n = _int(gen, 3, 7)
    pool = [kind for kind, w in _LINE_WEIGHTS.items() for _ in range(w)]
    lines = [LINE_FORMS["new" if _int(gen, 0, 3) == 0 else "new_grad"].format(i=0)]
    for i in range(1, n):
        kind = pool[_int(gen, 0, len(pool) - 1)]
        j, k = _int(gen, 0, i - 1), _int(gen, 0, i - 1)
        lines.append(LINE_FORMS[kind].format(i=i, j=j, k=k))
    return (lines,)


def _run_program(program: list[str]) -> torch.Tensor:
    """Run the lines with torch and ask every tensor whether it is a leaf."""
    names: dict = {"torch": torch}
    exec("\n".join(program), names)  # the lines come from LINE_FORMS only
    return torch.tensor([names[f"t{i}"].is_leaf for i in range(len(program))])


register(
    Exercise(
        id="computational_graph.leaf_mask",
        forbids=frozenset({COURSE_REFERENCE, DYNAMIC_CODE}),
        title=Msg("Which tensors are leaves?", "哪些张量是叶子张量？"),
        make_args=_program_args,
        reference=_run_program,
        hint=Msg(
            "A tensor is a leaf unless autograd recorded the operation that made it. Tensors you "
            "create (torch.randn(...), with or without requires_grad) are leaves; .detach() gives a "
            "leaf, and so does .detach().requires_grad_(). An operation (*, .exp()) makes a "
            "non-leaf only if one of its inputs requires grad; otherwise its result is a leaf too. "
            "Track requires_grad line by line and return a bool tensor, one entry per line.",
            "除非一个张量是由 autograd 记录下来的运算产生的，否则它就是叶子张量。你直接创建的张量"
            "（torch.randn(...)，不论有没有 requires_grad）是叶子张量；.detach() 得到的也是，"
            ".detach().requires_grad_() 得到的同样是。运算（*、.exp()）只有在某个输入需要梯度时"
            "才会产生非叶子张量，否则结果仍是叶子张量。逐行记录 requires_grad，"
            "返回一个 bool 张量，每行对应一个元素。",
        ),
        edge_cases=lambda: [
            ([LINE_FORMS["new"].format(i=0), "t1 = t0 * t0", "t2 = t1.exp()"],),
            (
                [
                    LINE_FORMS["new_grad"].format(i=0),
                    "t1 = t0.detach()",
                    "t2 = t1 * t0",
                    "t3 = t1.exp()",
                ],
            ),
            (
                [
                    LINE_FORMS["new_grad"].format(i=0),
                    "t1 = t0.exp()",
                    "t2 = t1.detach().requires_grad_()",
                    "t3 = t2 * t2",
                ],
            ),
        ],
    )
)
