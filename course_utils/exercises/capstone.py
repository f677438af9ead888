"""Lesson 8 · Capstone: a scalar reverse-mode autodiff engine, checked against torch.autograd.

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

import math

import torch

from course_utils.exercises import BY_HAND, OPTIM, Exercise, register
from course_utils.i18n import Msg

ARITHMETIC = ("add", "sub", "mul", "div", "neg", "pow")
ALL_OPS = (*ARITHMETIC, "tanh", "relu")
BINARY = ("add", "sub", "mul", "div")
MAX_ABS = 30.0  # every node stays this small, so no gradient explodes
MIN_DENOMINATOR = 0.4
MIN_RELU_INPUT = 1e-3  # relu'(0) is a convention; keep away from it


def run_program(leaves: list, program) -> object:
    """Evaluate ``program`` on ``leaves`` (Values, tensors or floats); return the last node."""
    nodes = list(leaves)

    def arg(a):
        return nodes[a] if isinstance(a, int) else a

    for op, *args in program:
        if op == "add":
            out = arg(args[0]) + arg(args[1])
        elif op == "sub":
            out = arg(args[0]) - arg(args[1])
        elif op == "mul":
            out = arg(args[0]) * arg(args[1])
        elif op == "div":
            out = arg(args[0]) / arg(args[1])
        elif op == "neg":
            out = -arg(args[0])
        elif op == "pow":
            out = arg(args[0]) ** args[1]
        elif op == "tanh":
            out = arg(args[0]).tanh()
        elif op == "relu":
            out = arg(args[0]).relu()
        else:
            raise ValueError(f"unknown operation {op!r}")
        nodes.append(out)
    return nodes[-1]


def show_program(program, n_leaves: int) -> str:
    """The program as readable lines, e.g. ``v2 = x0 * x1``."""
    names = [f"x{i}" for i in range(n_leaves)]

    def name(a):
        return names[a] if isinstance(a, int) else f"{a:g}"

    symbols = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
    lines = []
    for op, *args in program:
        target = f"v{len(names)}"
        if op in symbols:
            expr = f"{name(args[0])} {symbols[op]} {name(args[1])}"
        elif op == "neg":
            expr = f"-{name(args[0])}"
        elif op == "pow":
            expr = f"{name(args[0])} ** {args[1]}"
        else:
            expr = f"{op}({name(args[0])})"
        lines.append(f"{target} = {expr}")
        names.append(target)
    return "\n".join(lines)


def torch_value_and_grads(leaves: torch.Tensor, program) -> torch.Tensor:
    """[value, d value/d x0, d value/d x1, …] computed by torch.autograd, in float64."""
    x = torch.as_tensor(leaves, dtype=torch.float64).detach().clone().requires_grad_(True)
    out = run_program(list(x.unbind()), program)
    (grads,) = torch.autograd.grad(out, x, allow_unused=True)
    grads = torch.zeros_like(x) if grads is None else grads
    return torch.cat([out.detach().reshape(1), grads])


def torch_value(leaves: torch.Tensor, program) -> torch.Tensor:
    return torch_value_and_grads(leaves, program)[:1]


def random_program(gen: torch.Generator, ops: tuple[str, ...], *, n_leaves=(2, 4), n_ops=(3, 8)):
    """Random leaves and a random program over ``ops`` whose values stay well-behaved."""

    def randint(low: int, high: int) -> int:
        return int(torch.randint(low, high + 1, (1,), generator=gen))

    def uniform(low: float, high: float) -> float:
        return low + (high - low) * float(torch.rand(1, generator=gen))

    n = randint(*n_leaves)
    leaves = [round(uniform(-2, 2), 3) for _ in range(n)]
    leaves = [x if abs(x) > 0.05 else 0.5 for x in leaves]
    values = list(leaves)
    program = []
    for _ in range(randint(*n_ops)):
        for _attempt in range(30):
            op = ops[randint(0, len(ops) - 1)]
            # favour recent nodes so the expression is deep, but allow any (nodes get reused)
            recent = max(0, len(values) - 3)
            i = randint(recent, len(values) - 1) if randint(0, 1) else randint(0, len(values) - 1)
            if op in BINARY:
                j = randint(0, len(values) - 1)
                operands: list = [i, j]
                if randint(0, 3) == 0:  # a Python number on one side
                    const = round(uniform(-3, 3) * 2) / 2 or 1.5
                    operands[randint(0, 1)] = float(const)
                a, b = (values[o] if isinstance(o, int) else o for o in operands)
                if op == "div" and abs(b) < MIN_DENOMINATOR:
                    continue
                instr = (op, *operands)
                value = (
                    a + b
                    if op == "add"
                    else a - b
                    if op == "sub"
                    else a * b
                    if op == "mul"
                    else a / b
                )
            elif op == "pow":
                k = randint(2, 3)
                instr, value = ("pow", i, k), values[i] ** k
            elif op == "neg":
                instr, value = ("neg", i), -values[i]
            elif op == "tanh":
                instr, value = ("tanh", i), math.tanh(values[i])
            else:
                if abs(values[i]) < MIN_RELU_INPUT:
                    continue
                instr, value = ("relu", i), max(values[i], 0.0)
            if abs(value) <= MAX_ABS:
                break
        else:  # nothing fitted: halve the last node
            instr, value = ("mul", 0.5, len(values) - 1), 0.5 * values[-1]
        program.append(instr)
        values.append(value)
    # add every node nobody used into the result, so that the whole graph matters
    for node in range(len(values) - 1):
        if node not in _operands(program):
            program.append(("add", len(values) - 1, node))
            values.append(values[-1] + values[node])
    return torch.tensor(leaves, dtype=torch.float64), tuple(program)


def _operands(program) -> set[int]:
    """The nodes that some instruction reads (a pow's exponent is a number, not a node)."""
    found = set()
    for op, *args in program:
        found.update(a for a in (args[:1] if op == "pow" else args) if isinstance(a, int))
    return found


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


def _layout_hint() -> Msg:
    return Msg(
        "The answer is [value, dL/dx0, dL/dx1, …]: index 0 is the forward value, index i + 1 "
        "the gradient of leaf x_i. To debug, run find_a_mismatch() in a new cell "
        "(find_a_mismatch(with_grads=False) for the forward values): it shows a small program "
        "on which your engine and torch disagree.",
        "答案的格式是 [值, dL/dx0, dL/dx1, …]：下标 0 是前向传播的值，下标 i + 1 是叶子节点 x_i 的梯度。"
        "调试时，在新的单元格里运行 find_a_mismatch()（只检查前向值时用 "
        "find_a_mismatch(with_grads=False)）：它会给出一个你的引擎与 torch 结果不一致的小程序。",
    )


register(
    Exercise(
        id="capstone.forward",
        forbids=BY_HAND,
        title=Msg("Forward values of +, −, *, /, **", "+、−、*、/、** 的前向值"),
        make_args=lambda gen: random_program(gen, ARITHMETIC),
        reference=torch_value,
        hint=Msg(
            "Each operator returns a new Value whose data is the result on the two .data "
            "floats. A plain Python number on either side must work too: turn it into a Value "
            "in __add__ and __mul__, and rely on __radd__, __rmul__, __rsub__ and "
            "__rtruediv__ for `2.0 * x` or `1.0 / x`. ",
            "每个运算符都返回一个新的 Value，它的 data 是两个 .data 浮点数运算的结果。"
            "运算符任一侧是普通的 Python 数时也要能算：在 __add__ 和 __mul__ 中把它包装成 Value，"
            "`2.0 * x` 或 `1.0 / x` 这样的写法则靠 __radd__、__rmul__、__rsub__ 和 __rtruediv__。",
        )
        + _layout_hint(),
        edge_cases=lambda: ARITHMETIC_CASES,
        rtol=1e-6,
        atol=1e-9,
    )
)

register(
    Exercise(
        id="capstone.backward",
        forbids=BY_HAND,
        title=Msg("Gradients through a graph with shared nodes", "穿过共享节点的梯度"),
        make_args=lambda gen: random_program(gen, ARITHMETIC),
        reference=torch_value_and_grads,
        hint=Msg(
            "backward() sets self.grad = 1.0, then calls _backward() on every node in reverse "
            "topological order, so that a node has received the gradient from all of its uses "
            "before it passes it on. In each _backward, ADD into the children's .grad (+=): "
            "a node used twice, as in x * x, gets both contributions (2x). Local rules: "
            "d(a*b)/da = b, d(a**k)/da = k·a**(k−1), d(a/b)/db = −a/b².",
            "backward() 先令 self.grad = 1.0，再按逆拓扑序对每个节点调用 _backward()，"
            "保证一个节点在收齐所有用到它之处传来的梯度之后，才把梯度继续往下传。"
            "每个 _backward 都要把梯度累加（+=）到子节点的 .grad 上：像 x * x 这样用了两次的节点"
            "要得到两份贡献（2x）。局部规则：d(a*b)/da = b，d(a**k)/da = k·a**(k−1)，d(a/b)/db = −a/b²。",
        )
        + _layout_hint(),
        edge_cases=lambda: ARITHMETIC_CASES,
        rtol=1e-6,
        atol=1e-9,
    )
)

register(
    Exercise(
        id="capstone.nonlinear",
        forbids=BY_HAND,
        title=Msg("tanh and relu in any expression", "任意表达式中的 tanh 与 relu"),
        make_args=lambda gen: random_program(gen, ALL_OPS, n_ops=(4, 10)),
        reference=torch_value_and_grads,
        hint=Msg(
            "For t = tanh(a) the local derivative is 1 − t², computed from the output t. "
            "For relu(a) = max(a, 0) it is 1 where a > 0 and 0 elsewhere, as in torch. "
            "Both are one-input nodes: their _backward adds local derivative × out.grad into a.grad.",
            "对 t = tanh(a)，局部导数是 1 − t²，用输出 t 来算。relu(a) = max(a, 0) 的局部导数"
            "在 a > 0 处为 1，其他地方为 0，与 torch 一致。两者都只有一个输入："
            "它们的 _backward 把“局部导数 × out.grad”累加到 a.grad 上。",
        )
        + _layout_hint(),
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


register(
    Exercise(
        id="capstone.train",
        forbids=BY_HAND | {OPTIM},
        title=Msg("Training a neuron with your engine", "用你的引擎训练一个神经元"),
        make_args=_train_args,
        reference=train_reference,
        hint=Msg(
            "At every step: build the loss from fresh Values for the data and the current "
            "parameters w1, w2, b; record loss.data BEFORE updating; reset w1.grad, w2.grad and "
            "b.grad to 0.0 (backward accumulates, just like torch); call loss.backward(); then "
            "p.data -= lr * p.grad. The loss is the mean, not the sum, of the squared errors.",
            "每一步：用数据和当前参数 w1、w2、b 构造损失（数据每次都包装成新的 Value）；"
            "在更新之前记录 loss.data；把 w1.grad、w2.grad、b.grad 重置为 0.0"
            "（backward 会累加梯度，与 torch 一样）；调用 loss.backward()；然后执行 p.data -= lr * p.grad。"
            "损失是平方误差的平均值，而不是总和。",
        ),
        edge_cases=_train_edge_cases,
        rtol=1e-6,
        atol=1e-9,
    )
)
