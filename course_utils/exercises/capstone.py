"""Lesson 5 · Build your own autograd: a scalar reverse-mode autodiff engine, checked against torch.autograd.

An expression is a *program*: a tuple of instructions. Nodes 0 … n−1 are the leaves
x0 … x(n−1); instruction k creates node n + k from earlier nodes:

    ("add", i, j)  ("sub", i, j)  ("mul", i, j)  ("div", i, j)   binary; an operand that is
                                                                 a float (not an int) is a constant
    ("neg", i)  ("pow", i, k)  ("tanh", i)  ("relu", i)          k is the number 2 or 3

The result is the last node. ``torch_value_and_grads`` evaluates a program with torch
tensors and autograd; the lesson's notebook evaluates the same program with the
learner's ``Value`` class.
"""

from __future__ import annotations

import torch

from course_utils.exercises import BY_HAND, OPTIM, Exercise, Mistake, register
from course_utils.i18n import Msg
from course_utils.programs import ALL_OPS, ARITHMETIC, BINARY, random_program, run_program


def torch_value_and_grads(leaves: torch.Tensor, program) -> torch.Tensor:
    """[value, d value/d x0, d value/d x1, …] computed by torch.autograd, in float64."""
    x = torch.as_tensor(leaves, dtype=torch.float64).detach().clone().requires_grad_(True)
    out = run_program(list(x.unbind()), program)
    (grads,) = torch.autograd.grad(out, x, allow_unused=True)
    grads = torch.zeros_like(x) if grads is None else grads
    return torch.cat([out.detach().reshape(1), grads])


def torch_value(leaves: torch.Tensor, program) -> torch.Tensor:
    return torch_value_and_grads(leaves, program)[:1]


# --- edge cases: the tutorial's examples and the classic traps ---------------------------

Q_EXAMPLE = (
    (torch.tensor([2.0, 6.0], dtype=torch.float64)),
    (("pow", 0, 3), ("mul", 3.0, 2), ("pow", 1, 2), ("sub", 3, 4)),
)
CUBE_AT_5 = (torch.tensor([5.0], dtype=torch.float64), (("pow", 0, 3),))
CHAIN = (torch.tensor([1.5], dtype=torch.float64), (("pow", 0, 3), ("pow", 1, 2)))  # b = a³, y = b²
SQUARE_BY_MUL = (torch.tensor([-1.25], dtype=torch.float64), (("mul", 0, 0),))  # x used twice
SHARED_NODE = (
    torch.tensor([0.5, -1.5], dtype=torch.float64),
    (("add", 0, 1), ("mul", 2, 2), ("mul", 2, 0), ("add", 3, 4)),  # v2 feeds three places
)
CONSTANTS = (
    torch.tensor([1.5, -0.75], dtype=torch.float64),
    (
        ("sub", 1.0, 0),
        ("div", 2.0, 1),
        ("add", 2, 3),
        ("mul", 4, -2.0),
        ("sub", 5, 0.5),
        ("div", 6, 4.0),
    ),
)
UNUSED_LEAF = (torch.tensor([0.8, 1.7, -0.3], dtype=torch.float64), (("mul", 0, 2), ("neg", 3)))
NONLINEAR = (
    torch.tensor([0.7, -1.2], dtype=torch.float64),
    (
        ("tanh", 0),
        ("relu", 1),
        ("relu", 0),
        ("div", 2, 1),
        ("add", 5, 3),
        ("mul", 6, 2),
        ("sub", 7, 4),
    ),
)

ARITHMETIC_CASES = [Q_EXAMPLE, CUBE_AT_5, CHAIN, SQUARE_BY_MUL, SHARED_NODE, CONSTANTS, UNUSED_LEAF]


# --- wrong engines, for the catalogue of mistakes -----------------------------------------


def _slope(value: torch.Tensor, slope: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """A node whose value is ``value`` but whose derivative with respect to ``a`` is ``slope``."""
    return value.detach() + slope.detach() * (a - a.detach())


_WRONG_RULES = {
    # d(a·b)/da taken as a (and d(a·b)/db as b): the two rules swapped
    "mul_rule_swapped": lambda op, a, b, args: (
        (a * b).detach() + a.detach() * (a - a.detach()) + b.detach() * (b - b.detach())
        if op == "mul"
        else None
    ),
    # d(a**k)/da taken as k·a**k
    "pow_exponent": lambda op, a, b, args: (
        _slope(a**b, b * a.detach() ** b, a) if op == "pow" else None
    ),
    # d(a/b)/db taken as −1/b² (the a forgotten)
    "div_denominator": lambda op, a, b, args: (
        a / b.detach() + _slope(0 * b, -1 / b.detach() ** 2, b) if op == "div" else None
    ),
    # a / b computed as b / a
    "div_inverted": lambda op, a, b, args: b / a if op == "div" else None,
    # a ** k computed as a * k
    "pow_as_product": lambda op, a, b, args: a * b if op == "pow" else None,
    # tanh's derivative from the input: 1 − a² instead of 1 − t²
    "tanh_from_input": lambda op, a, b, args: (
        _slope(a.tanh(), 1 - a.detach() ** 2, a) if op == "tanh" else None
    ),
    # tanh's derivative taken as t·(1 − t), the logistic sigmoid's rule
    "tanh_sigmoid_rule": lambda op, a, b, args: (
        _slope(a.tanh(), a.detach().tanh() * (1 - a.detach().tanh()), a) if op == "tanh" else None
    ),
    # relu's gradient multiplied by its output instead of passed or blocked
    "relu_times_output": lambda op, a, b, args: (
        _slope(a.relu(), a.detach().relu(), a) if op == "relu" else None
    ),
    # relu's derivative taken as 1 everywhere
    "relu_always_one": lambda op, a, b, args: (
        _slope(a.relu(), torch.ones_like(a), a) if op == "relu" else None
    ),
}


def _wrong_engine(rule: str):
    """[value, grads] as an engine with one wrong rule computes them."""

    def answer(leaves: torch.Tensor, program) -> torch.Tensor:
        x = torch.as_tensor(leaves, dtype=torch.float64).detach().clone().requires_grad_(True)
        nodes = list(x.unbind())

        def arg(v):
            return nodes[v] if isinstance(v, int) else torch.tensor(float(v), dtype=torch.float64)

        for op, *args in program:
            a = arg(args[0])
            b = (
                torch.tensor(float(args[1]), dtype=torch.float64)
                if op == "pow"
                else (arg(args[1]) if op in BINARY else None)
            )
            out = _WRONG_RULES[rule](op, a, b, args)
            if out is None:
                out = run_program(
                    [a] if b is None else [a, b],
                    [(op, 0, 1) if op in BINARY else (op, 0, args[1]) if op == "pow" else (op, 0)],
                )
            nodes.append(out)
        (grads,) = torch.autograd.grad(nodes[-1], x, allow_unused=True)
        grads = torch.zeros_like(x) if grads is None else grads
        return torch.cat([nodes[-1].detach().reshape(1), grads])

    return answer


def _engine_mistake(rule: str, en: str, zh: str, *, value_only: bool = False) -> Mistake:
    engine = _wrong_engine(rule)
    answer = (lambda leaves, program: engine(leaves, program)[:1]) if value_only else engine
    return Mistake(rule, answer, Msg(en, zh))


# --- wrong traversals, for the catalogue of backward()'s mistakes ---------------------------


def _local_graph(leaves: torch.Tensor, program) -> tuple[list[float], list[list[tuple]]]:
    """The Value graph the lesson's class builds for ``program``: each node's value and, per
    operand slot, (child node or None for a constant, local derivative). ``x - y`` is built
    as ``x + (y * -1.0)`` and ``-x`` as ``x * -1.0``, as the given operators build them, so a
    wrong traversal visits what the learner's engine visits. Local derivatives come from torch.
    """
    values = [float(v) for v in torch.as_tensor(leaves, dtype=torch.float64)]
    slots: list[list[tuple]] = [[] for _ in values]

    def add_node(value: float, node_slots: list[tuple]) -> int:
        values.append(value)
        slots.append(node_slots)
        return len(values) - 1

    index = list(range(len(values)))  # program node -> graph node
    for op, *args in program:
        operands = [args[0]] + ([args[1]] if op in BINARY else [])
        ts = [
            torch.tensor(values[index[a]] if isinstance(a, int) else float(a), dtype=torch.float64)
            for a in operands
        ]
        ts = [t.requires_grad_(True) for t in ts]
        if op == "sub" and isinstance(operands[1], int):
            negated = add_node(-values[index[operands[1]]], [(index[operands[1]], -1.0), (None, 0)])
            operands, op = [operands[0], negated], "add"
            ts[1] = torch.tensor(values[negated], dtype=torch.float64, requires_grad=True)
            children = [index[operands[0]] if isinstance(operands[0], int) else None, negated]
        else:
            children = [index[a] if isinstance(a, int) else None for a in operands]
        if op == "neg":
            out = ts[0] * -1.0
            children.append(None)
        elif op == "pow":
            out = ts[0] ** args[1]
        else:
            out = run_program(ts, [(op, 0, 1) if op in BINARY else (op, 0)])
        locals_ = torch.autograd.grad(out, ts, allow_unused=True)
        local = [0.0 if g is None else float(g) for g in locals_]
        local += [0.0] * (len(children) - len(local))
        index.append(add_node(float(out.detach()), list(zip(children, local, strict=True))))
    return values, slots


def _traversal_engine(*, assign: bool = False, seen: bool = True, order: str = "reversed"):
    """[value, grads] as a ``backward()`` with one slip computes them: ``assign`` sets each
    operand's .grad with ``=``; ``seen=False`` builds the order without a visited set;
    ``order`` is "reversed" (right), "forward" (not reversed), "recursive" (each node runs,
    then its children, along every path) or "unseeded" (the output's gradient left at 0)."""

    def answer(leaves: torch.Tensor, program) -> torch.Tensor:
        n = len(torch.as_tensor(leaves))
        values, slots = _local_graph(leaves, program)
        grad = [0.0] * len(values)
        root = len(values) - 1

        def run(node: int) -> None:
            for child, local in slots[node]:
                if child is not None:
                    grad[child] = local * grad[node] + (0.0 if assign else grad[child])

        if order == "recursive":
            grad[root] = 1.0

            def go(node: int) -> None:
                run(node)
                for child, _ in slots[node]:
                    if child is not None:
                        go(child)

            go(root)
        else:
            topo: list[int] = []
            visited: set[int] = set()

            def visit(node: int) -> None:
                if seen and node in visited:
                    return
                visited.add(node)
                for child, _ in slots[node]:
                    if child is not None:
                        visit(child)
                topo.append(node)

            visit(root)
            grad[root] = 0.0 if order == "unseeded" else 1.0
            for node in topo if order == "forward" else reversed(topo):
                run(node)
        return torch.tensor([values[root]] + grad[:n], dtype=torch.float64)

    return answer


def _layout_hint(*, with_grads: bool = True) -> Msg:
    """How the engine exercises' answers are laid out, and the lesson's tool to debug them."""
    if not with_grads:
        return Msg(
            "The answer is [value]: the forward value alone, no gradients. To debug, run "
            "find_a_mismatch(with_grads=False) in a new cell: it shows a small program on which "
            "your engine's value and torch's disagree.",
            "答案的格式是 [值]：只有前向传播的值，没有梯度。调试时，在新的单元格里运行 "
            "find_a_mismatch(with_grads=False)：它会给出一个你的引擎与 torch 的值不一致的小程序。",
        )
    return Msg(
        "The answer is [value, dL/dx0, dL/dx1, …]: index 0 is the forward value, index i + 1 "
        "the gradient of leaf x_i. To debug, run find_a_mismatch() in a new cell: it shows a "
        "small program on which your engine and torch disagree.",
        "答案的格式是 [值, dL/dx0, dL/dx1, …]：下标 0 是前向传播的值，下标 i + 1 是叶子节点 x_i 的梯度。"
        "调试时，在新的单元格里运行 find_a_mismatch()：它会给出一个你的引擎与 torch 结果不一致的小程序。",
    )


register(
    Exercise(
        id="capstone.forward",
        asks="build",
        novel="the four operators of a scalar engine: each returns a Value that keeps its "
        "operands as children and a rule that sends them their gradient; the page gives the "
        "local derivatives, not the code",
        derives=False,
        engine=True,
        forbids=BY_HAND,
        title=Msg("Forward values of +, −, *, /, **", "+、−、*、/、** 的前向值"),
        make_args=lambda gen: random_program(gen, ARITHMETIC),
        reference=torch_value,
        hints=(
            Msg(
                "Each operator returns a new Value built from the .data of its operands, with the "
                "operands as its children. A plain Python number must work as the other operand.",
                "每个运算符都返回一个新的 Value，它由操作数的 .data 算出，并把操作数记为子节点。"
                "另一个操作数是普通的 Python 数时也要能算。",
            )
            + _layout_hint(with_grads=False),
            Msg(
                "Wrap a plain number with Value._lift before combining it. In __truediv__ and "
                "__pow__, self is the left operand (numerator, base); the exponent k is a plain "
                "number, so a power is not a product.",
                "先用 Value._lift 把普通的数包装起来，再参与运算。在 __truediv__ 和 __pow__ 中，self "
                "是左边的操作数（分子、底数）；指数 k 是普通的数，所以幂不是乘积。",
            )
            + _layout_hint(with_grads=False),
        ),
        mistakes=(
            _engine_mistake(
                "div_inverted",
                "a / b came out as b / a: in __truediv__, self is the numerator.",
                "a / b 算成了 b / a：在 __truediv__ 中，self 是分子。",
                value_only=True,
            ),
            _engine_mistake(
                "pow_as_product",
                "a ** k came out as a · k: a power multiplies a by itself k times.",
                "a ** k 算成了 a · k：幂是把 a 自乘 k 次。",
                value_only=True,
            ),
        ),
        edge_cases=lambda: ARITHMETIC_CASES,
        rtol=1e-6,
        atol=1e-9,
    )
)

register(
    Exercise(
        id="capstone.backward",
        asks="build",
        novel="the backward traversal: an order in which a node passes on its gradient only once "
        "every use of it has sent its share; the page states that requirement, not an algorithm, "
        "and leaves the learner to find why the rules must add",
        process=("with_your_engine",),
        engine=True,
        forbids=BY_HAND,
        title=Msg("Gradients through a graph with shared nodes", "穿过共享节点的梯度"),
        make_args=lambda gen: random_program(gen, ARITHMETIC),
        reference=torch_value_and_grads,
        hints=(
            Msg(
                "backward() must visit the nodes so that each one has received the gradient from "
                "all of its uses before it passes it on, and a node used twice gets both "
                "contributions. Compare a few local rules with what you know from lesson 2.",
                "backward() 访问节点的顺序必须保证：一个节点在收齐所有用到它之处传来的梯度之后，"
                "才把梯度继续传给它的子节点；被用了两次的节点要得到两份贡献。再把几条局部规则与第 2 课的结论对照一下。",
            )
            + _layout_hint(),
            Msg(
                "A depth-first search can list each node after everything it was computed from, "
                "once, however many paths reach it; walked backwards from the output, whose own "
                "gradient is 1, that order is the one you need. Where does a node used twice "
                "get its second share? Check the rules of a product, of a quotient's denominator "
                "and of a power.",
                "深度优先搜索可以把每个节点排在计算出它的所有节点之后，而且无论有多少条路径到达它，"
                "它都只出现一次；从输出（它自己的梯度是 1）开始倒着走这个顺序，正是你需要的顺序。"
                "被用了两次的节点，第二份梯度落在哪里？再检查乘积、商的分母以及幂运算的局部规则。",
            )
            + _layout_hint(),
        ),
        mistakes=(
            _engine_mistake(
                "mul_rule_swapped",
                "The gradients of a product are swapped: what a · b sends to a is the other "
                "factor, b, and to b it sends a.",
                "乘积的两个梯度弄反了：a · b 传给 a 的是另一个因子 b，传给 b 的是 a。",
            ),
            _engine_mistake(
                "pow_exponent",
                "The derivative of a power kept its exponent: differentiating lowers it by one.",
                "幂的导数没有降幂：求导之后指数要减一。",
            ),
            _engine_mistake(
                "div_denominator",
                "The gradient that a / b sends to b forgot the numerator a.",
                "a / b 传给 b 的梯度漏掉了分子 a。",
            ),
            Mistake(
                "grad_assigned",
                _traversal_engine(assign=True),
                Msg(
                    "A Value used more than once kept only one of its shares (in x * x, x.grad "
                    "came out as x, not 2x): a rule that sets an operand's .grad with = throws "
                    "away what the other uses had already sent. Shares from several uses add up.",
                    "被用了不止一次的 Value 只留下了一份梯度（在 x * x 中，x.grad 得到的是 x，"
                    "而不是 2x）：用 = 给操作数的 .grad 赋值，会丢掉其他用处已经传来的梯度。"
                    "来自多处的梯度应该相加。",
                ),
            ),
            Mistake(
                "order_without_visited_set",
                _traversal_engine(seen=False),
                Msg(
                    "A node reached along two paths ran its _backward twice and sent its share "
                    "twice: your order lists it once per path. Each node belongs in it once.",
                    "沿两条路径都能到达的节点把它的 _backward 运行了两次，梯度也就传了两次：你的顺序里，"
                    "每条路径都把它列了一遍。每个节点在顺序里只能出现一次。",
                ),
            ),
            Mistake(
                "recursive_push",
                _traversal_engine(order="recursive"),
                Msg(
                    "Your backward() passes a node's gradient on as soon as one path reaches it, "
                    "before every use has sent its share, and again along every other path. A "
                    "node may pass its gradient on only once that gradient is complete.",
                    "你的 backward() 一沿某条路径到达节点，就把它的梯度传出去，这时并非所有用处都已传来"
                    "各自的那份梯度；沿其他路径到达时又传一次。节点的梯度完整之后，才能继续传给子节点。",
                ),
            ),
            Mistake(
                "not_seeded",
                _traversal_engine(order="unseeded"),
                Msg(
                    "Every gradient came out 0: nothing started the backward pass. Every rule "
                    "multiplies by the output's gradient; what is d out / d out?",
                    "所有梯度都是 0：反向传播根本没有启动。每条规则都要乘以输出的梯度；"
                    "d out / d out 等于多少？",
                ),
            ),
            Mistake(
                "order_not_reversed",
                _traversal_engine(order="forward"),
                Msg(
                    "Your nodes ran their _backward from the leaves up, while their gradients were "
                    "still 0, so only the output's operands received anything. The output's rule "
                    "runs first, and each node after all the nodes that use it.",
                    "你的节点从叶子节点开始依次运行 _backward，而那时它们的梯度还是 0，所以只有输出的"
                    "操作数收到了梯度。应当先运行输出的规则，每个节点都排在所有用到它的节点之后。",
                ),
            ),
        ),
        edge_cases=lambda: ARITHMETIC_CASES,
        rtol=1e-6,
        atol=1e-9,
    )
)

register(
    Exercise(
        id="capstone.nonlinear",
        asks="derive",
        novel="the local derivatives of tanh and relu, which the page does not list: tanh′ "
        "through the node's own output, relu's with torch's value at 0",
        process=("with_your_engine",),
        engine=True,
        forbids=BY_HAND,
        title=Msg("tanh and relu in any expression", "任意表达式中的 tanh 与 relu"),
        make_args=lambda gen: random_program(gen, ALL_OPS, n_ops=(4, 10)),
        reference=torch_value_and_grads,
        hints=(
            Msg(
                "tanh and relu are one-input nodes: their _backward adds (local derivative × the "
                "output's gradient) into the input's .grad. What is each local derivative?",
                "tanh 和 relu 都只有一个输入：它们的 _backward 把“局部导数 × 输出的梯度”累加到输入的 "
                ".grad 上。两者的局部导数各是什么？",
            )
            + _layout_hint(),
            Msg(
                "Write tanh as a quotient of exponentials and differentiate it: the result can be "
                "written with tanh itself, which the node already holds. relu is the identity on "
                "one side of 0 and a constant on the other.",
                "把 tanh 写成指数函数之商再求导：结果可以只用 tanh 本身表示，而节点里已经存着它。"
                "relu 在 0 的一侧是恒等函数，在另一侧是常数。",
            )
            + _layout_hint(),
        ),
        mistakes=(
            _engine_mistake(
                "tanh_from_input",
                "tanh's derivative used the input a where the output t = tanh(a) belongs.",
                "tanh 的导数里用了输入 a，而那里应该是输出 t = tanh(a)。",
            ),
            _engine_mistake(
                "tanh_sigmoid_rule",
                "tanh's derivative came out as t · (1 − t), the logistic sigmoid's rule; tanh's "
                "own is a different expression in t.",
                "tanh 的导数算成了 t · (1 − t)，那是 logistic sigmoid 的规则；tanh 的导数是 t 的另一个式子。",
            ),
            _engine_mistake(
                "relu_times_output",
                "relu multiplied the gradient by its output; its local derivative is a slope, 1 "
                "or 0, not its value.",
                "relu 把梯度乘上了它的输出；它的局部导数是斜率（1 或 0），而不是它的值。",
            ),
            _engine_mistake(
                "relu_always_one",
                "relu passed the gradient everywhere; where its input was negative it passes 0.",
                "relu 在所有地方都让梯度通过了；输入为负的地方，它应该传回 0。",
            ),
        ),
        edge_cases=lambda: [*ARITHMETIC_CASES, NONLINEAR],
        rtol=1e-6,
        atol=1e-9,
    )
)


# --- training a neuron --------------------------------------------------------------------


def train_reference(
    xs: torch.Tensor, ys: torch.Tensor, w0: torch.Tensor, b0: torch.Tensor, lr: float, steps: int
):
    """Losses of a tanh neuron trained by plain gradient descent, computed with autograd."""
    xs, ys = xs.double(), ys.double()
    w = w0.detach().clone().double().requires_grad_(True)
    b = b0.detach().clone().double().requires_grad_(True)
    losses = []
    for _ in range(steps):
        loss = ((torch.tanh(xs @ w + b) - ys) ** 2).mean()
        losses.append(loss.item())
        w.grad, b.grad = None, None
        loss.backward()
        with torch.no_grad():  # what torch.optim.SGD(lr=lr).step() does, without its import time
            w -= lr * w.grad
            b -= lr * b.grad
    return torch.tensor(losses, dtype=torch.float64)


def _train_args(gen: torch.Generator) -> tuple:
    n = int(torch.randint(3, 9, (1,), generator=gen))
    xs = (torch.rand(n, 2, generator=gen, dtype=torch.float64) * 4 - 2).round(decimals=3)
    true_w = torch.randn(2, generator=gen, dtype=torch.float64)
    ys = torch.where(xs @ true_w > 0, 0.8, -0.8).to(torch.float64)
    w0 = (torch.randn(2, generator=gen, dtype=torch.float64) * 0.5).round(decimals=3)
    b0 = (torch.randn((), generator=gen, dtype=torch.float64) * 0.5).round(decimals=3)
    lr = round(0.05 + 0.45 * float(torch.rand(1, generator=gen)), 3)
    steps = int(torch.randint(3, 11, (1,), generator=gen))
    return xs, ys, w0, b0, lr, steps


def _train_edge_cases() -> list[tuple]:
    xs = torch.tensor([[1.0, -0.5], [-1.5, 2.0], [0.25, 0.75]], dtype=torch.float64)
    ys = torch.tensor([0.8, -0.8, 0.8], dtype=torch.float64)
    w0 = torch.tensor([0.3, -0.2], dtype=torch.float64)
    b0 = torch.tensor(0.1, dtype=torch.float64)
    return [(xs, ys, w0, b0, 0.3, 1), (xs, ys, w0, b0, 0.0, 4), (xs, ys, w0, b0, 0.5, 12)]


def _train_variant(
    xs, ys, w0, b0, lr, steps, *, mean=True, reset=True, after=False, tanh=True, sign=1.0
):
    """Training losses as a learner's loop with one slip computes them."""
    w, b = w0.double().clone(), b0.double().clone()
    gw, gb = torch.zeros_like(w), torch.zeros_like(b)
    losses = []
    for _ in range(steps):
        z = xs.double() @ w + b
        out = torch.tanh(z) if tanh else z
        err = out - ys.double()
        scale = len(ys) if mean else 1
        loss = (err**2).sum() / scale
        slope = 2 * err / scale * ((1 - out**2) if tanh else 1)
        if reset:
            gw, gb = torch.zeros_like(w), torch.zeros_like(b)
        gw, gb = gw + xs.double().T @ slope, gb + slope.sum()
        w, b = w - sign * lr * gw, b - sign * lr * gb
        if after:
            z = xs.double() @ w + b
            out = torch.tanh(z) if tanh else z
            loss = ((out - ys.double()) ** 2).sum() / scale
        losses.append(float(loss))
    return torch.tensor(losses, dtype=torch.float64)


register(
    Exercise(
        id="capstone.train",
        asks="build",
        novel="a whole training loop on the learner's engine from its goal alone (the losses "
        "before each update must match torch's): the page gives the loss and the update rule, "
        "not the steps, nor where accumulation must be undone",
        process=("with_your_engine",),
        derives=False,
        engine=True,
        forbids=BY_HAND | {OPTIM},
        title=Msg("Training a neuron with your engine", "用你的引擎训练一个神经元"),
        make_args=_train_args,
        reference=train_reference,
        hints=(
            Msg(
                "Your engine builds a new graph each time you compute the loss, but the "
                "parameters are the same Values at every step. What is in their .grad when "
                "backward() starts the second time? Which loss goes in the list: the one before "
                "the update or after it?",
                "每算一次损失，你的引擎都会构建一个新的计算图，但参数在每一步都是同样的那几个 Value。"
                "第二次调用 backward() 时，它们的 .grad 里有什么？列表里要的是更新之前的损失，还是更新之后的？",
            ),
            Msg(
                "backward accumulates, in your engine as in torch, so every parameter's .grad "
                "must start each backward pass from 0. The loss is a mean over the samples, each "
                "through tanh, and gradient descent steps against the gradient. Update .data, so "
                "that the update is not part of the next graph. To debug, compute the first step "
                "with torch alone and compare the first loss and the first update.",
                "在你的引擎里和在 torch 里一样，backward 会累加梯度，所以每次反向传播开始时，每个参数的 "
                ".grad 都必须是 0。损失是对样本取平均，每个样本都要经过 tanh；梯度下降是逆着梯度走的。更新 .data，"
                "这样更新本身就不会进入下一步的计算图。"
                "调试时，可以用 torch 把第一步单独算一遍，看第一个损失和第一次更新是否一致。",
            ),
        ),
        mistakes=(
            Mistake(
                "sum_not_mean",
                lambda *a: _train_variant(*a, mean=False),
                Msg(
                    "Your losses are sums of squared errors; the loss is their mean.",
                    "你的损失是误差平方之和；损失应该是它们的平均值。",
                ),
            ),
            Mistake(
                "grads_not_reset",
                lambda *a: _train_variant(*a, reset=False),
                Msg(
                    "Your gradients were never reset: from the second step on, each step used the "
                    "sum of all gradients so far.",
                    "你的梯度从没清零：从第二步起，每一步用的都是之前所有梯度的总和。",
                ),
            ),
            Mistake(
                "recorded_after_update",
                lambda *a: _train_variant(*a, after=True),
                Msg(
                    "You recorded each loss after the update; the list holds the loss before it.",
                    "你在更新之后才记录损失；列表里应该是更新之前的损失。",
                ),
            ),
            Mistake(
                "ascent",
                lambda *a: _train_variant(*a, sign=-1.0),
                Msg(
                    "Your loss grows: the parameters moved along their gradients. Gradient "
                    "descent moves them against it.",
                    "你的损失在变大：参数是顺着梯度移动的。梯度下降要让参数逆着梯度移动。",
                ),
            ),
            Mistake(
                "no_tanh",
                lambda *a: _train_variant(*a, tanh=False),
                Msg(
                    "Your neuron has no tanh: its output is tanh(x · w + b).",
                    "你的神经元没有 tanh：它的输出是 tanh(x · w + b)。",
                ),
            ),
        ),
        edge_cases=_train_edge_cases,
        rtol=1e-6,
        atol=1e-9,
    )
)
