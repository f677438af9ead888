"""Lesson 7 · Backpropagation through a network by hand.

The network of the lesson (x: N×D inputs, y: N targets)::

    z = x @ W1 + b1                hidden pre-activation, N×H
    h = tanh(z)                    hidden layer (the learner's own activation in one exercise)
    y_hat = h @ w2 + b2            output, N
    loss = mean((y_hat - y) ** 2)  a scalar

The page works out ∂L/∂ŷ, ∂L/∂w2, ∂L/∂b2, ∂L/∂h, ∂L/∂z and ∂L/∂b1 for tanh. The exercises ask
for what it does not: ∂L/∂x, ∂L/∂W1 with another activation (a family, one member per
learner), the gradient of softmax and cross-entropy with respect to the logits, and the bugs of
a training step that makes the loss grow. References use torch.nn.functional and autograd (or
torch.optim), never the formulas the learner is asked to derive.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from course_utils.activations import ACTIVATIONS, HIDDEN_ACTIVATION
from course_utils.exercises import BY_HAND, Exercise, Mistake, Variant, register
from course_utils.i18n import Msg
from course_utils.objects import NamedFunction

PARAM_NAMES = ("W1", "b1", "w2", "b2")
TOLERANCE = Msg(
    "The test compares with autograd at a relative tolerance of 1e-4 (absolute 1e-5).",
    "测试与 autograd 的结果比较，相对容差 1e-4（绝对容差 1e-5）。",
)


def _int(gen: torch.Generator, low: int, high: int) -> int:
    return int(torch.randint(low, high + 1, (1,), generator=gen))


def _network(gen: torch.Generator) -> tuple:
    """Random (x, y, W1, b1, w2, b2) for a network with random sizes."""
    n, d, h = _int(gen, 1, 5), _int(gen, 1, 3), _int(gen, 2, 4)
    x = torch.randn(n, d, generator=gen)
    y = torch.randn(n, generator=gen)
    w1 = torch.randn(d, h, generator=gen)
    b1 = torch.randn(h, generator=gen) * 0.5
    w2 = torch.randn(h, generator=gen)
    b2 = torch.randn((), generator=gen) * 0.5
    return x, y, w1, b1, w2, b2


def _torch_loss(x, y, w1, b1, w2, b2, activation: Callable = torch.tanh) -> torch.Tensor:
    hidden = activation(F.linear(x, w1.T, b1))
    y_hat = F.linear(hidden, w2.unsqueeze(0), b2.reshape(1)).squeeze(-1)
    return F.mse_loss(y_hat, y)


def _autograd_grads(x, y, w1, b1, w2, b2, activation: Callable = torch.tanh):
    """(∂L/∂x, ∂L/∂W1, ∂L/∂b1, ∂L/∂w2, ∂L/∂b2), by autograd."""
    leaves = [t.detach().clone().requires_grad_(True) for t in (x, w1, b1, w2, b2)]
    xs, *params = leaves
    _torch_loss(xs, y, *params, activation=activation).backward()
    return tuple(t.grad for t in leaves)


def _edge_network(dtype: torch.dtype = torch.float32) -> tuple:
    # no hidden unit sits exactly at z = 0, where ReLU's derivative is a convention
    x = torch.tensor([[1.0, -2.0]], dtype=dtype)
    y = torch.tensor([0.5], dtype=dtype)
    w1 = torch.tensor([[0.5, -1.0, 0.0], [0.25, 0.5, 1.0]], dtype=dtype)
    b1 = torch.tensor([0.05, 0.1, -0.2], dtype=dtype)
    w2 = torch.tensor([1.0, -1.0, 2.0], dtype=dtype)
    b2 = torch.tensor(0.3, dtype=dtype)
    return x, y, w1, b1, w2, b2


def _perfect_network() -> tuple:
    """A network whose prediction is exactly the target: loss and every gradient are 0."""
    x = torch.tensor([[1.0], [2.0], [-1.0]])
    w1, b1 = torch.zeros(1, 2), torch.zeros(2)
    w2, b2 = torch.tensor([3.0, -1.0]), torch.tensor(0.7)
    return x, torch.full((3,), 0.7), w1, b1, w2, b2


def _edge_networks() -> list[tuple]:
    return [_edge_network(), _edge_network(torch.float64), _perfect_network()]


def _grad_z(x, y, w1, b1, w2, b2, *, slope=None, mean=True, sign=1.0):
    """∂L/∂z with the switches learners get wrong; ``slope(z, h)`` is the activation's
    derivative (default tanh's), ``None`` in ``slope`` for tanh."""
    z = x @ w1 + b1
    h = torch.tanh(z) if slope is None else slope[0](z)
    d_act = (1 - h**2) if slope is None else slope[1](z, h)
    delta = sign * 2 * (h @ w2 + b2 - y) / (len(y) if mean else 1)
    return delta[:, None] * w2 * d_act


# --- Exercise 1: ∂L/∂x ---------------------------------------------------------------------


def _x_grad_with(**switches) -> Callable:
    return lambda x, y, w1, b1, w2, b2: _grad_z(x, y, w1, b1, w2, b2, **switches) @ w1.T


register(
    Exercise(
        id="forward_backward.input_grad",
        forbids=BY_HAND,
        title=Msg("∂L/∂x: the gradient with respect to the inputs", "∂L/∂x：对输入的梯度"),
        make_args=_network,
        reference=lambda *args: _autograd_grads(*args)[0],
        asks="derive",
        novel="∂L/∂x, the gradient with respect to the inputs, which the page never derives "
        "(it stops at ∂L/∂z and ∂L/∂b1)",
        hints=(
            Msg(
                "x enters the network in one place only, z = x @ W1 + b1, and you have "
                "∂L/∂z from section 3. Ask how one z[n, k] changes when one input x[n, d] "
                "changes, and which z's a single x[n, d] reaches. " + TOLERANCE.en,
                "x 只在一个地方进入网络：z = x @ W1 + b1，而 ∂L/∂z 第 3 节已经求出。"
                "想一想：某个输入 x[n, d] 变化时，某个 z[n, k] 怎样变化？一个 x[n, d] 会影响到哪些 z？"
                + TOLERANCE.zh,
            ),
            Msg(
                "Each sample's inputs affect only that sample's row of z, so no sum over the "
                "samples appears: the answer has the shape of x, N × D. Within a sample, x[n, d] "
                "feeds every hidden unit k through the weight W1[d, k], so its gradient adds up "
                "the H paths, one per hidden unit. Check the shapes of your product.",
                "每个样本的输入只影响 z 中属于该样本的那一行，所以这里不出现对样本的求和：答案的形状与 x "
                "相同，N × D。在一个样本内，x[n, d] 通过权重 W1[d, k] 送入每一个隐藏单元 k，所以它的"
                "梯度要把这 H 条路径（每个隐藏单元一条）加起来。检查一下你的矩阵乘法的形状。",
            ),
        ),
        mistakes=(
            Mistake(
                "no_tanh_derivative",
                _x_grad_with(slope=(torch.tanh, lambda z, h: torch.ones_like(z))),
                Msg(
                    "Your gradient skips the tanh: between h and z the chain rule multiplies by "
                    "tanh's derivative.",
                    "你的梯度跳过了 tanh：从 h 到 z，链式法则还要乘上 tanh 的导数。",
                ),
            ),
            Mistake(
                "summed_over_samples",
                lambda *a: _x_grad_with()(*a).sum(dim=0),
                Msg(
                    "You added up the samples, as for a bias: but every sample has its own "
                    "inputs, so ∂L/∂x keeps one row per sample (the shape of x).",
                    "你像求偏置的梯度那样把各个样本加了起来；但每个样本都有自己的输入，所以 ∂L/∂x "
                    "每个样本保留一行（与 x 形状相同）。",
                ),
            ),
            Mistake(
                "transposed",
                lambda *a: _x_grad_with()(*a).T,
                Msg(
                    "Your result is the transpose (D × N): ∂L/∂x has the shape of x, one row "
                    "per sample.",
                    "你的结果是转置（D × N）：∂L/∂x 的形状与 x 相同，每个样本一行。",
                ),
            ),
            Mistake(
                "mean_twice",
                lambda *a: _x_grad_with()(*a) / len(a[0]),
                Msg(
                    "Your gradient is 1/N of the right one: the 1/N of the mean is already in "
                    "∂L/∂ŷ; do not divide by N again.",
                    "你的梯度只有正确值的 1/N：均值带来的 1/N 已经包含在 ∂L/∂ŷ 里了，不要再除以一次 N。",
                ),
            ),
            Mistake(
                "sign",
                _x_grad_with(sign=-1.0),
                Msg(
                    "Your gradient has the wrong sign: the error at the output is ŷ − y.",
                    "你的梯度符号反了：输出端的误差是 ŷ − y。",
                ),
            ),
        ),
        edge_cases=_edge_networks,
    )
)


# --- Exercise 2: ∂L/∂W1 for the learner's own activation -----------------------------------

# Each activation's derivative as a function of (z, h): the references use autograd, these
# only build the catalogued wrong answers, which keep the right derivative but one slip.
_SLOPES: dict[str, Callable] = {
    "relu(z)": lambda z, h: (z > 0).to(z.dtype),
    "sigmoid(z)": lambda z, h: h * (1 - h),
    "softplus(z)": lambda z, h: torch.sigmoid(z),
    "leaky_relu(z, 0.1)": lambda z, h: torch.where(z > 0, 1.0, 0.1).to(z.dtype),
}

# The slip that belongs to each activation: (name, wrong derivative, message).
_OWN_SLIPS: dict[str, tuple[str, Callable, Msg]] = {
    "relu(z)": (
        "output_as_slope",
        lambda z, h: h,
        Msg(
            "You multiplied by h, the ReLU's output, where the chain rule needs its derivative: "
            "the slope of h as a function of z.",
            "你乘上的是 ReLU 的输出 h，而链式法则需要的是它的导数：h 作为 z 的函数的斜率。",
        ),
    ),
    "sigmoid(z)": (
        "slope_at_h",
        lambda z, h: torch.sigmoid(h) * (1 - torch.sigmoid(h)),
        Msg(
            "You evaluated the sigmoid's derivative at h, the layer's output, instead of at its "
            "input z.",
            "你在隐藏层的输出 h 处计算了 sigmoid 的导数，而应该在它的输入 z 处计算。",
        ),
    ),
    "softplus(z)": (
        "exponent_sign",
        lambda z, h: torch.sigmoid(-z),
        Msg(
            "Your slope of softplus falls as z grows, but softplus gets steeper as z grows: a "
            "sign slipped in the exponent.",
            "你求出的 softplus 斜率随 z 增大而变小，但 softplus 随 z 增大越来越陡：指数上的符号错了。",
        ),
    ),
    "leaky_relu(z, 0.1)": (
        "relu_slope",
        lambda z, h: (z > 0).to(z.dtype),
        Msg(
            "You used ReLU's derivative: where z < 0 the leaky ReLU still passes a tenth of the "
            "gradient, it does not block it.",
            "你用的是 ReLU 的导数：在 z < 0 的地方，leaky ReLU 仍然让十分之一的梯度通过，而不是把它挡住。",
        ),
    ),
}

_W1_MESSAGES = {
    "tanh_slope": Msg(
        "You multiplied by 1 − h², the derivative of tanh from the page; your network's "
        "activation is another one, with a derivative of its own.",
        "你乘上的是 1 − h²，这是页面上 tanh 的导数；你的网络用的是另一个激活函数，它有自己的导数。",
    ),
    "no_activation_derivative": Msg(
        "Your gradient skips the activation: between h and z the chain rule multiplies by its "
        "derivative.",
        "你的梯度跳过了激活函数：从 h 到 z，链式法则还要乘上它的导数。",
    ),
    "transposed": Msg(
        "Your result is the transpose (H × D): ∂L/∂W1 has the shape of W1, inputs × hidden units.",
        "你的结果是转置（H × D）：∂L/∂W1 的形状与 W1 相同，即输入数 × 隐藏单元数。",
    ),
    "summed_too_early": Msg(
        "You summed over the samples before multiplying: each sample's input multiplies its own "
        "∂L/∂z, and only the products are added up.",
        "你在相乘之前就对样本求了和：应当让每个样本的输入与它自己的 ∂L/∂z 相乘，再把这些乘积加起来。",
    ),
    "mean_twice": Msg(
        "Your gradient is 1/N of the right one: the 1/N of the mean is already in ∂L/∂ŷ, so the "
        "samples' products add up, they are not averaged again.",
        "你的梯度只有正确值的 1/N：均值带来的 1/N 已经包含在 ∂L/∂ŷ 里了，"
        "各样本的乘积应直接相加，不要再取一次平均。",
    ),
}


def _w1_member(f: NamedFunction) -> Variant:
    right = _SLOPES[f.name]

    def grad_z(*args, slope=right):
        return _grad_z(*args, slope=(f, slope))

    def answer(how: str) -> Callable:
        def wrong(x, y, w1, b1, w2, b2):
            args = (x, y, w1, b1, w2, b2)
            if how == "tanh_slope":
                return x.T @ grad_z(*args, slope=lambda z, h: 1 - h**2)
            if how == "no_activation_derivative":
                return x.T @ grad_z(*args, slope=lambda z, h: torch.ones_like(z))
            if how == "transposed":
                return grad_z(*args).T @ x
            if how == "summed_too_early":
                return x.sum(dim=0)[:, None] * grad_z(*args).sum(dim=0)[None, :]
            if how == "mean_twice":
                return x.T @ grad_z(*args) / len(x)
            return x.T @ grad_z(*args, slope=_OWN_SLIPS[f.name][1])

        return wrong

    own_name, _, own_msg = _OWN_SLIPS[f.name]
    return Variant(
        reference=lambda *args: _autograd_grads(*args, activation=f)[1],
        mistakes=tuple(Mistake(name, answer(name), msg) for name, msg in _W1_MESSAGES.items())
        + (Mistake(own_name, answer(own_name), own_msg),),
    )


register(
    Exercise(
        id="forward_backward.hidden_weight_grad",
        forbids=BY_HAND,
        title=Msg("∂L/∂W1 with your own activation", "用你自己的激活函数求 ∂L/∂W1"),
        make_args=_network,
        family=HIDDEN_ACTIVATION,
        variants=tuple(_w1_member(f) for f in ACTIVATIONS),
        asks="derive",
        novel="∂L/∂W1, which the page does not write out, for the learner's own hidden "
        "activation (ReLU, sigmoid, softplus or leaky ReLU), whose derivative it never gives",
        hints=(
            Msg(
                "Two steps the page does not take: the derivative of your activation (as a "
                "function of z, element by element), and how z = x @ W1 + b1 depends on one "
                "weight W1[d, k]: which samples, which input feature and which hidden unit does "
                "it touch? " + TOLERANCE.en,
                "页面上没有走的两步：你的激活函数的导数（作为 z 的函数，逐元素），以及 z = x @ W1 + b1 "
                "如何依赖某一个权重 W1[d, k]：它涉及哪些样本、哪个输入特征、哪个隐藏单元？"
                + TOLERANCE.zh,
            ),
            Msg(
                "W1[d, k] multiplies input feature d of every sample and feeds hidden unit k, so "
                "its gradient adds up, over the samples, that input feature times that unit's "
                "∂L/∂z. A sum over the samples of such products is one matrix product, and the "
                "result has the shape of W1 (D × H). Only the activation's derivative differs "
                "from tanh's network.",
                "W1[d, k] 与每个样本的第 d 个输入特征相乘，并送入第 k 个隐藏单元，所以它的梯度是："
                "对所有样本，把该输入特征与该隐藏单元的 ∂L/∂z 相乘再求和。这种沿样本的乘积求和"
                "正好是一次矩阵乘法，结果的形状与 W1 相同（D × H）。与 tanh 的网络相比，只有激活函数的"
                "导数不同。",
            ),
        ),
        edge_cases=_edge_networks,
    )
)


# --- Exercise 3: softmax and cross-entropy ---------------------------------------------------


def _logits(gen: torch.Generator) -> tuple:
    n, c = _int(gen, 1, 6), _int(gen, 2, 5)
    logits = torch.randn(n, c, generator=gen) * 2
    labels = torch.randint(0, c, (n,), generator=gen)
    return logits, labels


def _xent_reference(logits, labels):
    z = logits.detach().clone().requires_grad_(True)
    F.cross_entropy(z, labels).backward()
    return z.grad


def _xent_wrong(logits, labels, *, dim=1, sign=1.0, onehot=True, mean=True, own_only=False):
    p = torch.softmax(logits, dim=dim)
    y = F.one_hot(labels, logits.shape[1]).to(logits.dtype)
    if own_only:  # the derivative of -log p_y through its own logit only
        g = -(1 - p) * y
    else:
        g = sign * (p - y) if onehot else p
    return g / len(labels) if mean else g


def _xent_edges() -> list[tuple]:
    big = torch.tensor([[30.0, -30.0, 0.0], [0.0, 0.0, 0.0]])
    sure = torch.tensor([[8.0, -8.0]], dtype=torch.float64)
    return [(big, torch.tensor([1, 2])), (sure, torch.tensor([0]))]


register(
    Exercise(
        id="forward_backward.softmax_xent_grad",
        forbids=BY_HAND,
        title=Msg("∂L/∂logits for softmax and cross-entropy", "softmax 与交叉熵：∂L/∂logits"),
        make_args=_logits,
        reference=_xent_reference,
        asks="derive",
        novel="the gradient of the mean cross-entropy with respect to the logits, which the page "
        "defines but never differentiates",
        hints=(
            Msg(
                "Write the loss of one sample as −z_y + log Σ_c e^(z_c), with y its label, and "
                "differentiate it with respect to one logit z_c: once for c = y, once for c ≠ y. "
                "Then remember the mean over the samples. " + TOLERANCE.en,
                "把一个样本的损失写成 −z_y + log Σ_c e^(z_c)（y 是它的标签），再对某一个 logit z_c "
                "求导：c = y 时算一次，c ≠ y 时再算一次。最后别忘了对样本取平均。" + TOLERANCE.zh,
            ),
            Msg(
                "The derivative of the log-sum-exp term with respect to z_c is a quantity the "
                "lesson already computed for every class. Every logit of a sample gets a "
                "gradient, not only the label's, and the gradients of one row add up to zero.",
                "log-sum-exp 那一项对 z_c 的导数，是本课已经为每个类别算过的一个量。"
                "一个样本的每个 logit 都有梯度，不只是标签对应的那个；同一行的梯度加起来等于零。",
            ),
        ),
        mistakes=(
            Mistake(
                "no_mean",
                lambda lg, lb: _xent_wrong(lg, lb, mean=False),
                Msg(
                    "Your gradient is N times too large: cross_entropy averages over the samples, "
                    "and the 1/N stays in its derivative.",
                    "你的梯度是正确值的 N 倍：cross_entropy 对样本取了平均，求导后 1/N 仍然保留。",
                ),
            ),
            Mistake(
                "sign",
                lambda lg, lb: _xent_wrong(lg, lb, sign=-1.0),
                Msg(
                    "Your gradient has the wrong sign: raising the label's logit lowers the loss, "
                    "so its gradient is negative.",
                    "你的梯度符号反了：提高标签对应的 logit 会让损失下降，所以它的梯度是负的。",
                ),
            ),
            Mistake(
                "no_label_term",
                lambda lg, lb: _xent_wrong(lg, lb, onehot=False),
                Msg(
                    "You differentiated only the log-sum-exp term: the loss also has −z_y, "
                    "whose derivative is −1 at the label's logit.",
                    "你只对 log-sum-exp 那一项求了导：损失里还有 −z_y，它在标签对应的 logit 处的导数是 −1。",
                ),
            ),
            Mistake(
                "label_logit_only",
                lambda lg, lb: _xent_wrong(lg, lb, own_only=True),
                Msg(
                    "Only the label's logit has a gradient in your answer: but softmax couples "
                    "every logit of a sample, so raising any other logit raises the loss too.",
                    "你的答案里只有标签对应的 logit 有梯度；但 softmax 把一个样本的所有 logit 联系在一起，"
                    "提高其他任何一个 logit 也会让损失上升。",
                ),
            ),
            Mistake(
                "softmax_over_samples",
                lambda lg, lb: _xent_wrong(lg, lb, dim=0),
                Msg(
                    "Your softmax normalises each column, over the samples; the probabilities of "
                    "one sample are a row, normalised over the classes.",
                    "你的 softmax 是按列、在样本之间归一化的；一个样本的各类概率是一行，应在类别之间归一化。",
                ),
            ),
        ),
        edge_cases=_xent_edges,
    )
)


# --- Exercise 4: a training step that does not train -----------------------------------------


def _step_args(gen: torch.Generator) -> tuple:
    lr = round(float(torch.empty(()).uniform_(0.01, 0.5, generator=gen)), 3)
    return (*_network(gen), lr)


def _sgd_step(x, y, w1, b1, w2, b2, lr):
    params = [p.detach().clone().requires_grad_(True) for p in (w1, b1, w2, b2)]
    optimizer = torch.optim.SGD(params, lr=lr)
    _torch_loss(x, y, *params).backward()
    optimizer.step()
    return tuple(p.detach() for p in params)


def _broken(x, y, w1, b1, w2, b2, lr, *, total=False, uphill=False, recorded=False):
    """The lesson's broken step with some of its three bugs left in (autograd, as it does)."""
    params = [p.detach().clone().requires_grad_(True) for p in (w1, b1, w2, b2)]
    errors = (torch.tanh(x @ params[0] + params[1]) @ params[2] + params[3] - y) ** 2
    (errors.sum() if total else errors.mean()).backward()
    sign = -1.0 if uphill else 1.0
    if recorded:
        return tuple(p - sign * lr * p.grad for p in params)
    with torch.no_grad():
        return tuple(p - sign * lr * p.grad for p in params)


register(
    Exercise(
        id="forward_backward.descent_step",
        title=Msg("A training step that does not train", "一个不会训练的训练步骤"),
        make_args=_step_args,
        reference=_sgd_step,
        kind="tensors",
        output_names=PARAM_NAMES,
        no_graph=True,
        asks="debug",
        novel="three bugs in a given gradient-descent step (the loss it differentiates, the "
        "direction it moves, what autograd records), found by running it",
        hints=(
            Msg(
                "Run broken_step a few times on the lesson's network and print the loss after "
                "each step, and look at what it returns (requires_grad, grad_fn). Then read it "
                "line by line against what one step of gradient descent on the lesson's loss "
                "must do. " + TOLERANCE.en,
                "在本课的网络上把 broken_step 运行几次，打印每一步之后的损失，再看看它返回的是什么"
                "（requires_grad、grad_fn）。然后逐行对照：在本课的损失上做一步梯度下降应该做哪些事。"
                + TOLERANCE.zh,
            ),
            Msg(
                "Three things are wrong, one per line that matters: the loss it differentiates is "
                "not the lesson's (compare the step size for N samples), it moves the wrong way, "
                "and autograd records the update, so the new parameters are not leaves and a "
                "second step cannot fill their .grad.",
                "有三处错误，每处在一行关键代码里：它求导的损失不是本课的损失（比较一下 N 个样本时步长有多大）；"
                "它朝错误的方向移动；autograd 记录了更新本身，所以新参数不是叶子张量，下一步无法填好它们的 .grad。",
            ),
        ),
        mistakes=(
            Mistake(
                "unchanged",
                lambda *a: _broken(*a, total=True, uphill=True, recorded=True),
                Msg(
                    "This is what broken_step returns: none of its three bugs is fixed yet.",
                    "这正是 broken_step 的返回值：它的三处错误一处也还没有改。",
                ),
            ),
            Mistake(
                "still_uphill",
                lambda *a: _broken(*a, uphill=True),
                Msg(
                    "Your step still climbs: the parameters move with their gradients, and the "
                    "loss grows.",
                    "你的这一步仍然在“上坡”：参数顺着梯度移动，损失会变大。",
                ),
            ),
            Mistake(
                "still_sum",
                lambda *a: _broken(*a, total=True),
                Msg(
                    "Your step is N times too long: it still differentiates the sum of the "
                    "squared errors, while the lesson's loss is their mean.",
                    "你的步长是正确值的 N 倍：它求导的仍然是误差平方之和，而本课的损失是它们的平均值。",
                ),
            ),
            Mistake(
                "still_recorded",
                lambda *a: _broken(*a, recorded=True),
                Msg(
                    "The values are right, but autograd recorded the update: the new parameters "
                    "have a grad_fn, so they are not leaves and the next backward() will not "
                    "fill their .grad.",
                    "数值对了，但 autograd 记录了更新本身：新参数带有 grad_fn，不是叶子张量，"
                    "下一次 backward() 不会填好它们的 .grad。",
                ),
            ),
        ),
        edge_cases=lambda: [(*net, 0.1) for net in _edge_networks()],
    )
)
