"""Lesson 4 · The computational graph: grad_fn, next_functions, leaves, summed gradients."""

from __future__ import annotations

import torch

from course_utils.exercises import (
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


register(
    Exercise(
        id="computational_graph.count_nodes",
        forbids=frozenset({COURSE_REFERENCE, DYNAMIC_CODE}),
        asks="build",
        novel="a walk over next_functions that visits each node once; the page's only walk "
        "(backward_by_hand) visits a shared node once per path",
        title=Msg("Counting the nodes of a graph", "数一数计算图的节点"),
        make_args=_expression_args,
        reference=_count_nodes,
        kind="value",
        hints=(
            Msg(
                "Start at y.grad_fn and follow next_functions, which lists each node's inputs as "
                "(node, index) pairs. Count the nodes you reach, each one once, and ask yourself "
                "which entries are not nodes at all.",
                "从 y.grad_fn 出发，沿着 next_functions 走；它以 (node, index) 二元组（节点与下标）的形式列出每个节点的输入。"
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


def _arrows_in(y: torch.Tensor) -> dict[int, int]:
    """Node index (in walk's order) -> the arrows that point to it: one per gradient it gets."""
    arrows: dict[int, int] = {}
    for _, child in walk(y).edges:
        arrows[child] = arrows.get(child, 0) + 1
    return arrows


def _summed_nodes(expr: Expression, x: torch.Tensor) -> int:
    """The nodes where the engine adds up two or more gradients before it calls the node."""
    return sum(n >= 2 for n in _arrows_in(expr(x)).values())


def _summed_by_parents(expr: Expression, x: torch.Tensor) -> int:
    """Nodes with two distinct parents: y * y, two arrows from one node, counted as one."""
    graph = walk(expr(x))
    parents: dict[int, set[int]] = {}
    for p, c in graph.edges:
        parents.setdefault(c, set()).add(p)
    return sum(len(ps) >= 2 for ps in parents.values())


def _summed_without_leaves(expr: Expression, x: torch.Tensor) -> int:
    y = expr(x)
    graph = walk(y)
    arrows = _arrows_in(y)
    return sum(n >= 2 and not hasattr(graph.nodes[i], "variable") for i, n in arrows.items())


def _reached_twice(expr: Expression, x: torch.Tensor) -> int:
    """Nodes reached along two or more paths from the root: what backward_by_hand calls twice."""
    graph = walk(expr(x))
    order = sorted(range(len(graph.nodes)), key=lambda i: graph.depth[i])  # parents first
    paths = [0] * len(graph.nodes)
    if graph.nodes:
        paths[0] = 1
    for i in order:
        for p, c in graph.edges:
            if p == i:
                paths[c] += paths[i]
    return sum(n >= 2 for n in paths)


def _one_per_arrow(expr: Expression, x: torch.Tensor) -> int:
    """Every arrow after the first into a node, added up: the extra gradients, not the nodes."""
    return sum(n - 1 for n in _arrows_in(expr(x)).values())


register(
    Exercise(
        id="computational_graph.summed_grads",
        forbids=frozenset({COURSE_REFERENCE, DYNAMIC_CODE}),
        asks="build",
        novel="the engine's dependency count: how many gradients each node waits for, two from "
        "one node in y * y; the page says only that gradients meeting at a node are added",
        title=Msg("Nodes that receive a summed gradient", "接收梯度之和的节点"),
        make_args=_expression_args,
        reference=_summed_nodes,
        kind="value",
        hints=(
            Msg(
                "Before backward() calls a node, it waits until every gradient meant for that "
                "node has arrived, and adds them up. Where do a node's gradients come from, and "
                "can one node send it more than one?",
                "backward() 在调用一个节点之前，会等发给这个节点的梯度全部到齐，再把它们相加。"
                "一个节点的梯度是从哪里来的？同一个节点能不能给它发不止一个梯度？",
            ),
            Msg(
                "Each entry of next_functions is an arrow, and each arrow carries one "
                "gradient: a node gets as many gradients as there are entries, anywhere in the "
                "graph, that point to it. In y * y both entries point to one node. A node that "
                "is reached along two paths still sends its own gradients only once.",
                "next_functions 中的每一项都是一个箭头，每个箭头传送一个梯度：整个计算图中有多少项指向一个节点，"
                "它就收到多少个梯度。在 y * y 中，两项都指向同一个节点。经由两条路径到达的节点，"
                "也只把它自己的梯度发送一次。",
            ),
        ),
        mistakes=(
            Mistake(
                "distinct_parents",
                _summed_by_parents,
                Msg(
                    "You counted the nodes that send gradients, not the arrows: in y * y one "
                    "node sends two gradients to the same input, one per entry of "
                    "next_functions, and they are added up there.",
                    "你数的是发送梯度的节点，而不是箭头：在 y * y 中，一个节点向同一个输入发送两个梯度，"
                    "next_functions 中每项一个，它们在那里相加。",
                ),
            ),
            Mistake(
                "leaf_left_out",
                _summed_without_leaves,
                Msg(
                    "You left out the AccumulateGrad nodes: a leaf used several times gets "
                    "several gradients too, and they are added up before they reach .grad.",
                    "你漏掉了 AccumulateGrad 节点：被多次使用的叶子张量同样会收到多个梯度，"
                    "它们相加之后才进入 .grad。",
                ),
            ),
            Mistake(
                "paths_not_arrows",
                _reached_twice,
                Msg(
                    "You counted the nodes reached along two or more paths from the root. A node "
                    "with one arrow into it gets one gradient, however many paths lead to its "
                    "parent: the parent has already added up its own.",
                    "你数的是从根节点出发、经由两条或更多路径到达的节点。只有一个箭头指向的节点只收到一个梯度，"
                    "不论通向它父节点的路径有几条：父节点已经先把自己收到的梯度加好了。",
                ),
            ),
            Mistake(
                "extra_arrows",
                _one_per_arrow,
                Msg(
                    "You counted the extra gradients (every arrow after the first into a node); "
                    "the question counts nodes: a node that adds up three gradients is one node.",
                    "你数的是多出来的梯度（指向一个节点的第一个箭头之后的每个箭头）；题目数的是节点："
                    "把三个梯度相加的节点也只是一个节点。",
                ),
            ),
        ),
        edge_cases=lambda: [
            (Expression(("square",)), _x(1.5, -0.5)),
            (Expression(("reuse", "sin", "reuse")), _x(0.3, -0.4)),
            (Expression(("times_x", "plus_x", "times_x", "sum")), _x(1.0, 2.0)),
            (Expression(("double", "exp")), _x(0.2)),
            (Expression(("reuse", "reuse", "reuse")), _x(0.5)),
        ],
    )
)


def _terms_args(gen: torch.Generator) -> tuple:
    k = _int(gen, 2, 5)
    flags = tuple(bool(_int(gen, 0, 1)) for _ in range(k))
    forms = ("sin", "exp", "detach")
    terms = tuple(
        (forms[_int(gen, 0, 2)], _int(gen, 0, k - 1), _int(gen, 0, k - 1))
        for _ in range(_int(gen, 1, 3))
    )
    return Terms(terms), flags


def _gets_grad(expr: Terms, requires_grad: tuple[bool, ...]) -> list[bool]:
    """Ask autograd itself: after y.backward(), which inputs hold a .grad?"""
    xs = [torch.tensor([0.5, -1.5], requires_grad=flag) for flag in requires_grad]
    y = expr(*xs)
    if not y.requires_grad:  # no graph at all: backward() could not even run
        return [False] * len(xs)
    y.sum().backward()
    return [x.grad is not None for x in xs]


def _gets_grad_if(expr: Terms, requires_grad: tuple[bool, ...], used) -> list[bool]:
    """A learner's reading: input i gets a gradient when it requires grad and ``used(expr)``
    holds i."""
    found = used(expr)
    return [bool(flag) and i in found for i, flag in enumerate(requires_grad)]


def _mentioned(expr: Terms) -> set[int]:
    return {i for _, i, _ in expr.terms} | {j for _, _, j in expr.terms}


def _in_recorded_terms(expr: Terms) -> set[int]:
    """Both factors of the terms without .detach(): a detached term taken as dead as a whole."""
    return {k for form, i, j in expr.terms if form != "detach" for k in (i, j)}


def _recorded(expr: Terms) -> set[int]:
    """What really carries a gradient: every factor except a detached one."""
    return {k for form, i, j in expr.terms for k in ((j,) if form == "detach" else (i, j))}


register(
    Exercise(
        id="computational_graph.grad_leaves",
        # A prediction from reading the formula: running it with torch would be the answer.
        forbids=frozenset({COURSE_REFERENCE, DYNAMIC_CODE, NO_TORCH}),
        asks="predict",
        novel="which inputs of a formula with .detach() and inputs that need no gradient end "
        "up with a .grad, read without running it",
        title=Msg("Which inputs will receive a gradient?", "哪些输入会得到梯度？"),
        make_args=_terms_args,
        reference=_gets_grad,
        kind="value",
        hints=(
            Msg(
                "Two questions for each input. Does autograd record anything done to it at "
                "all? And does a recorded path lead from it to y? Only a yes to both fills "
                "its .grad.",
                "对每个输入问两个问题：autograd 会不会记录对它做的运算？有没有一条被记录下来的路径从它通向 y？"
                "两个问题的答案都是“会”和“有”，它的 .grad 才会被填上。",
            ),
            Msg(
                "An input created without requires_grad=True never gets a node, however y uses "
                "it. .detach() hands back a copy outside the graph, so nothing flows back through "
                "that factor; it cuts one factor, not the product it stands in. An input can "
                "appear in several terms: one live path is enough.",
                "没有用 requires_grad=True 创建的输入永远不会有节点，不论 y 怎样使用它。"
                ".detach() 返回的是计算图之外的副本，所以梯度不会经由这个因子流回去；它切断的是一个因子，"
                "而不是它所在的整个乘积。同一个输入可能出现在好几项里：只要有一条路径是通的就够了。",
            ),
        ),
        mistakes=(
            Mistake(
                "requires_grad_inputs",
                lambda expr, flags: [bool(f) for f in flags],
                Msg(
                    "You marked every input that requires grad; an input that y does not use, or "
                    "uses only through .detach(), gets no gradient.",
                    "你标出了所有需要梯度的输入；但 y 没有用到的输入，或者只通过 .detach() 用到的输入，"
                    "都得不到梯度。",
                ),
            ),
            Mistake(
                "detach_counted",
                lambda expr, flags: _gets_grad_if(expr, flags, _mentioned),
                Msg(
                    "You counted inputs seen only through .detach(): the detached copy is cut off "
                    "from the graph, so no gradient flows back to the original.",
                    "你把只通过 .detach() 出现的输入也算上了：detach 得到的副本与计算图断开了，"
                    "梯度不会流回原来的张量。",
                ),
            ),
            Mistake(
                "detach_kills_term",
                lambda expr, flags: _gets_grad_if(expr, flags, _in_recorded_terms),
                Msg(
                    "You treated a product with a detached factor as cut off as a whole. "
                    ".detach() cuts only its own factor: in xs[i].detach() * xs[j], xs[j] still "
                    "gets a gradient, xs[i].detach() times the incoming one.",
                    "你把含有 detach 因子的整个乘积都当成了断开的。.detach() 只切断它自己那个因子："
                    "在 xs[i].detach() * xs[j] 中，xs[j] 仍然会得到梯度，即 xs[i].detach() 乘以传入的梯度。",
                ),
            ),
            Mistake(
                "requires_grad_ignored",
                lambda expr, flags: [i in _recorded(expr) for i in range(len(flags))],
                Msg(
                    "You marked inputs that y uses but that do not require grad: autograd "
                    "records nothing about such an input, so it has no node and no .grad.",
                    "你标出了 y 用到、但并不需要梯度的输入：autograd 不会为这样的输入记录任何东西，"
                    "它没有节点，也没有 .grad。",
                ),
            ),
        ),
        edge_cases=lambda: [
            (Terms((("sin", 0, 0), ("exp", 0, 1))), (True, True)),
            (Terms((("sin", 0, 1),)), (False, False)),
            (Terms((("detach", 0, 1), ("detach", 1, 0))), (True, False)),
            (Terms((("detach", 0, 1),)), (True, True, True)),
            (Terms((("detach", 2, 0), ("sin", 1, 1))), (False, True, True)),
            (Terms((("exp", 0, 1), ("detach", 2, 2))), (False, True, True)),
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
        asks="predict",
        novel="is_leaf for every line of a random program (operations on tensors that need no "
        "gradient, .detach(), .detach().requires_grad_()), read without running it",
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
