"""Lesson 9 · Autograd's tools: autograd.grad, create_graph, hooks, in-place operations."""

from __future__ import annotations

import torch

from course_utils.exercises import Exercise, Mistake, register
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
                "Call torch.autograd.grad on f(x).sum() with create_graph=True, then call it "
                "again on the sum of that result. Return a tensor without a graph (.detach()).",
                "先对 f(x).sum() 调用 torch.autograd.grad，并传入 create_graph=True；"
                "再对所得结果求和后调用一次。返回不带计算图的张量（.detach()）。",
            ),
        ),
        no_graph=True,
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
        title=Msg("A Hessian-vector product", "海森矩阵-向量积"),
        make_args=_hvp_args,
        reference=_hvp_reference,
        hints=(
            Msg(
                "H v is the gradient of (∇f · v): differentiate f once keeping the graph, take "
                "the dot product with v, and differentiate that scalar again.",
                "H v 就是 (∇f · v) 的梯度：先对 f 求一次导并保留计算图，与 v 做点积，再对这个标量求一次导。",
            ),
            Msg(
                "Two calls to torch.autograd.grad. The first needs create_graph=True, so that the "
                "gradient it returns can itself be differentiated; the second differentiates the "
                "scalar you build from that gradient and v. x needs requires_grad=True before "
                "the first call, and the answer must not carry a graph.",
                "调用两次 torch.autograd.grad。第一次要传 create_graph=True，这样返回的梯度本身还能"
                "再求导；第二次对你用这个梯度和 v 构造出的标量求导。第一次调用之前，x 要先设置 "
                "requires_grad=True；最终结果不能带计算图。",
            ),
        ),
        no_graph=True,
        mistakes=(
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


def _fixed(x: torch.Tensor, w: torch.Tensor, *, double: bool = True, data: bool = False):
    w = w.detach().clone().requires_grad_(True)
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
                "Before backward(), call h.register_hook with a function that returns "
                "g.clamp(-c, c); the returned tensor replaces the gradient of h.",
                "在调用 backward() 之前，用 h.register_hook 注册一个返回 g.clamp(-c, c) 的函数；"
                "它返回的张量会替换 h 的梯度。",
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
