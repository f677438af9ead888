"""Lesson 11 · Autograd's tools: autograd.grad, create_graph, hooks, in-place operations."""

from __future__ import annotations

import torch

from course_utils.exercises import READY_MADE, TORCH_FUNC, Exercise, Mistake, register
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
        asks="debug",
        novel="why calling backward() twice returns f′ + f″ (the first gradient stays in .grad "
        "and the second pass adds to it), and the fix; the page never calls backward twice",
        title=Msg("Fix a second derivative", "修好一个二阶导数"),
        make_args=lambda gen: (
            ELEMENTWISE[random_size(gen, 0, len(ELEMENTWISE))],
            _randn(gen, random_size(gen)) * 1.5,
        ),
        reference=lambda f, x: _derivatives(f, x, 2),
        hints=(
            Msg(
                "Compare what the buggy function returns with the first and the second "
                "derivative of a function you know (x³ at x = 1 and 2, say). Where does the "
                "second backward pass put its result, and what was already there?",
                "拿一个你熟悉的函数（比如 x³ 在 x = 1 和 2 处）比较这个有错的函数的返回值与一阶、二阶导数。"
                "第二次反向传播把结果放在哪里？那里原来已经有什么？",
            ),
            Msg(
                "backward() adds into .grad, so the second pass lands on top of the first "
                "derivative. Either reset .grad to None between the passes or, better, take both "
                "derivatives with the function that returns gradients instead of accumulating "
                "them (PyTorch's own warning recommends it). The first result must stay "
                "differentiable; the answer must not (.detach()).",
                "backward() 会累加到 .grad 中，所以第二次反向传播的结果叠加在了一阶导数上。"
                "要么在两次之间把 .grad 重置为 None，要么（更好）用直接返回梯度、而不是累加梯度的那个函数求两次导"
                "（PyTorch 自己的警告也这样建议）。第一次的结果必须还能再求导；最终结果则不能带计算图（.detach()）。",
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
                "first_plus_second",
                lambda f, x: _derivatives(f, x, 1) + _derivatives(f, x, 2),
                Msg(
                    "Your answer is the first derivative plus the second: the second backward() "
                    "added its result to the first derivative still held in x.grad.",
                    "你的结果是一阶导数加上二阶导数：第二次 backward() 把结果累加到了 x.grad 中"
                    "仍然保存着的一阶导数上。",
                ),
            ),
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
        asks="derive",
        novel="that H v is the gradient of one scalar built from the gradient and v, so two "
        "backward passes give it; the page builds H row by row, one pass per element of x",
        # torch.func.hessian builds the Hessian in two runs, and torch.autograd.functional's
        # vhp (or hvp) is the product in one call: the exercise is to see why two passes do
        forbids=frozenset({TORCH_FUNC, READY_MADE}),
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
                "Row i of H (a symmetric matrix) is the gradient of element i of ∇f, and H v is "
                "the sum of those rows weighted by the elements of v. A weighted sum of gradients is the gradient of the same "
                "weighted sum: which scalar is that here? Its first ingredient must stay "
                "differentiable, and the answer must not carry a graph.",
                "H（一个对称矩阵）的第 i 行是 ∇f 第 i 个分量的梯度，而 H v 就是以 v 的各个分量为权重、"
                "把这些行加起来的和。"
                "梯度的加权和，就是同样加权之和的梯度：这里它是哪个标量？构造它的第一样东西必须还能再求导，"
                "最终结果则不能带计算图。",
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
                    "You returned the gradient of f itself: H v is one differentiation further.",
                    "你返回的是 f 本身的梯度：H v 还要再求一次导。",
                ),
            ),
            Mistake(
                "gradient_times_v",
                lambda f, x, v: _grad_of(f, x) * v,
                Msg(
                    "You multiplied the gradient by v element by element: H v needs a second "
                    "derivative, with v inside what you differentiate the second time.",
                    "你把梯度与 v 逐元素相乘了：H v 需要二阶导数，而且 v 要出现在第二次求导的对象里。",
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
    shift: str = "out_of_place",
):
    """The exercise's program, with the shift of tanh's output done one way or another.

    ``shift``: ``"out_of_place"`` (the fix), ``"in_place"`` (the bug), ``"data"`` (hidden from the version counter: a
    wrong gradient), ``"dropped"``, ``"inside"`` (moved before the tanh: another loss)."""
    w = w.detach().clone().requires_grad_(True)
    z = x @ w
    z.mul_(0.5)  # harmless: the product saved x and w, not z
    if shift == "inside":
        a = torch.tanh(z + 0.1)
    else:
        a = torch.tanh(z)
    if shift == "data":
        a.data.add_(0.1)
    elif shift == "out_of_place":
        a = a + 0.1
    elif shift == "in_place":  # the bug: tanh saved a for its backward
        a.add_(0.1)
    b = a * 3.0
    b.sub_(1.0)  # harmless: a product with a number saves nothing of b
    (b**2).sum().backward()
    return w.grad


register(
    Exercise(
        id="autograd_tools.fixed_inplace",
        asks="debug",
        novel="three in-place operations, one of them harmful: which one, found from the error "
        "and anomaly mode (which names the forward operation whose saved tensor changed, not "
        "the line that changed it), and fixed without changing the loss",
        title=Msg("Debug this: an in-place operation", "调试：一处原地操作"),
        make_args=_layer_args,
        reference=_fixed,
        hints=(
            Msg(
                "Run it under torch.autograd.detect_anomaly(): the second traceback points at the "
                "forward operation whose saved tensor was changed. Which tensor did that "
                "operation save, and which of the three in-place lines changed it afterwards?",
                "在 torch.autograd.detect_anomaly() 下运行它：第二段回溯指向的是一个前向运算，"
                "它保存的张量后来被改动了。这个运算保存的是哪个张量？三行原地操作中，哪一行事后改动了它？",
            ),
            Msg(
                "An in-place operation is harmful only on a tensor that an earlier operation "
                "saved for backward: a product saves the factors it needs, tanh its output. "
                "Rewrite only that line so that it makes a new tensor; keep the computation, and "
                "do not reach for .data or torch.no_grad(): they get past the check, the problem "
                "stays.",
                "只有当某个前面的运算为反向传播保存了一个张量时，对这个张量的原地操作才有害："
                "乘法保存它需要的因子，tanh 保存它的输出。只改写这一行，让它生成一个新张量；"
                "计算内容不变。不要用 .data 或 torch.no_grad()：它们只是绕过了检查，问题依然存在。",
            ),
        ),
        mistakes=(
            Mistake(
                "data_hides_it",
                lambda x, w: _fixed(x, w, shift="data"),
                Msg(
                    "Your gradient is the one you get with `.data` on the harmful line: .data "
                    "hides the change from the version counter, so tanh's backward reads the "
                    "shifted values and the gradient is silently wrong.",
                    "你的梯度就是在有害的那一行用 `.data` 得到的结果：.data 让版本计数器看不到这次修改，"
                    "于是 tanh 的反向传播读到的是平移之后的值，梯度悄无声息地算错了。",
                ),
            ),
            Mistake(
                "shift_moved_inside",
                lambda x, w: _fixed(x, w, shift="inside"),
                Msg(
                    "You moved the shift inside the tanh: tanh(z + 0.1) is not tanh(z) + 0.1. "
                    "Keep the computation as it was and change only how it is done.",
                    "你把平移挪到了 tanh 里面：tanh(z + 0.1) 不等于 tanh(z) + 0.1。"
                    "计算内容保持原样，只改变计算的方式。",
                ),
            ),
            Mistake(
                "shift_dropped",
                lambda x, w: _fixed(x, w, shift="dropped"),
                Msg(
                    "You removed the shift of tanh's output: the loss must stay the same, only "
                    "the in-place operation has to go.",
                    "你把对 tanh 输出的平移删掉了：损失必须保持不变，要去掉的只是原地操作。",
                ),
            ),
            Mistake(
                "harmful_line_kept",
                lambda x, w: _fixed(x, w, shift="in_place"),
                Msg(
                    "Backward still raises the in-place error: the line you need to change is "
                    "still there. Anomaly mode names the forward operation whose saved tensor "
                    "changed; look for an in-place operation on that tensor after it.",
                    "反向传播仍然抛出原地操作的错误：需要改的那一行还在。异常检测模式指出的是一个前向运算，"
                    "它保存的张量被改动了；请在它之后找出对这个张量的原地操作。",
                ),
                raises="RuntimeError",
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
        asks="build",
        novel="a hook that clips the gradient flowing into an intermediate tensor; the page "
        "shows hooks that record a gradient and that mask one example's gradient, not a clip",
        title=Msg("Clipping an intermediate gradient with a hook", "用钩子裁剪中间梯度"),
        make_args=_clip_args,
        reference=_clipped,
        hints=(
            Msg(
                "The clipping applies to the gradient that flows into h, before it reaches w: "
                "a hook on h can change that gradient on its way.",
                "裁剪的对象是流入 h、尚未到达 w 的那份梯度：h 上的钩子可以在途中修改它。",
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
                    "你是在反向传播之后裁剪 w.grad：这道练习要在 h 的梯度乘进 w 的梯度之前就裁剪它。",
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
