"""Lesson 3 · Differentiation in autograd: Q = 3a³ − b²."""

from __future__ import annotations

import torch

from course_utils.exercises import BY_HAND, Exercise, Mistake, register
from course_utils.i18n import Msg


def q_of(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return 3 * a**3 - b**2


def _size(gen: torch.Generator) -> int:
    return int(torch.randint(1, 7, (1,), generator=gen))


def _vector(gen: torch.Generator, n: int) -> torch.Tensor:
    return torch.randn(n, generator=gen) * 3


def _autograd_grads(a: torch.Tensor, b: torch.Tensor, v: torch.Tensor | None = None):
    a = a.detach().clone().requires_grad_(True)
    b = b.detach().clone().requires_grad_(True)
    q = q_of(a, b)
    q.backward(gradient=torch.ones_like(q) if v is None else v)
    return a.grad, b.grad


register(
    Exercise(
        id="differentiation.grad_a",
        forbids=BY_HAND,
        title=Msg("∂Q/∂a by hand", "手算 ∂Q/∂a"),
        make_args=lambda gen: (_vector(gen, _size(gen)),),
        reference=lambda a: _autograd_grads(a, torch.zeros_like(a))[0],
        hints=(
            Msg(
                "Q has two terms; only one of them depends on a. Differentiate that one with the "
                "power rule, element by element: Q is element-wise, so each a_i only affects Q_i.",
                "Q 有两项，只有一项与 a 有关。用幂法则对这一项逐元素求导：Q 是逐元素运算，"
                "每个 a_i 只影响 Q_i。",
            ),
            Msg(
                "The power rule brings the exponent down as a factor and lowers the exponent by "
                "one; the constant in front stays as a factor too. Check your result at a = 1: it "
                "should be the product of the two numbers you see in 3a³.",
                "幂法则把指数拿下来作为系数，同时指数减一；前面的常数也保留为系数。"
                "可以在 a = 1 处验证：结果应等于 3a³ 中两个数字的乘积。",
            ),
        ),
        mistakes=(
            Mistake(
                "exponent_not_lowered",
                lambda a: 9 * a**3,
                Msg(
                    "Your derivative still has the power 3: differentiating lowers the exponent by one.",
                    "你的导数里还是 3 次方：求导后指数要减一。",
                ),
            ),
            Mistake(
                "constant_dropped",
                lambda a: 3 * a**2,
                Msg(
                    "Your derivative is 3 times too small: the factor 3 in front of a³ stays.",
                    "你的导数小了 3 倍：a³ 前面的系数 3 要保留。",
                ),
            ),
            Mistake(
                "power_rule_backwards",
                lambda a: 3 * a**4 / 4,
                Msg(
                    "You integrated instead of differentiating: the exponent went up.",
                    "你做的是积分而不是求导：指数反而升高了。",
                ),
            ),
        ),
        edge_cases=lambda: [
            (torch.zeros(3),),
            (torch.tensor([-2.0, 0.5]),),
            (torch.tensor([2.0, 3.0], dtype=torch.float64),),
        ],
    )
)

register(
    Exercise(
        id="differentiation.grad_b",
        forbids=BY_HAND,
        title=Msg("∂Q/∂b by hand", "手算 ∂Q/∂b"),
        make_args=lambda gen: (_vector(gen, _size(gen)),),
        reference=lambda b: _autograd_grads(torch.zeros_like(b), b)[1],
        hints=(
            Msg(
                "Only the −b² term depends on b. Keep its minus sign, and apply the power rule "
                "element by element.",
                "只有 −b² 这一项与 b 有关。保留它的负号，再逐元素使用幂法则。",
            ),
            Msg(
                "The power rule lowers the exponent by one: the derivative of a square is linear in "
                "b. Check your result at b = 1: it should be a negative whole number.",
                "幂法则让指数减一：平方的导数是 b 的一次式。可以在 b = 1 处验证："
                "结果应该是一个负整数。",
            ),
        ),
        mistakes=(
            Mistake(
                "exponent_not_lowered",
                lambda b: -2 * b**2,
                Msg(
                    "Your derivative still has b²: the power rule lowers the exponent by one.",
                    "你的导数里还留着 b²：幂法则会让指数减一。",
                ),
            ),
            Mistake(
                "sign_lost",
                lambda b: 2 * b,
                Msg(
                    "The size is right but the sign is lost: Q contains minus b².",
                    "大小对了，但丢了负号：Q 中是减去 b²。",
                ),
            ),
            Mistake(
                "factor_two_lost",
                lambda b: -b,
                Msg(
                    "Your derivative is half the right one: the exponent 2 comes down as a factor.",
                    "你的导数只有正确值的一半：指数 2 要拿下来作为系数。",
                ),
            ),
        ),
        edge_cases=lambda: [
            (torch.ones(4),),
            (torch.tensor([6.0, 4.0]),),
            (torch.tensor([-1.5], dtype=torch.float64),),
        ],
    )
)


def _weighted_args(gen: torch.Generator) -> tuple:
    n = _size(gen)
    return _vector(gen, n), _vector(gen, n), torch.randn(n, generator=gen)


register(
    Exercise(
        id="differentiation.upstream",
        forbids=BY_HAND,
        title=Msg("Gradients for Q.backward(gradient=v)", "Q.backward(gradient=v) 得到的梯度"),
        make_args=_weighted_args,
        reference=lambda a, b, v: _autograd_grads(a, b, v),
        kind="tensors",
        output_names=("a.grad", "b.grad"),
        hints=(
            Msg(
                "v plays the role of ∂L/∂Q for some loss L further down the line: backward() "
                "continues the chain rule from there. Q is element-wise, so each element of a.grad "
                "involves one element of v and one local derivative.",
                "v 相当于后面某个损失 L 的 ∂L/∂Q：backward() 从这里接着应用链式法则。Q 是逐元素运算，"
                "所以 a.grad 的每个元素只涉及 v 的一个元素和一个局部导数。",
            ),
            Msg(
                "Use your two derivatives from the exercises above, and weight each element by "
                "the matching element of v (a product, not a sum). Both a.grad and b.grad get the "
                "same weighting.",
                "用上面两道练习得到的导数，再把每个元素乘以 v 中对应的元素（是相乘，不是相加）。"
                "a.grad 和 b.grad 都要这样加权。",
            ),
        ),
        mistakes=(
            Mistake(
                "v_ignored",
                lambda a, b, v: _autograd_grads(a, b),
                Msg(
                    "Your gradients ignore v: they are what backward() gives with v = ones.",
                    "你的梯度没有用到 v：这是 v 全为 1 时 backward() 给出的结果。",
                ),
            ),
            Mistake(
                "v_added",
                lambda a, b, v: tuple(g + v for g in _autograd_grads(a, b)),
                Msg(
                    "You added v to the local derivatives; the chain rule multiplies them.",
                    "你把 v 加到了局部导数上；链式法则是把它们相乘。",
                ),
            ),
            Mistake(
                "only_a_weighted",
                lambda a, b, v: (_autograd_grads(a, b, v)[0], _autograd_grads(a, b)[1]),
                Msg(
                    "a.grad is right but b.grad ignores v: the upstream gradient reaches every input.",
                    "a.grad 对了，但 b.grad 没有用到 v：上游梯度会传到每一个输入。",
                ),
            ),
        ),
        edge_cases=lambda: [(torch.tensor([2.0, 3.0]), torch.tensor([6.0, 4.0]), torch.ones(2))],
    )
)


def _accumulated_reference(a: torch.Tensor, b: torch.Tensor, n: int) -> torch.Tensor:
    a = a.detach().clone().requires_grad_(True)
    for _ in range(n):
        q_of(a, b).sum().backward()
    return a.grad


register(
    Exercise(
        id="differentiation.accumulated",
        forbids=BY_HAND,
        title=Msg("a.grad after n backward calls", "调用 n 次 backward 之后的 a.grad"),
        make_args=lambda gen: (
            *(lambda n: (_vector(gen, n), _vector(gen, n)))(_size(gen)),
            int(torch.randint(1, 5, (1,), generator=gen)),
        ),
        reference=_accumulated_reference,
        hints=(
            Msg(
                "What does backward() do with a .grad that already holds a value: replace it, or "
                "something else? The lesson ran the same backward twice and printed a.grad.",
                "如果 .grad 里已经有值，backward() 会怎么处理它：覆盖，还是别的？"
                "课上把同一个 backward 调用了两次并打印了 a.grad。",
            ),
            Msg(
                "Every call contributes the same gradient of one backward pass, and nothing clears "
                "a.grad in between: count how many contributions it holds after n calls.",
                "每次调用都贡献同样的一份单次梯度，中间也没有清零 a.grad："
                "数一数调用 n 次之后，它里面累加了几份。",
            ),
        ),
        mistakes=(
            Mistake(
                "overwritten",
                lambda a, b, n: _accumulated_reference(a, b, 1),
                Msg(
                    "Your a.grad is the gradient of a single call: backward() does not overwrite "
                    ".grad, it adds to it.",
                    "你的 a.grad 只是单次调用的梯度：backward() 不会覆盖 .grad，而是累加。",
                ),
            ),
            Mistake(
                "off_by_one",
                lambda a, b, n: _accumulated_reference(a, b, n + 1),
                Msg(
                    "Your a.grad has one call too many: count the backward calls again.",
                    "你的 a.grad 多算了一次调用：再数一数 backward 被调用了几次。",
                ),
            ),
            Mistake(
                "squared_count",
                lambda a, b, n: _accumulated_reference(a, b, n * n),
                Msg(
                    "Your a.grad grows like n², as if each call doubled what was there; each call "
                    "adds one gradient, no more.",
                    "你的 a.grad 按 n² 增长，好像每次调用都会把已有的值翻倍；其实每次调用只加上一份梯度。",
                ),
            ),
        ),
    )
)


# How often each kind of pair is drawn. The last three are the traps: a comparison of sums
# (or means), of norms, or of sorted values calls them equal, and no element-wise one does.
_PAIR_WEIGHTS = {
    "rounding": 2,
    "equal": 1,
    "different": 1,
    "one_differs": 1,
    "cancelling": 2,
    "rearranged": 2,
    "sign_flipped": 1,
}


def _close_args(gen: torch.Generator) -> tuple:
    pool = [kind for kind, w in _PAIR_WEIGHTS.items() for _ in range(w)]
    kind = pool[int(torch.randint(0, len(pool), (1,), generator=gen))]
    n = _size(gen) if kind in ("rounding", "equal", "different", "one_differs") else 2 + _size(gen)
    x = torch.randn(n, generator=gen)
    if (
        kind == "rounding"
    ):  # the same numbers reached by another rounding path: relative error ~1e-7
        y = x * (1 + 4e-7 * torch.randn(n, generator=gen).sign())
    elif kind == "equal":
        y = x.clone()
    elif kind == "different":
        y = x + 0.5 + torch.rand(n, generator=gen)
    elif kind == "one_differs":
        y = x.clone()
        y[int(torch.randint(0, n, (1,), generator=gen))] += 0.5 + float(
            torch.rand(1, generator=gen)
        )
    elif kind == "cancelling":  # +d on one element, -d on another: the sum and mean stay
        y = x.clone()
        i, j = torch.randperm(n, generator=gen)[:2].tolist()
        d = 0.5 + float(torch.rand(1, generator=gen))
        y[i] += d
        y[j] -= d
    elif kind == "rearranged":  # the same numbers in another order: sum, norm and sorted stay
        x = x + torch.arange(n) * 0.7  # well apart, so that every shift moves something
        y = x.roll(1 + int(torch.randint(0, n - 1, (1,), generator=gen)))
    else:  # one element's sign flipped: the norm stays
        x[0] = 0.5 + x[0].abs()
        y = x.clone()
        y[0] = -y[0]
    return x, y


def _sums_match(x: torch.Tensor, y: torch.Tensor) -> bool:
    return bool(torch.isclose(x.sum(), y.sum(), atol=1e-6))


def _norms_match(x: torch.Tensor, y: torch.Tensor) -> bool:
    return bool(torch.isclose(x.norm(), y.norm(), atol=1e-6))


def _sorted_match(x: torch.Tensor, y: torch.Tensor) -> bool:
    return bool(torch.allclose(x.sort().values, y.sort().values))


register(
    Exercise(
        id="differentiation.grads_match",
        title=Msg("Comparing floats robustly", "稳妥地比较浮点数"),
        make_args=_close_args,
        reference=lambda x, y: bool(torch.allclose(x, y)),
        kind="value",
        trials=8,  # a comparison of sums passes most pairs: several are needed to see it
        hints=(
            Msg(
                "Two correct float computations can differ in their last bits. The comparison must "
                "forgive a difference that small (a relative one, around 1e-7 here) and still see a "
                "real difference (0.5 or more here), for every element.",
                "两种都正确的浮点计算，结果可能在最后几位上不同。比较时既要容忍这么小的差异"
                "（这里大约是 1e-7 的相对误差），又要对每个元素都能发现真正的差异（这里至少是 0.5）。",
            ),
            Msg(
                "Look at the size of the difference, |x − y|, not its sign, and compare it with a "
                "tolerance; torch has a function that does exactly this for whole tensors. The "
                "answer is one Python bool for the whole tensor, not a tensor of them.",
                "看差值的大小 |x − y| 而不是它的正负，再把它和一个容差比较；torch 里正好有一个函数"
                "能对整个张量这样比较。答案是整个张量对应的一个 Python bool，而不是一个布尔张量。",
            ),
        ),
        mistakes=(
            Mistake(
                "exact_equality",
                lambda x, y: bool(torch.equal(x, y)),
                Msg(
                    "You compared for exact equality (== or torch.equal), or with a tolerance "
                    "tighter than rounding: numbers that differ only by rounding count as "
                    "different.",
                    "你要求的是完全相等（== 或 torch.equal），或者用的容差比舍入误差还小："
                    "只差一点舍入误差的数也被当成了不相等。",
                ),
            ),
            Mistake(
                "signed_difference",
                lambda x, y: bool(((x - y) < 1e-5).all()),
                Msg(
                    "You compared the signed difference x − y with the tolerance: when y is much "
                    "larger than x the difference is negative, and still far from 0. Use its size.",
                    "你拿带符号的差值 x − y 和容差比较：当 y 比 x 大很多时，差值是负数，却离 0 很远。"
                    "应该用它的大小（绝对值）。",
                ),
            ),
            Mistake(
                "compared_sums",
                _sums_match,
                Msg(
                    "You compared one summary of each tensor, its sum or its mean: a difference "
                    "of +d in one element and −d in another cancels there. Compare the tensors "
                    "element by element.",
                    "你比较的是每个张量的一个汇总值（总和或平均值）：一个元素多了 d、另一个元素少了 d，"
                    "在总和里正好抵消。请逐个元素地比较两个张量。",
                ),
            ),
            Mistake(
                "compared_norms",
                _norms_match,
                Msg(
                    "You compared the norms (the lengths) of the two tensors: a tensor and the "
                    "same numbers with a sign flipped or in another order have the same norm. "
                    "Compare the tensors element by element.",
                    "你比较的是两个张量的范数（长度）：把某个元素变号，或者把元素换个顺序，范数都不变。"
                    "请逐个元素地比较两个张量。",
                ),
            ),
            Mistake(
                "compared_sorted",
                _sorted_match,
                Msg(
                    "You sorted the values before comparing them: the same numbers in another "
                    "order are a different gradient, since element i belongs to parameter i.",
                    "你在比较之前先把数值排了序：同样的数换了顺序就是另一个梯度，"
                    "因为第 i 个元素属于第 i 个参数。",
                ),
            ),
            Mistake(
                "any_not_all",
                lambda x, y: bool(torch.isclose(x, y).any()),
                Msg(
                    "You asked whether some elements are close; the question is whether all are.",
                    "你判断的是“是否有元素接近”；题目问的是“是否所有元素都接近”。",
                ),
            ),
        ),
        diagnoses=(
            (
                lambda args, actual: isinstance(actual, torch.Tensor),
                Msg(
                    "You returned a tensor, not a Python bool: one True or False answers for the "
                    "whole tensor (bool(...) converts a one-element tensor).",
                    "你返回的是张量，而不是 Python 的 bool：整个张量只需要一个 True 或 False"
                    "（可以用 bool(...) 转换只有一个元素的张量）。",
                ),
            ),
        ),
        edge_cases=lambda: [
            (torch.tensor([0.1 + 0.2]), torch.tensor([0.3])),
            (torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.5])),
            (torch.tensor([1.0, -2.0, 0.3]), torch.tensor([1.0, -2.0, 0.3]) * (1 + 4e-7)),
            (torch.tensor([0.5, 2.0, -1.0]), torch.tensor([0.5, 2.75, -1.0])),
            (torch.tensor([0.5, 2.0]), torch.tensor([0.5, 1.0])),
            (torch.tensor([0.0, 1.0]), torch.tensor([1.0, 2.0])),
            (torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.5, 1.5, 3.0])),
            (torch.tensor([0.5, -1.0, 2.0]), torch.tensor([2.0, 0.5, -1.0])),
            (torch.tensor([1.5, 2.0]), torch.tensor([-1.5, 2.0])),
        ],
    )
)
