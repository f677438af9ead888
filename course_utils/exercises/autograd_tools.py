"""Lesson 9 · Autograd's tools: autograd.grad, create_graph, hooks, in-place operations."""

from __future__ import annotations

import torch

from course_utils.exercises import TORCH_FUNC, Exercise, Mistake, register
from course_utils.exercises.inputs import NamedFunction, random_size
from course_utils.i18n import Msg


def _randn(gen: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


# --- Exercise 1: a second derivative -----------------------------------------------------

ELEMENTWISE = (
    NamedFunction("x · sin(x)", "x * torch.sin(x)"),
    NamedFunction("x³ − 2x", "x**3 - 2 * x"),
    NamedFunction("exp(−x²)", "torch.exp(-(x**2))"),
    NamedFunction("tanh(x)", "torch.tanh(x)"),
    NamedFunction("log(1 + x²)", "torch.log1p(x**2)"),
    NamedFunction("x · exp(x / 2)", "x * torch.exp(x / 2)"),
)


def _derivatives(f: NamedFunction, x: torch.Tensor, order: int) -> torch.Tensor:
    x = x.detach().clone().requires_grad_(True)
    y = f(x)
    for _ in range(order):
        (y,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    return y.detach()


def _right_but_in_graph(reference, args: tuple, actual: object) -> bool:
    """The right values, still attached to a graph: the only thing left is to detach them."""
    if not isinstance(actual, torch.Tensor) or not actual.requires_grad:
        return False
    expected = reference(*args)
    return actual.shape == expected.shape and bool(
        torch.allclose(actual.detach().double(), expected.double(), rtol=1e-4, atol=1e-5)
    )


def _still_in_graph(what: str, zh: str) -> Msg:
    return Msg(
        f"Your {what} has the right values but is still attached to a graph (create_graph=True "
        "kept it there). Return it with .detach(). Do not reach for torch.no_grad(): the first "
        "derivative has to be recorded, or there is nothing to differentiate a second time.",
        f"你的{zh}数值是对的，但仍然连在计算图上（是 create_graph=True 把它留在了图里）。"
        "请用 .detach() 返回它。不要用 torch.no_grad()：一阶导数必须被记录下来，否则就没有东西可以"
        "再求一次导了。",
    )


def _no_create_graph(f: NamedFunction, x: torch.Tensor) -> torch.Tensor:
    x = x.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(x).sum(), x)
    (g2,) = torch.autograd.grad(g.sum(), x)
    return g2


register(
    Exercise(
        id="autograd_tools.second_derivative",
        title=Msg("A second derivative with autograd", "用 autograd 求二阶导数"),
        make_args=lambda gen: (
            ELEMENTWISE[random_size(gen, 0, len(ELEMENTWISE))],
            _randn(gen, random_size(gen)) * 1.5,
        ),
        reference=lambda f, x: _derivatives(f, x, 2),
        hints=(
            Msg(
                "Differentiate twice: the first derivative must itself be part of a graph, "
                "so that autograd can differentiate it again.",
                "求两次导：第一次求出的导数本身必须留在计算图里，autograd 才能再对它求导。",
            ),
            Msg(
                "The first derivative comes from torch.autograd.grad, and one of its keyword "
                "arguments keeps the result differentiable. The second derivative differentiates "
                "that result, which needs the same reduction to a scalar as f(x) did. Return a "
                "tensor without a graph (.detach()).",
                "一阶导数用 torch.autograd.grad 求出，它有一个关键字参数能让求出的结果还可以再求导。"
                "二阶导数就是对这个结果求导，和 f(x) 一样，要先把它归约成一个标量。"
                "返回不带计算图的张量（.detach()）。",
            ),
        ),
        no_graph=True,
        diagnoses=(
            (
                lambda args, actual: _right_but_in_graph(
                    lambda f, x: _derivatives(f, x, 2), args, actual
                ),
                _still_in_graph("second derivative", "二阶导数"),
            ),
        ),
        mistakes=(
            Mistake(
                "first_derivative",
                lambda f, x: _derivatives(f, x, 1),
                Msg(
                    "You returned the first derivative: differentiate it once more.",
                    "你返回的是一阶导数：还要再求一次导。",
                ),
            ),
            Mistake(
                "no_create_graph",
                _no_create_graph,
                Msg(
                    "A RuntimeError in the second call usually means the first gradient has no "
                    "graph: pass create_graph=True to the first torch.autograd.grad.",
                    "第二次调用抛出 RuntimeError，通常说明第一次求出的梯度没有计算图："
                    "请在第一次调用 torch.autograd.grad 时传入 create_graph=True。",
                ),
                raises="RuntimeError",
            ),
        ),
        edge_cases=lambda: [
            (ELEMENTWISE[0], torch.tensor([0.0, 1.0, -2.0], dtype=torch.float64)),
            (ELEMENTWISE[1], torch.tensor([2.0, 3.0], dtype=torch.float64)),
        ],
    )
)


# --- Exercise 2: a Hessian-vector product ------------------------------------------------


def _scalar_function(gen: torch.Generator, n: int) -> NamedFunction:
    A = _randn(gen, n, n)
    c = _randn(gen, n)
    k = random_size(gen, 0, 4)
    if k == 0:
        return NamedFunction("x · (A x) + sum(sin x)", "x @ (A @ x) + torch.sin(x).sum()", A=A)
    if k == 1:
        return NamedFunction("(sum x)³ + c · x²", "x.sum() ** 3 + (c * x**2).sum()", c=c)
    if k == 2:
        return NamedFunction("log(1 + |x|²)", "torch.log1p((x**2).sum())")
    return NamedFunction("sum(sin x) · sum(x²)", "torch.sin(x).sum() * (x**2).sum()")


def _hvp_args(gen: torch.Generator) -> tuple:
    n = random_size(gen, 2, 6)
    return _scalar_function(gen, n), _randn(gen, n), _randn(gen, n)


def _hvp_reference(f: NamedFunction, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return torch.autograd.functional.hvp(f, x.detach(), v.detach())[1]


def _grad_of(f: NamedFunction, x: torch.Tensor) -> torch.Tensor:
    return _derivatives(NamedFunction(f.name, lambda t: f(t)), x, 1)


register(
    Exercise(
        id="autograd_tools.hvp",
        process=("two_engine_runs",),
        forbids=frozenset({TORCH_FUNC}),  # torch.func.hessian builds the Hessian in two runs
        title=Msg("A Hessian-vector product", "海森矩阵-向量积"),
        make_args=_hvp_args,
        reference=_hvp_reference,
        hints=(
            Msg(
                "H v says how the gradient of f changes when x moves in the direction v. Can you "
                "write that as the gradient of one scalar, built from things autograd can give "
                "you?",
                "H v 描述的是：x 沿方向 v 移动时，f 的梯度如何变化。你能把它写成某一个标量的梯度吗？"
                "这个标量要由 autograd 能给你的量构造出来。",
            ),
            Msg(
                "H v is the gradient of the scalar (∇f · v). That takes two differentiations, and "
                "the first one's result must stay differentiable; neither needs the Hessian. x "
                "needs requires_grad=True first, and the answer must not carry a graph.",
                "H v 就是标量 (∇f · v) 的梯度。这需要求两次导，而且第一次的结果必须还能再求导；"
                "两次都用不到海森矩阵。x 要先设置 requires_grad=True，最终结果不能带计算图。",
            ),
        ),
        no_graph=True,
        diagnoses=(
            (
                lambda args, actual: _right_but_in_graph(_hvp_reference, args, actual),
                _still_in_graph("product", "乘积"),
            ),
        ),
        mistakes=(
            Mistake(
                "gradient_only",
                lambda f, x, v: _grad_of(f, x),
                Msg(
                    "You returned the gradient of f itself: H v is one differentiation further, "
                    "the gradient of (gradient · v).",
                    "你返回的是 f 本身的梯度：H v 还要再求一次导，即 (梯度 · v) 的梯度。",
                ),
            ),
            Mistake(
                "gradient_times_v",
                lambda f, x, v: _grad_of(f, x) * v,
                Msg(
                    "You multiplied the gradient by v element by element: H v needs a second "
                    "derivative, the gradient of (gradient · v).",
                    "你把梯度与 v 逐元素相乘了：H v 需要二阶导数，即 (梯度 · v) 的梯度。",
                ),
            ),
            Mistake(
                "v_left_out",
                lambda f, x, v: _hvp_reference(f, x, torch.ones_like(v)),
                Msg(
                    "Your answer is H times a vector of ones: take the dot product of the "
                    "gradient with v, not its plain sum.",
                    "你的结果是 H 乘以全 1 向量：梯度要与 v 做点积，而不是直接求和。",
                ),
            ),
        ),
    )
)


# --- Exercise 3: debug this (an in-place operation) ------------------------------------------


def _layer_args(gen: torch.Generator) -> tuple:
    n, d = random_size(gen, 2, 6), random_size(gen, 2, 5)
    return _randn(gen, n, d), _randn(gen, d)


def _fixed(
    x: torch.Tensor,
    w: torch.Tensor,
    *,
    double: bool = True,
    data: bool = False,
    inside: bool = False,
):
    w = w.detach().clone().requires_grad_(True)
    if inside:  # the doubling moved before the sigmoid: another loss
        h = torch.sigmoid(2 * (x @ w))
        ((h - 1) ** 2).sum().backward()
        return w.grad
    h = torch.sigmoid(x @ w)
    if data:
        h.data.mul_(2)  # hides the change from the version counter: a wrong gradient
    elif double:
        h = h * 2
    loss = ((h - 1) ** 2).sum()
    loss.backward()
    return w.grad


register(
    Exercise(
        id="autograd_tools.fixed_inplace",
        title=Msg("Debug this: an in-place operation", "调试：一处原地操作"),
        make_args=_layer_args,
        reference=_fixed,
        hints=(
            Msg(
                "Read the error: the tensor it names (an output of Sigmoid) was saved for "
                "backward and then changed in place. Keep the computation, change how it is done.",
                "读一读报错：它提到的张量（Sigmoid 的输出）被保存下来供反向传播使用，之后又被原地修改了。"
                "计算内容不变，改的是计算方式。",
            ),
            Msg(
                "Replace the in-place multiplication by one that makes a new tensor. Do not "
                "reach for .data or torch.no_grad(): they silence the check, not the problem.",
                "把原地乘法换成会生成新张量的乘法。不要用 .data 或 torch.no_grad()：它们只是让检查闭嘴，问题还在。",
            ),
        ),
        mistakes=(
            Mistake(
                "data_hides_it",
                lambda x, w: _fixed(x, w, data=True),
                Msg(
                    "Your gradient matches `h.data.mul_(2)`: .data hides the change from the "
                    "version counter, so Sigmoid's backward reads the doubled values and the "
                    "gradient is silently wrong.",
                    "你的梯度与 `h.data.mul_(2)` 的结果一致：.data 让版本计数器看不到这次修改，"
                    "于是 Sigmoid 的反向传播读到的是翻倍后的值，梯度悄无声息地算错了。",
                ),
            ),
            Mistake(
                "doubled_inside",
                lambda x, w: _fixed(x, w, inside=True),
                Msg(
                    "You moved the doubling inside the sigmoid: sigmoid(2z) is not 2·sigmoid(z). "
                    "Keep the computation as it was and change only how h is doubled.",
                    "你把乘以 2 挪到了 sigmoid 里面：sigmoid(2z) 不等于 2·sigmoid(z)。"
                    "计算内容保持原样，只改变 h 翻倍的方式。",
                ),
            ),
            Mistake(
                "doubling_dropped",
                lambda x, w: _fixed(x, w, double=False),
                Msg(
                    "You removed the doubling: the loss must stay the same, only the in-place "
                    "operation has to go.",
                    "你把乘以 2 这一步删掉了：损失必须保持不变，要去掉的只是原地操作。",
                ),
            ),
        ),
    )
)


# --- Exercise 4: a hook that clips an intermediate gradient --------------------------------


def _clip_args(gen: torch.Generator) -> tuple:
    x, w = _layer_args(gen)
    y = _randn(gen, x.shape[0]) * 2
    c = 0.2 + float(torch.rand(1, generator=gen, dtype=torch.float64))
    return x, w, y, c


def _clipped(x, w, y, c, *, where: str = "hook"):
    w = w.detach().clone().requires_grad_(True)
    h = x @ w
    if where == "hook":
        h.register_hook(lambda g: g.clamp(-c, c))
    elif where == "forward":
        h = h.clamp(-c, c)
    loss = ((h - y) ** 2).sum()
    loss.backward()
    return w.grad.clamp(-c, c) if where == "leaf" else w.grad


register(
    Exercise(
        id="autograd_tools.clipped_grad",
        process=("with_a_hook",),
        title=Msg("Clipping an intermediate gradient with a hook", "用钩子裁剪中间梯度"),
        make_args=_clip_args,
        reference=_clipped,
        hints=(
            Msg(
                "The clipping applies to the gradient that flows into h, before it reaches w: "
                "a hook on h can change that gradient on its way.",
                "裁剪作用在流入 h 的梯度上，在它到达 w 之前：h 上的钩子可以在途中修改这个梯度。",
            ),
            Msg(
                "A hook on a tensor is a function of the gradient arriving there; what it returns "
                "is used in its place. Register it on h before backward(), and limit the values "
                "to [−c, c] with one of torch's element-wise functions.",
                "张量上的钩子是一个以到达该处的梯度为参数的函数；它的返回值会代替原来的梯度。"
                "请在 backward() 之前把它注册到 h 上，并用 torch 的某个逐元素函数把数值限制在 [−c, c] 内。",
            ),
        ),
        mistakes=(
            Mistake(
                "clipped_at_the_leaf",
                lambda x, w, y, c: _clipped(x, w, y, c, where="leaf"),
                Msg(
                    "You clipped w.grad after backward: the exercise clips the gradient of h, "
                    "before it is multiplied into w's gradient.",
                    "你是在反向传播之后裁剪 w.grad：这道练习要裁剪的是 h 的梯度，在它乘进 w 的梯度之前。",
                ),
            ),
            Mistake(
                "clipped_the_values",
                lambda x, w, y, c: _clipped(x, w, y, c, where="forward"),
                Msg(
                    "You clipped the values of h in the forward pass: the exercise leaves the "
                    "forward pass alone and clips the gradient that flows back into h.",
                    "你在前向传播中裁剪了 h 的值：这道练习不改前向传播，要裁剪的是流回 h 的梯度。",
                ),
            ),
            Mistake(
                "not_clipped",
                lambda x, w, y, c: _clipped(x, w, y, c, where="none"),
                Msg(
                    "Your gradient is not clipped at all: did the hook return the clipped "
                    "tensor, and was it registered before backward()?",
                    "你的梯度根本没有被裁剪：钩子有没有返回裁剪后的张量？是在 backward() 之前注册的吗？",
                ),
            ),
        ),
    )
)
