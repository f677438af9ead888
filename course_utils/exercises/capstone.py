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
                "contributions. Compare a few local rules with what you know from lesson 3.",
                "backward() 访问节点的顺序必须保证：一个节点在收齐所有用到它之处传来的梯度之后，"
                "才把梯度继续往下传；被用了两次的节点要得到两份贡献。再把几条局部规则与第 3 课的结论对照一下。",
            )
            + _layout_hint(),
            Msg(
                "Build a topological order (a depth-first search that appends a node after its "
                "children) and walk it backwards from the output, whose gradient is 1. Each "
                "_backward adds into its operands' .grad rather than setting it. Check the rules "
                "of a product, of a quotient's denominator, and of a power.",
                "先构造一个拓扑序（深度优先搜索，在访问完子节点之后再加入当前节点），"
                "再从梯度为 1 的输出开始倒着走。每个 _backward 都把梯度累加到操作数的 .grad 上，而不是赋值。"
                "检查乘积、商的分母以及幂运算的局部规则。",
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
        ),
        edge_cases=lambda: ARITHMETIC_CASES,
        rtol=1e-6,
        atol=1e-9,
    )
)

register(
    Exercise(
        id="capstone.nonlinear",
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
                "tanh's derivative is cheapest from its output, which the node already holds. "
                "relu passes the gradient where its input was positive and blocks it elsewhere, "
                "as torch does.",
                "tanh 的导数用它的输出来算最省事，而节点里已经存着这个输出。relu 在输入为正的地方"
                "让梯度通过，在其他地方把它挡住，与 torch 一致。",
            )
            + _layout_hint(),
        ),
        mistakes=(
            _engine_mistake(
                "tanh_from_input",
                "tanh's derivative was computed from its input a; it is 1 − t² with t = tanh(a), "
                "the output.",
                "tanh 的导数是用输入 a 算的；它应该是 1 − t²，其中 t = tanh(a) 是输出。",
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


def _train_variant(xs, ys, w0, b0, lr, steps, *, mean=True, reset=True, after=False, tanh=True):
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
        w, b = w - lr * gw, b - lr * gb
        if after:
            z = xs.double() @ w + b
            out = torch.tanh(z) if tanh else z
            loss = ((out - ys.double()) ** 2).sum() / scale
        losses.append(float(loss))
    return torch.tensor(losses, dtype=torch.float64)


register(
    Exercise(
        id="capstone.train",
        process=("with_your_engine",),
        derives=False,
        engine=True,
        forbids=BY_HAND | {OPTIM},
        title=Msg("Training a neuron with your engine", "用你的引擎训练一个神经元"),
        make_args=_train_args,
        reference=train_reference,
        hints=(
            Msg(
                "Each step: build the loss from the current parameters, record it, clear the old "
                "gradients, run backward, and move the parameters against their gradients. The "
                "list holds the loss seen before each update.",
                "每一步：用当前参数构造损失，记下它，清掉旧的梯度，执行反向传播，再让参数逆着梯度移动。"
                "列表里记录的是每次更新之前的损失。",
            ),
            Msg(
                "backward accumulates, in your engine as in torch: reset every parameter's .grad "
                "before each backward. The loss is a mean over the samples, and each sample goes "
                "through tanh. Update .data, so that the update is not part of the next graph. "
                "To debug, compute the first step with torch alone and compare the first loss "
                "and the first update.",
                "在你的引擎里和在 torch 里一样，backward 会累加梯度：每次 backward 之前都要把每个参数的 "
                ".grad 清零。损失是对样本取平均，每个样本都要经过 tanh。更新 .data，"
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
