"""Lesson 6 · The computational graph: grad_fn, next_functions, leaves."""

from __future__ import annotations

import torch

from course_utils.exercises import (
    BY_HAND,
    COURSE_REFERENCE,
    DYNAMIC_CODE,
    Exercise,
    Mistake,
    register,
)
from course_utils.graph import walk
from course_utils.i18n import Msg
from course_utils.objects import STEPS, Expression, Terms
from course_utils.rules import NO_TORCH


def _int(gen: torch.Generator, low: int, high: int) -> int:
    return int(torch.randint(low, high + 1, (1,), generator=gen))


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


def _children(node, *, nones: bool = False) -> list:
    return [n for n, _ in node.next_functions if nones or n is not None]


def _count_walk(node, *, dedup: bool = True, leaves: bool = True, nones: bool = False) -> int:
    """Nodes as a learner's walk counts them (the switches are the usual slips)."""
    seen, stack, count = set(), [node], 0
    while stack:
        n = stack.pop()
        if n is None:
            count += 1
            continue
        if dedup and n in seen:
            continue
        seen.add(n)
        if leaves or type(n).__name__ != "AccumulateGrad":
            count += 1
        stack.extend(_children(n, nones=nones))
    return count


def _depth_walk(node, *, pick=max, nodes: bool = False) -> int:
    kids = _children(node)
    if not kids:
        return 1 if nodes else 0
    return 1 + pick(_depth_walk(k, pick=pick, nodes=nodes) for k in kids)


register(
    Exercise(
        id="computational_graph.count_nodes",
        forbids=frozenset({COURSE_REFERENCE, DYNAMIC_CODE}),
        title=Msg("Counting the nodes of a graph", "数一数计算图的节点"),
        make_args=_expression_args,
        reference=_count_nodes,
        kind="value",
        hints=(
            Msg(
                "Start at y.grad_fn and follow next_functions, which lists each node's inputs as "
                "(node, index) pairs. Count the nodes you reach, each one once, and ask yourself "
                "which entries are not nodes at all.",
                "从 y.grad_fn 出发，沿着 next_functions 走；它以 (节点, 下标) 对的形式列出每个节点的输入。"
                "把走到的节点都数上，每个只数一次；再想一想，其中哪些条目根本不是节点。",
            ),
            Msg(
                "A node can be reached along several paths (y * y, y * x): remember the nodes "
                "you have seen. None marks an input that needs no gradient and is skipped. The "
                "leaf x has a node too, AccumulateGrad, and it counts. (print(expr) shows the code.)",
                "同一个节点可能经由多条路径到达（y * y、y * x）：记下已经见过的节点。None 表示不需要梯度的"
                "输入，要跳过。叶子张量 x 也有一个节点 AccumulateGrad，它也要算上。"
                "（print(expr) 可以显示它运行的代码。）",
            ),
        ),
        mistakes=(
            Mistake(
                "paths_not_nodes",
                lambda expr, x: _count_walk(expr(x).grad_fn, dedup=False),
                Msg(
                    "You counted paths, not nodes: a node reached along two paths was counted "
                    "twice. Remember the nodes you have already seen.",
                    "你数的是路径而不是节点：经由两条路径到达的节点被数了两次。请记下已经见过的节点。",
                ),
            ),
            Mistake(
                "leaf_left_out",
                lambda expr, x: _count_walk(expr(x).grad_fn, leaves=False),
                Msg(
                    "Your count leaves out AccumulateGrad, the node of the leaf x: it is part of "
                    "the graph too.",
                    "你的计数漏掉了叶子张量 x 的节点 AccumulateGrad：它也是计算图的一部分。",
                ),
            ),
            Mistake(
                "none_counted",
                lambda expr, x: _count_walk(expr(x).grad_fn, nones=True),
                Msg(
                    "You counted the None entries of next_functions: they mark inputs that need no "
                    "gradient (a constant), not nodes.",
                    "你把 next_functions 里的 None 也数进去了：它们表示不需要梯度的输入（常数），不是节点。",
                ),
            ),
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
        hints=(
            Msg(
                "Count arrows, not nodes. The longest path from a node is one arrow plus the "
                "longest path from one of its inputs; a node without inputs is where paths end.",
                "数的是箭头而不是节点。从一个节点出发的最长路径，等于一个箭头加上从它某个输入出发的最长路径；"
                "没有输入的节点就是路径的终点。",
            ),
            Msg(
                "That definition is a recursion: the AccumulateGrad node of a leaf has length 0, "
                "and every other node takes the largest length among all its inputs (skip the "
                "None entries), plus one.",
                "这个定义本身就是递归：叶子张量的 AccumulateGrad 节点长度为 0；其他每个节点取它所有输入"
                "（跳过 None）中最大的长度，再加一。",
            ),
        ),
        mistakes=(
            Mistake(
                "nodes_not_arrows",
                lambda expr, x: _depth_walk(expr(x).grad_fn, nodes=True),
                Msg(
                    "Your length counts the nodes on the path; the question counts arrows, one "
                    "fewer.",
                    "你的长度数的是路径上的节点；题目数的是箭头，比节点少一个。",
                ),
            ),
            Mistake(
                "shortest",
                lambda expr, x: _depth_walk(expr(x).grad_fn, pick=min),
                Msg(
                    "You followed the shortest branch; the longest path takes the longest one at "
                    "every node.",
                    "你沿着最短的分支走；最长路径在每个节点都要选最长的那一支。",
                ),
            ),
        ),
        edge_cases=lambda: [
            (Expression(("reuse",)), _x(0.3, -0.4)),
            (Expression(("branch",)), _x(1.0)),
            (Expression(("branch",)), _x(-1.0)),
            (Expression(("loop", "times_x", "sum")), _x(2.0, 1.0)),
        ],
    )
)


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


def _leaf_uses(expr, xs) -> int:
    """AccumulateGrad nodes counted once per path (a tree walk without a seen set)."""
    y = expr(*xs)
    if y.grad_fn is None:
        return 0
    count, stack = 0, [y.grad_fn]
    while stack:
        n = stack.pop()
        count += type(n).__name__ == "AccumulateGrad"
        stack.extend(_children(n))
    return count


def _leaves_mentioned(expr, xs) -> int:
    """Inputs that require grad and appear anywhere in the formula, detached or not."""
    used = {i for _, i, j in expr.terms} | {j for _, i, j in expr.terms}
    return sum(xs[i].requires_grad for i in used)


register(
    Exercise(
        id="computational_graph.grad_leaves",
        derives=False,
        forbids=BY_HAND,
        title=Msg("Leaves that will receive a gradient", "会得到梯度的叶子张量"),
        make_args=_terms_args,
        reference=_grad_leaves,
        kind="value",
        hints=(
            Msg(
                "A leaf gets a gradient when it requires grad and y depends on it through "
                "operations that autograd recorded. Which inputs fail one of those two tests?",
                "一个叶子张量会得到梯度，需要同时满足：它需要梯度，并且 y 通过 autograd 记录下来的运算"
                "依赖于它。哪些输入不满足其中某一条？",
            ),
            Msg(
                "In the graph each such leaf has exactly one AccumulateGrad node, however often it "
                "is used. An input seen only through .detach() is not in the graph, nor is an input "
                "with requires_grad=False. If y has no grad_fn there is no graph at all.",
                "在计算图中，每个这样的叶子张量恰好对应一个 AccumulateGrad 节点，不论它被用了多少次。"
                "只通过 .detach() 出现的输入不在图里，requires_grad=False 的输入也不在。"
                "如果 y 没有 grad_fn，就根本没有计算图。",
            ),
        ),
        mistakes=(
            Mistake(
                "requires_grad_inputs",
                lambda expr, xs: sum(x.requires_grad for x in xs),
                Msg(
                    "You counted every input that requires grad; an input that y does not use, or "
                    "uses only through .detach(), gets no gradient.",
                    "你数了所有需要梯度的输入；但 y 没有用到的输入，或者只通过 .detach() 用到的输入，"
                    "都得不到梯度。",
                ),
            ),
            Mistake(
                "uses_not_leaves",
                lambda expr, xs: _leaf_uses(expr, xs),
                Msg(
                    "You counted uses, not leaves: a leaf used in two terms still has one "
                    "AccumulateGrad node and gets one .grad.",
                    "你数的是使用次数而不是叶子张量：在两项里都用到的叶子张量，仍然只有一个 AccumulateGrad "
                    "节点，也只得到一个 .grad。",
                ),
            ),
            Mistake(
                "detach_counted",
                lambda expr, xs: _leaves_mentioned(expr, xs),
                Msg(
                    "You counted inputs seen only through .detach(): the detached copy is cut off "
                    "from the graph, so no gradient flows back to the original.",
                    "你把只通过 .detach() 出现的输入也算上了：detach 得到的副本与计算图断开了，"
                    "梯度不会流回原来的张量。",
                ),
            ),
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


def _run_program(program: list[str]) -> list[bool]:
    """Run the lines with torch and ask every tensor whether it is a leaf."""
    names: dict = {"torch": torch}
    exec("\n".join(program), names)  # the lines come from LINE_FORMS only
    return [bool(names[f"t{i}"].is_leaf) for i in range(len(program))]


def _leaf_mask_by_hand(
    program: list[str],
    *,
    ops_always_recorded: bool = False,
    leaf_is_no_grad: bool = False,
    detach_keeps: bool = False,
    requires_grad_keeps_history: bool = False,
) -> list[bool]:
    """Leaves as a learner's line-by-line reading marks them (the switches are the slips)."""
    leaf: list[bool] = []
    grad: list[bool] = []
    for line in program:
        rhs = line.split(" = ", 1)[1]
        ops = [
            int(t)
            for t in rhs.replace("t", " ").replace("*", " ").replace(".", " ").split()
            if t.isdigit()
        ]
        if rhs.startswith("torch.randn"):
            g, lf = "requires_grad=True" in rhs, True
        elif ".detach()" in rhs:
            src = ops[0]
            revived = rhs.endswith("requires_grad_()")
            g = revived or (detach_keeps and grad[src])
            lf = True if revived or not detach_keeps else leaf[src]
            if revived and requires_grad_keeps_history:
                lf = False
        else:  # an operation: * or .exp()
            g = any(grad[i] for i in ops)
            lf = not (g or ops_always_recorded)
        grad.append(g)
        leaf.append(not g if leaf_is_no_grad else lf)
    return leaf


register(
    Exercise(
        id="computational_graph.leaf_mask",
        # A prediction from reading the lines: running them with torch would be the answer.
        forbids=frozenset({COURSE_REFERENCE, DYNAMIC_CODE, NO_TORCH}),
        title=Msg("Which tensors are leaves?", "哪些张量是叶子张量？"),
        make_args=_program_args,
        reference=_run_program,
        kind="value",
        hints=(
            Msg(
                "A tensor is a leaf unless autograd recorded the operation that made it. Go line "
                "by line and keep track of one property per tensor: does it require grad?",
                "除非一个张量是由 autograd 记录下来的运算产生的，否则它就是叶子张量。逐行往下看，"
                "并为每个张量记住一个属性：它需要梯度吗？",
            ),
            Msg(
                "Tensors you create are leaves, with or without requires_grad. An operation is "
                "recorded only when one of its inputs requires grad; otherwise its result is a "
                "leaf too. .detach() starts afresh, whatever requires_grad_() does afterwards. "
                "Return a list of Python bools, one per line.",
                "你直接创建的张量都是叶子张量，不论有没有 requires_grad。只有某个输入需要梯度时，"
                "运算才会被记录；否则运算的结果也是叶子张量。.detach() 会从头开始，不论之后是否调用了 "
                "requires_grad_()。返回一个由 Python bool 组成的列表，每行对应一项。",
            ),
        ),
        mistakes=(
            Mistake(
                "operations_never_leaves",
                lambda program: _leaf_mask_by_hand(program, ops_always_recorded=True),
                Msg(
                    "You marked every operation's result as a non-leaf; when no input requires "
                    "grad, autograd records nothing and the result is a leaf.",
                    "你把所有运算的结果都标成了非叶子张量；但如果没有任何输入需要梯度，"
                    "autograd 什么也不记录，结果仍是叶子张量。",
                ),
            ),
            Mistake(
                "leaf_means_no_grad",
                lambda program: _leaf_mask_by_hand(program, leaf_is_no_grad=True),
                Msg(
                    'You treated "leaf" as "does not require grad": a tensor created with '
                    "requires_grad=True is a leaf, the very kind that receives .grad.",
                    "你把“叶子张量”当成了“不需要梯度”：用 requires_grad=True 创建的张量正是叶子张量，"
                    "而且正是会得到 .grad 的那一种。",
                ),
            ),
            Mistake(
                "revived_not_leaf",
                lambda program: _leaf_mask_by_hand(program, requires_grad_keeps_history=True),
                Msg(
                    "You marked .detach().requires_grad_() as a non-leaf: requires_grad_() only "
                    "asks autograd to record what comes next; the detached tensor it is called "
                    "on has no history, so it is a leaf that will receive .grad.",
                    "你把 .detach().requires_grad_() 的结果标成了非叶子张量：requires_grad_() "
                    "只是让 autograd 记录之后的运算；它所作用的、已经分离出来的张量没有历史，"
                    "所以它是叶子张量，而且会得到 .grad。",
                ),
            ),
            Mistake(
                "detach_keeps_history",
                lambda program: _leaf_mask_by_hand(program, detach_keeps=True),
                Msg(
                    "You let .detach() keep its source's history; it returns a tensor cut off from "
                    "the graph, which is a leaf.",
                    ".detach() 被你当成保留了原张量的历史；其实它返回的是与计算图断开的张量，是叶子张量。",
                ),
            ),
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
