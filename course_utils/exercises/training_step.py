"""Lessons 1 and 8 · The training step and what the optimizer does with it.

Lesson 1 (the whole game): what ``backward()`` leaves in a bias's ``.grad`` for a sum or a
mean over a batch (derived, not looked up), and the training loop itself (built: the page runs
one step in pieces). Lesson 8 (optimizers, exactly): the gradient a classifier's last layer
receives from cross-entropy, the learner's own member of :data:`course_utils.head_losses.HEAD_LOSS`
(derived by hand), and two steps of ``torch.optim.SGD`` with momentum, weight decay and a
learning-rate change (derived by hand). References run real torch: autograd, ``nn.Linear``,
``F.cross_entropy`` and ``torch.optim.SGD``; models are small, so a check takes milliseconds.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from course_utils.exercises import BY_HAND, OPTIM, Exercise, Mistake, Variant, register
from course_utils.head_losses import HEAD_LOSS, MEMBERS
from course_utils.i18n import Msg


def _int(gen: torch.Generator, low: int, high: int) -> int:
    return int(torch.randint(low, high + 1, (1,), generator=gen))


def _shape(gen: torch.Generator) -> tuple[int, ...]:
    return tuple(_int(gen, 1, 4) for _ in range(_int(gen, 1, 3)))


def _uniform(gen: torch.Generator, low: float, high: float, digits: int) -> float:
    return round(float(torch.empty(()).uniform_(low, high, generator=gen)), digits)


# --- Lesson 1, Exercise 1: what backward() leaves in fc.bias.grad ---------------------------

# The losses the exercise names, as the learner reads them in the prompt.
BIAS_LOSSES = {
    "sum": lambda d: d.sum(),
    "mean": lambda d: d.mean(),
    "batch_mean": lambda d: d.sum(dim=1).mean(),
}


def _bias_args(gen: torch.Generator) -> tuple:
    loss = sorted(BIAS_LOSSES)[_int(gen, 0, len(BIAS_LOSSES) - 1)]
    return loss, _int(gen, 2, 16), _int(gen, 2, 1000), _int(gen, 1, 3)


def _bias_reference(loss: str, batch: int, classes: int, calls: int) -> float:
    """fc.bias.grad[0] of a real nn.Linear head after `calls` backward passes (all are equal)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(batch * 1009 + classes)
        fc = nn.Linear(3, classes, dtype=torch.float64)
        features = torch.randn(batch, 3, dtype=torch.float64)
        labels = torch.rand(batch, classes, dtype=torch.float64)
    value = BIAS_LOSSES[loss](fc(features) - labels)
    for _ in range(calls):
        value.backward(retain_graph=True)
    return float(fc.bias.grad[0])


def _per_image(loss: str, batch: int, classes: int) -> float:
    """d loss / d bias_k for one backward pass: each bias is added to one score per image."""
    return {"sum": float(batch), "mean": 1 / classes, "batch_mean": 1.0}[loss]


register(
    Exercise(
        id="training_step.bias_grad",
        title=Msg(
            "What backward() puts into fc.bias.grad", "backward() 往 fc.bias.grad 里放了什么"
        ),
        make_args=_bias_args,
        reference=_bias_reference,
        kind="value",
        forbids=BY_HAND,
        asks="derive",
        novel="fc.bias.grad for a batch of any size, for a mean as well as a sum, after one or "
        "more backward() calls; the page shows one image, the sum and one call (all ones)",
        hints=(
            Msg(
                "Count how many of the scores one bias is added to in a batch, and how much the "
                "loss changes when one score grows by a little. The labels do not matter: why?",
                "数一数：在一批数据里，一个偏置被加到了多少个分数上？某一个分数稍微变大一点，"
                "损失又变化多少？标签不影响结果：为什么？",
            ),
            Msg(
                "A sum counts every score once, a mean over n numbers counts each one 1/n; "
                "`batch_mean` first sums each image's scores, then averages the images. And "
                "backward() does not replace what is already in .grad.",
                "求和时每个分数算一次，对 n 个数求平均时每个数只占 1/n；`batch_mean` 先把每张图像的"
                "分数加起来，再对图像求平均。另外，backward() 不会替换 .grad 里已有的内容。",
            ),
        ),
        mistakes=(
            Mistake(
                "one_image",
                lambda loss, batch, classes, calls: calls * _per_image(loss, 1, classes),
                Msg(
                    "Your answer is right for a batch of one image only. A bias is added to its "
                    "class's score in every image of the batch, so every image adds to its "
                    "gradient.",
                    "你的答案只对只有一张图像的批次成立。偏置会加到批次中每一张图像对应类别的分数上，"
                    "所以每张图像都会给它的梯度贡献一份。",
                ),
            ),
            Mistake(
                "mean_of_every_entry",
                lambda loss, batch, classes, calls: (
                    calls
                    * (
                        1 / (batch * classes)
                        if loss == "mean"
                        else _per_image(loss, batch, classes)
                    )
                ),
                Msg(
                    "For the mean you divided by all batch × classes entries once, but one bias "
                    "is in `batch` of those entries: each of them counts.",
                    "对 mean 你只是除以了全部 batch × classes 个元素，但一个偏置出现在其中 batch 个元素里："
                    "每一个都要算上。",
                ),
            ),
            Mistake(
                "mean_as_sum",
                lambda loss, batch, classes, calls: (
                    calls * (float(batch) if loss == "mean" else _per_image(loss, batch, classes))
                ),
                Msg(
                    "You treated the mean like the sum: a mean divides by the number of entries, "
                    "and so does its gradient.",
                    "你把 mean 当成了求和：平均值要除以元素个数，它的梯度也一样。",
                ),
            ),
            Mistake(
                "calls_ignored",
                lambda loss, batch, classes, calls: _per_image(loss, batch, classes),
                Msg(
                    "Your answer is right after one backward() only. A second call adds its "
                    "gradient to what .grad already holds; nothing resets it in between.",
                    "你的答案只在调用一次 backward() 时成立。第二次调用会把梯度加到 .grad 里已有的值上；"
                    "两次之间没有任何东西把它重置。",
                ),
            ),
        ),
        # a batch of images under each loss (the page shows one image), and calls that add up
        trials=12,
        edge_cases=lambda: [("sum", 4, 1000, 1), ("mean", 4, 1000, 2), ("batch_mean", 3, 10, 2)],
    )
)


# --- Lesson 1, Exercise 2: the training loop --------------------------------------------------

MOMENTUM = 0.9  # the tutorial's, and the one the prompt names


def _loop_args(gen: torch.Generator) -> tuple:
    n_in, hidden, n_out = _int(gen, 2, 6), _int(gen, 2, 8), _int(gen, 1, 4)
    seed = int(torch.randint(0, 2**31, (1,), generator=gen))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Linear(n_in, hidden), nn.Tanh(), nn.Linear(hidden, n_out))
    batch = _int(gen, 4, 16)
    data = torch.randn(batch, n_in, generator=gen)
    labels = torch.randn(batch, n_out, generator=gen)
    return model, data, labels, _uniform(gen, 0.02, 0.3, 3), _int(gen, 3, 8)


def _loop(model, data, labels, lr, steps, *, zero=True, order="right", fresh=False, loss="mse"):
    """The loop, written out with the slips learners make in it."""
    losses = []
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=MOMENTUM)
    for _ in range(steps):
        if fresh:
            optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=MOMENTUM)
        if zero and order != "zero_last":
            optimizer.zero_grad()
        prediction = model(data)
        value = F.mse_loss(prediction, labels, reduction="mean" if loss == "mse" else "sum")
        if order == "step_first":
            optimizer.step()
            value.backward()
        else:
            value.backward()
            if order == "zero_last":
                optimizer.zero_grad()
            optimizer.step()
        losses.append(value.item())
    return torch.tensor(losses)


def _loop_reference(model, data, labels, lr: float, steps: int) -> torch.Tensor:
    return _loop(model, data, labels, lr, steps)


register(
    Exercise(
        id="training_step.train",
        title=Msg("The training loop", "训练循环"),
        make_args=_loop_args,
        reference=_loop_reference,
        kind="tensor",
        asks="build",
        novel="the loop itself: the page takes one step in pieces and never repeats it, so a "
        "fresh gradient per step, one optimizer for the whole run and a loss per step are the "
        "learner's to get right",
        hints=(
            Msg(
                "Each step needs a gradient of this step's loss only, and the optimizer must "
                "see that gradient when it steps. Which object has to live for the whole run, "
                "and which things happen once per step?",
                "每一步都需要只属于这一步损失的梯度，而且优化器更新时必须能看到这份梯度。"
                "哪个对象要在整个训练过程中一直存在？哪些事情每一步都要做一次？",
            ),
            Msg(
                "Momentum is state that the optimizer keeps between steps, and backward() adds "
                "to .grad rather than replacing it. Look at the order of lesson 1's three calls, "
                "and at what the loss of a step is measured on: the parameters before that "
                "step's update.",
                "动量是优化器在各步之间保存的状态，而 backward() 是把梯度加到 .grad 上，而不是替换它。"
                "看一看第 1 课那三个调用的顺序，再想一想每一步的损失是在什么参数上算的："
                "这一步更新之前的参数。",
            ),
        ),
        mistakes=(
            Mistake(
                "no_zero_grad",
                lambda *a: _loop(*a, zero=False),
                Msg(
                    "From the second step on, your steps use the sum of every gradient so far: "
                    "backward() adds to .grad, so each step must start from a reset gradient.",
                    "从第二步起，你的每一步用的都是到目前为止所有梯度之和：backward() 会把梯度累加到 "
                    ".grad 上，所以每一步开始时都要先重置梯度。",
                ),
            ),
            Mistake(
                "never_moves",
                lambda *a: _loop(*a, order="step_first"),
                Msg(
                    "Your loss never changes: step() found no gradient, so no parameter moved. "
                    "backward() has to fill the gradients after they are reset and before "
                    "step() reads them.",
                    "你的损失一直没有变化：step() 没有找到梯度，所以没有任何参数移动。"
                    "backward() 必须在梯度重置之后、step() 读取它们之前把梯度填好。",
                ),
            ),
            Mistake(
                "momentum_lost",
                lambda *a: _loop(*a, fresh=True),
                Msg(
                    "Your steps have no momentum: an optimizer created anew at every step (or "
                    "created without momentum=0.9) starts each step with no velocity.",
                    "你的每一步都没有动量：每一步都新建的优化器（或者创建时没有设置 momentum=0.9）"
                    "在每一步开始时都没有速度。",
                ),
            ),
            Mistake(
                "sum_of_squares",
                lambda *a: _loop(*a, loss="sum"),
                Msg(
                    "Your loss is the sum of the squared errors, not their mean: every gradient "
                    "is as many times too large as there are numbers in labels.",
                    "你的损失是平方误差之和，而不是它们的平均值：每个梯度都成了正确值的 labels.numel() 倍。",
                ),
            ),
        ),
    )
)


# --- Lesson 8, Exercise 1: the gradient cross-entropy hands the last layer ------------------


def _head_args(gen: torch.Generator) -> tuple:
    batch, n_in, classes = _int(gen, 2, 5), _int(gen, 2, 5), _int(gen, 2, 6)
    x = torch.randn(batch, n_in, generator=gen, dtype=torch.float64)
    weight = torch.randn(classes, n_in, generator=gen, dtype=torch.float64)
    bias = torch.randn(classes, generator=gen, dtype=torch.float64)
    y = torch.randint(0, classes, (batch,), generator=gen)
    return x, weight, bias, y


def _head_reference(eps: float, temperature: float):
    def reference(x, weight, bias, y):
        weight = weight.detach().clone().requires_grad_(True)
        bias = bias.detach().clone().requires_grad_(True)
        z = F.linear(x, weight, bias)
        F.cross_entropy(z / temperature, y, label_smoothing=eps).backward()
        return weight.grad, bias.grad

    return reference


def _head_from(score_grad):
    """A wrong answer built from a wrong ∂L/∂z, passed on to the layer's weight and bias."""

    def answer(x, weight, bias, y):
        g = score_grad(x @ weight.T + bias, y, weight.shape[0])
        return g.T @ x, g.sum(dim=0)

    return answer


def _target(y, classes: int, eps: float, shrink: bool = True):
    one_hot = F.one_hot(y, classes).to(torch.float64)
    return (1 - eps if shrink else 1.0) * one_hot + eps / classes


TRANSPOSED = Msg(
    "Your weight gradient is the transpose of the right one, the shape of Wᵀ (inputs × classes): "
    "a gradient has the shape of its parameter, classes × inputs like weight, entry for entry.",
    "你的权重梯度是正确答案的转置，形状是 Wᵀ 的形状（输入数 × 类别数）：梯度与它的参数形状相同，"
    "应当和 weight 一样是类别数 × 输入数，而且逐个元素对应。",
)


def _head_member(eps: float, temperature: float) -> Variant:
    def grad(z, y, classes, *, eps=eps, t=temperature, over=1, outer=True, shrink=True):
        p = torch.softmax(z / t, dim=over)
        g = (p - _target(y, classes, eps, shrink)) / z.shape[0]
        return g / t if outer else g

    common = (
        Mistake(
            "sign",
            _head_from(lambda z, y, c: -grad(z, y, c)),
            Msg(
                "Your gradients have the wrong sign: they point to where the loss falls. The "
                "loss grows when the score of a wrong class grows.",
                "你的梯度符号反了：它们指向损失下降的方向。而错误类别的分数变大时，损失是增大的。",
            ),
        ),
        Mistake(
            "no_batch_mean",
            _head_from(lambda z, y, c: grad(z, y, c) * z.shape[0]),
            Msg(
                "Your gradients are B times too large (B the batch size): the loss is the mean "
                "over the batch, so each image's share is divided by B.",
                "你的梯度是正确值的 B 倍（B 是批大小）：损失是对这一批求的平均值，所以每张图像的份额都要除以 B。",
            ),
        ),
        Mistake(
            "probabilities_only",
            _head_from(
                lambda z, y, c: grad(z, y, c) + _target(y, c, eps) / z.shape[0] / temperature
            ),
            Msg(
                "Your ∂L/∂z has the softmax term but not the target's: the log of the right "
                "class's probability also depends on that class's score directly.",
                "你的 ∂L/∂z 只有 softmax 那一项，没有目标那一项：正确类别概率的对数还直接依赖于该类别自己的分数。",
            ),
        ),
        Mistake(
            "softmax_over_batch",
            _head_from(lambda z, y, c: grad(z, y, c, over=0)),
            Msg(
                "Your softmax runs over the batch (dim 0): each image's probabilities are a "
                "softmax over its own classes (dim 1).",
                "你的 softmax 是沿着批次（dim 0）做的：每张图像的概率应当是对它自己的各个类别（dim 1）做 softmax。",
            ),
        ),
    )
    if eps:
        own = (
            Mistake(
                "smoothing_ignored",
                _head_from(lambda z, y, c: grad(z, y, c, eps=0.0)),
                Msg(
                    "Your gradient is that of plain cross-entropy: with label smoothing the "
                    "target is no longer one-hot, and the gradient changes with it.",
                    "你求的是普通交叉熵的梯度：有了标签平滑，目标就不再是独热向量，梯度也随之改变。",
                ),
            ),
            Mistake(
                "smoothing_not_shrunk",
                _head_from(lambda z, y, c: grad(z, y, c, shrink=False)),
                Msg(
                    "Your target adds ε/C to every class but keeps the full 1 on the right "
                    "class: it must shrink to 1 − ε there, so that the target still sums to 1.",
                    "你的目标给每个类别都加上了 ε/C，却让正确类别保留了完整的 1：那里应当缩小为 1 − ε，"
                    "这样目标的总和才仍然是 1。",
                ),
            ),
        )
    else:
        own = (
            Mistake(
                "temperature_ignored",
                _head_from(lambda z, y, c: grad(z, y, c, t=1.0)),
                Msg(
                    "Your gradient is that of cross-entropy on z itself: the loss divides the "
                    "scores by T before the softmax.",
                    "你求的是直接对 z 做交叉熵的梯度：这个损失在 softmax 之前先把分数除以了 T。",
                ),
            ),
            Mistake(
                "inner_factor_missed",
                _head_from(lambda z, y, c: grad(z, y, c, outer=False)),
                Msg(
                    "Your gradient is T times what it should be: the softmax of z / T is right, "
                    "but the chain rule's factor from z / T back to z is missing.",
                    "你的梯度是正确值的 T 倍：z / T 上的 softmax 没错，但从 z / T 回到 z，链式法则还有一个因子没乘。",
                ),
            ),
        )
    reference = _head_reference(eps, temperature)
    return Variant(
        reference=reference,
        mistakes=common + own,
        diagnoses=((_transposed_of(reference), TRANSPOSED),),
    )


def _transposed_of(reference):
    """Whether the weight gradient is the right one transposed (square weights included)."""

    def transposed(args: tuple, actual) -> bool:
        right = reference(*args)[0].T
        w = actual[0]
        return tuple(w.shape) == tuple(right.shape) and torch.allclose(w, right)

    return transposed


def _bias_per_image(args: tuple, actual) -> bool:
    x, weight, _, _ = args
    return tuple(actual[1].shape) == (x.shape[0], weight.shape[0])


register(
    Exercise(
        id="training_step.head_grads",
        title=Msg(
            "The gradient cross-entropy hands the last layer",
            "交叉熵传给最后一层的梯度",
        ),
        make_args=_head_args,
        family=HEAD_LOSS,
        variants=tuple(_head_member(eps, t) for eps, t in MEMBERS),
        kind="tensors",
        output_names=("weight_grad", "bias_grad"),
        rtol=1e-6,
        atol=1e-8,
        forbids=BY_HAND,
        asks="derive",
        novel="∂L/∂W and ∂L/∂b of a linear layer under the learner's own cross-entropy (label "
        "smoothing or a temperature), whose gradient no page of the course writes out",
        hints=(
            Msg(
                "Work in two stages: first the gradient of the loss with respect to the scores "
                "z, one row per image (lesson 7 found it for plain cross-entropy: what does your "
                "ε or T change in that derivation?); then pass it through z = x Wᵀ + b as lesson 7 "
                "did for a layer.",
                "分两步走：先求损失对分数 z 的梯度，每张图像一行（第 7 课对普通交叉熵求过它：你的 ε 或 T "
                "在那个推导里改变了什么？）；再像第 7 课处理一层那样，把它传过 z = x Wᵀ + b。",
            ),
            Msg(
                "The derivative of log-sum-exp with respect to each score is that score's softmax "
                "probability; the other term picks out the target's share. Mind the mean over the "
                "batch, your own ε or T wherever it enters the loss, and the "
                "shapes: the weight's gradient has the weight's shape, the bias's is summed over "
                "the images.",
                "log-sum-exp 对每个分数的导数，就是该分数对应的 softmax 概率；另一项挑出的是目标所占的份额。"
                "注意对这一批求的平均、你自己的 ε 或 T 在损失里出现的每一处，以及形状："
                "权重的梯度与权重形状相同，偏置的梯度要对各张图像求和。",
            ),
        ),
        diagnoses=(
            (
                _bias_per_image,
                Msg(
                    "Your bias gradient has one row per image: the same bias is added to every "
                    "image's scores, so the images' shares add up into one vector of C numbers.",
                    "你的偏置梯度每张图像一行：同一个偏置被加到了每张图像的分数上，所以各张图像的份额要加成"
                    "一个含 C 个数的向量。",
                ),
            ),
        ),
        edge_cases=lambda: [
            (
                torch.tensor([[1.0, -2.0], [0.5, 0.0], [3.0, 1.0]], dtype=torch.float64),
                torch.tensor([[0.2, -0.1], [-0.3, 0.4], [0.0, 1.0]], dtype=torch.float64),
                torch.zeros(3, dtype=torch.float64),
                torch.tensor([2, 0, 2]),
            ),
        ],
    )
)


# --- Lesson 8, Exercise 2: two steps with momentum, weight decay and a learning-rate change


def _momentum_args(gen: torch.Generator) -> tuple:
    shape = _shape(gen)
    p, g1, g2 = (torch.randn(shape, generator=gen) for _ in range(3))
    mu = round(float(torch.empty(()).uniform_(0.5, 0.95, generator=gen)), 3)
    lr1 = round(float(torch.empty(()).uniform_(0.05, 0.5, generator=gen)), 3)
    lr2 = round(lr1 * float(torch.empty(()).uniform_(0.1, 0.5, generator=gen)), 4)
    wd = round(float(torch.empty(()).uniform_(0.05, 0.3, generator=gen)), 3)
    return p, g1, g2, lr1, lr2, mu, wd


def _momentum_reference(p, g1, g2, lr1: float, lr2: float, mu: float, wd: float):
    """Two steps of the real torch.optim.SGD; the learning rate drops between them."""
    param = p.detach().clone().requires_grad_(True)
    optimizer = torch.optim.SGD([param], lr=lr1, momentum=mu, weight_decay=wd)
    for g, lr in ((g1, lr1), (g2, lr2)):
        optimizer.param_groups[0]["lr"] = lr  # what a learning-rate scheduler does
        param.grad = g.detach().clone()
        optimizer.step()
    return param.detach(), optimizer.state[param]["momentum_buffer"].detach().clone()


def _momentum_form(p, g1, g2, lr1, lr2, mu, wd, *, decay=True, after=False, form="torch"):
    """Two momentum steps written out, in the variants learners mix up."""
    v = None
    for g, lr in ((g1, lr1), (g2, lr2)):
        d = g + wd * p if decay and not after else g
        if form == "torch":
            v = d if v is None else mu * v + d
            p = p - lr * (v + wd * p if after else v)
        elif form == "sutskever":  # v = μv − lr·g; p ← p + v (TensorFlow, Sutskever et al.)
            v = -lr * d if v is None else mu * v - lr * d
            p = p + v
        elif form == "ema":  # v = μv + (1 − μ)g, from v = 0
            v = (1 - mu) * d if v is None else mu * v + (1 - mu) * d
            p = p - lr * v
        elif form == "no_momentum":
            v = d
            p = p - lr * v
    return p, v


_MOMENTUM_MISTAKES = (
    Mistake(
        "sutskever_form",
        lambda *a: _momentum_form(*a, form="sutskever"),
        Msg(
            "This is the Sutskever/TensorFlow form, whose velocity already contains the learning "
            "rate. It agrees with PyTorch's only while lr stays the same; here lr changed between "
            "the steps.",
            "这是 Sutskever / TensorFlow 的写法，它的速度里已经乘进了学习率。只有学习率不变时它才与 "
            "PyTorch 的结果一致；而这里两步之间学习率变了。",
        ),
    ),
    Mistake(
        "no_weight_decay",
        lambda *a: _momentum_form(*a, decay=False),
        Msg(
            "Your steps leave out the weight decay: with weight_decay=wd the optimizer does not "
            "use the gradient alone.",
            "你的两步漏掉了权重衰减：设置 weight_decay=wd 后，优化器用的不只是梯度本身。",
        ),
    ),
    Mistake(
        "decay_after_momentum",
        lambda *a: _momentum_form(*a, after=True),
        Msg(
            "You applied the weight decay after the velocity, directly to the step (decoupled, "
            "AdamW-style). torch.optim.SGD adds it to the gradient before the velocity sees it.",
            "你把权重衰减放在了速度之后、直接加到更新量上（解耦式，类似 AdamW）。torch.optim.SGD "
            "是在速度更新之前就把它加到梯度上的。",
        ),
    ),
    Mistake(
        "same_lr",
        lambda p, g1, g2, lr1, lr2, mu, wd: _momentum_form(p, g1, g2, lr1, lr1, mu, wd),
        Msg(
            "Your second step still uses the first learning rate: the optimizer reads lr afresh "
            "at every step, so the second step uses lr2.",
            "你的第二步仍然用的是第一步的学习率：优化器每一步都会重新读取 lr，第二步应使用 lr2。",
        ),
    ),
    Mistake(
        "dampened_average",
        lambda *a: _momentum_form(*a, form="ema"),
        Msg(
            "You treated the velocity as a moving average, weighting the new gradient by (1 − μ). "
            "PyTorch does that only with dampening, which is 0 by default.",
            "你把速度当成了滑动平均，新梯度乘上了 (1 − μ)。PyTorch 只有在设置 dampening 时才这样做，"
            "而它默认为 0。",
        ),
    ),
    Mistake(
        "no_momentum",
        lambda *a: _momentum_form(*a, form="no_momentum"),
        Msg(
            "Your second step forgot the old velocity: with momentum it keeps a share of the first "
            "step's velocity.",
            "你的第二步忘了旧的速度：有动量时，第二步会保留第一步速度的一部分。",
        ),
    ),
)

register(
    Exercise(
        id="training_step.momentum_two_steps",
        derives=False,
        title=Msg(
            "Two SGD steps: momentum, weight decay, a new learning rate",
            "两步 SGD：动量、权重衰减和新的学习率",
        ),
        make_args=_momentum_args,
        reference=_momentum_reference,
        kind="tensors",
        output_names=("p", "v"),
        forbids=BY_HAND | {OPTIM},
        asks="derive",
        novel="the parameter and the velocity after two steps in which weight decay, momentum "
        "and a learning-rate change all act; the page states the rules, never their result",
        hints=(
            Msg(
                "Write the two steps one after the other in the order step() works: first the "
                "gradient the optimizer actually uses, then the velocity, then the parameter. "
                "Which of these quantities contain the learning rate?",
                "按 step() 内部的顺序依次写出两步：先是优化器实际使用的梯度，再是速度，最后是参数。"
                "想一想：这些量里哪些含有学习率？",
            ),
            Msg(
                "Weight decay changes the gradient (with the parameter's value at that step) before "
                "the velocity is updated. PyTorch's velocity holds gradients only, no learning "
                "rate: lr scales the velocity when the parameter moves, so a new lr rescales all "
                "of it. The first step starts the velocity at that step's gradient.",
                "权重衰减在速度更新之前修改梯度（用的是该步时参数的值）。PyTorch 的速度里只有梯度，"
                "不含学习率：参数移动时才用 lr 缩放速度，所以换了学习率就会把整个速度一起重新缩放。"
                "第一步时，速度就从该步的梯度开始。",
            ),
        ),
        mistakes=_MOMENTUM_MISTAKES,
        edge_cases=lambda: [
            (
                torch.tensor([1.0, 2.0]),
                torch.tensor([0.5, -1.0]),
                torch.zeros(2),
                0.1,
                0.05,
                0.9,
                0.0,
            ),
            (
                torch.tensor([3.0], dtype=torch.float64),
                torch.tensor([1.0], dtype=torch.float64),
                torch.tensor([1.0], dtype=torch.float64),
                0.2,
                0.02,
                0.5,
                0.1,
            ),
        ],
    )
)
