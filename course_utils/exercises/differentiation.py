"""Lesson 2 · Derivatives and ``.grad``: each learner's own Q = c·aᵖ − d·b^q, and comparing floats.

The lesson's worked example is Q = 3a³ − b², with its derivatives written out; the exercises
ask for the derivatives of the learner's own member of :data:`YOUR_Q`, which the page never
differentiates.
"""

from __future__ import annotations

import torch

from course_utils.derivative_families import COEFFICIENTS, YOUR_Q
from course_utils.exercises import BY_HAND, Exercise, Mistake, Variant, register
from course_utils.i18n import Msg

_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _power(var: str, k: int) -> str:
    """b², a⁴: a power as the messages write it."""
    return var if k == 1 else var + str(k).translate(_SUPERSCRIPT)


def _size(gen: torch.Generator) -> int:
    return int(torch.randint(1, 7, (1,), generator=gen))


def _vector(gen: torch.Generator, n: int) -> torch.Tensor:
    return torch.randn(n, generator=gen) * 3


def _grad_a_args(gen: torch.Generator) -> tuple:
    return (_vector(gen, _size(gen)),)


def _weighted_args(gen: torch.Generator) -> tuple:
    n = _size(gen)
    return _vector(gen, n), _vector(gen, n), torch.randn(n, generator=gen)


def _accumulated_args(gen: torch.Generator) -> tuple:
    n = _size(gen)
    return _vector(gen, n), _vector(gen, n), int(torch.randint(1, 5, (1,), generator=gen))


class _Q:
    """One member's Q = c·aᵖ − d·b^q and the answers (right and wrong) built from it."""

    def __init__(self, c: int, p: int, d: int, q: int) -> None:
        self.c, self.p, self.d, self.q = c, p, d, q

    def __call__(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.c * a**self.p - self.d * b**self.q

    def grads(self, a: torch.Tensor, b: torch.Tensor, v: torch.Tensor | None = None, n: int = 1):
        """(a.grad, b.grad) after n rounds of building Q and Q.backward(gradient=v), by autograd."""
        a = a.detach().clone().requires_grad_(True)
        b = b.detach().clone().requires_grad_(True)
        for _ in range(n):
            out = self(a, b)
            out.backward(gradient=torch.ones_like(out) if v is None else v)
        return a.grad, b.grad


def _grad_a_member(c: int, p: int, d: int, q: int) -> Variant:
    Q = _Q(c, p, d, q)
    return Variant(
        reference=lambda a: Q.grads(a, torch.zeros_like(a))[0],
        mistakes=(
            Mistake(
                "exponent_not_lowered",
                lambda a: c * p * a**p,
                Msg(
                    f"Your derivative still has {_power('a', p)}: differentiating lowers the "
                    "exponent by one.",
                    f"你的导数里还留着 {_power('a', p)}：求导后指数要减一。",
                ),
            ),
            Mistake(
                "constant_dropped",
                lambda a: p * a ** (p - 1),
                Msg(
                    f"Your derivative is {c} times too small: the coefficient {c} in front of "
                    f"{_power('a', p)} stays as a factor.",
                    f"你的导数只有正确值的 1/{c}：{_power('a', p)} 前面的系数 {c} 要保留下来。",
                ),
            ),
            Mistake(
                "exponent_not_brought_down",
                lambda a: c * a ** (p - 1),
                Msg(
                    "You lowered the exponent but did not bring it down as a factor: the power "
                    "rule does both.",
                    "你把指数减了一，却没有把它拿下来作为系数：幂法则两件事都要做。",
                ),
            ),
            Mistake(
                "power_rule_backwards",
                lambda a: c * a ** (p + 1) / (p + 1),
                Msg(
                    "You integrated instead of differentiating: the exponent went up.",
                    "你做的是积分而不是求导：指数反而升高了。",
                ),
            ),
        ),
    )


def _grad_b_member(c: int, p: int, d: int, q: int) -> Variant:
    Q = _Q(c, p, d, q)
    return Variant(
        reference=lambda b: Q.grads(torch.zeros_like(b), b)[1],
        mistakes=(
            Mistake(
                "exponent_not_lowered",
                lambda b: -d * q * b**q,
                Msg(
                    f"Your derivative still has {_power('b', q)}: the power rule lowers the "
                    "exponent by one.",
                    f"你的导数里还留着 {_power('b', q)}：幂法则会让指数减一。",
                ),
            ),
            Mistake(
                "sign_lost",
                lambda b: d * q * b ** (q - 1),
                Msg(
                    f"The size is right but the sign is lost: Q subtracts {d}{_power('b', q)}.",
                    f"大小对了，但丢了负号：Q 中是减去 {d}{_power('b', q)}。",
                ),
            ),
            Mistake(
                "factor_lost",
                lambda b: -d * b ** (q - 1),
                Msg(
                    f"Your derivative is 1/{q} of the right one: the exponent {q} comes down as "
                    "a factor.",
                    f"你的导数只有正确值的 1/{q}：指数 {q} 要拿下来作为系数。",
                ),
            ),
            Mistake(
                "constant_dropped",
                lambda b: -q * b ** (q - 1),
                Msg(
                    f"Your derivative lost the coefficient {d} in front of {_power('b', q)}: it "
                    "stays as a factor.",
                    f"你的导数丢掉了 {_power('b', q)} 前面的系数 {d}：它要保留下来作为因子。",
                ),
            ),
        ),
    )


register(
    Exercise(
        id="differentiation.grad_a",
        forbids=BY_HAND,
        title=Msg("∂Q/∂a by hand", "手算 ∂Q/∂a"),
        make_args=_grad_a_args,
        hints=(
            Msg(
                "Your Q has two terms; only one of them depends on a. Differentiate that one, "
                "element by element: each a_i affects only Q_i.",
                "你的 Q 有两项，只有一项与 a 有关。对这一项逐元素求导：每个 a_i 只影响 Q_i。",
            ),
            Msg(
                "The power rule does two things to a power of a, and the coefficient in front "
                "stays. Check your result at a = 1: it should be a whole number made of your "
                "coefficient and your exponent.",
                "幂法则对 a 的幂要做两件事，前面的系数则保留下来。可以在 a = 1 处验证："
                "结果应该是由你的系数和指数得出的一个整数。",
            ),
        ),
        family=YOUR_Q,
        variants=tuple(_grad_a_member(*k) for k in COEFFICIENTS),
        edge_cases=lambda: [
            (torch.zeros(3),),
            (torch.tensor([-2.0, 0.5]),),
            (torch.tensor([2.0, 3.0], dtype=torch.float64),),
        ],
        asks="derive",
        novel="∂Q/∂a of the learner's own Q = c·aᵖ − d·b^q; the page differentiates only "
        "its own Q = 3a³ − b²",
    )
)

register(
    Exercise(
        id="differentiation.grad_b",
        forbids=BY_HAND,
        title=Msg("∂Q/∂b by hand", "手算 ∂Q/∂b"),
        make_args=lambda gen: (_vector(gen, _size(gen)),),
        hints=(
            Msg(
                "Only the second term of your Q depends on b, and it is subtracted. Differentiate "
                "it element by element.",
                "你的 Q 中只有第二项与 b 有关，而且它是被减去的。对它逐元素求导。",
            ),
            Msg(
                "Keep the minus sign and the coefficient, and apply the power rule to the power "
                "of b. Check your result at b = 1: it should be a negative whole number.",
                "保留负号和系数，再对 b 的幂使用幂法则。可以在 b = 1 处验证：结果应该是一个负整数。",
            ),
        ),
        family=YOUR_Q,
        variants=tuple(_grad_b_member(*k) for k in COEFFICIENTS),
        edge_cases=lambda: [
            (torch.ones(4),),
            (torch.tensor([6.0, 4.0]),),
            (torch.tensor([-1.5], dtype=torch.float64),),
        ],
        asks="derive",
        novel="∂Q/∂b of the learner's own Q, a subtracted power the page does not differentiate",
    )
)


def _upstream_member(c: int, p: int, d: int, q: int) -> Variant:
    Q = _Q(c, p, d, q)
    return Variant(
        reference=lambda a, b, v: Q.grads(a, b, v),
        mistakes=(
            Mistake(
                "v_ignored",
                lambda a, b, v: Q.grads(a, b),
                Msg(
                    "Your gradients ignore v: they are what backward() gives with v = ones.",
                    "你的梯度没有用到 v：这是 v 全为 1 时 backward() 给出的结果。",
                ),
            ),
            Mistake(
                "v_added",
                lambda a, b, v: tuple(g + v for g in Q.grads(a, b)),
                Msg(
                    "You added v to the local derivatives; the chain rule multiplies them.",
                    "你把 v 加到了局部导数上；链式法则是把它们相乘。",
                ),
            ),
            Mistake(
                "only_a_weighted",
                lambda a, b, v: (Q.grads(a, b, v)[0], Q.grads(a, b)[1]),
                Msg(
                    "a.grad is right but b.grad ignores v: the upstream gradient reaches every "
                    "input.",
                    "a.grad 对了，但 b.grad 没有用到 v：上游梯度会传到每一个输入。",
                ),
            ),
            Mistake(
                "v_summed",
                lambda a, b, v: tuple(g * v.sum() for g in Q.grads(a, b)),
                Msg(
                    "You weighted every element by the sum of v; element i of Q gets weight v_i "
                    "only, since Q_i depends on a_i and b_i alone.",
                    "你用 v 的总和给每个元素加权；Q 的第 i 个元素只用 v_i 加权，"
                    "因为 Q_i 只依赖于 a_i 和 b_i。",
                ),
            ),
        ),
    )


register(
    Exercise(
        id="differentiation.upstream",
        forbids=BY_HAND,
        title=Msg("Gradients for Q.backward(gradient=v)", "Q.backward(gradient=v) 得到的梯度"),
        make_args=_weighted_args,
        kind="tensors",
        output_names=("a.grad", "b.grad"),
        hints=(
            Msg(
                "v plays the role of ∂L/∂Q for some loss L computed from Q: backward() continues "
                "the chain rule from there. Q is element-wise, so each element of a.grad involves "
                "one element of v and one local derivative.",
                "v 相当于由 Q 算出的某个损失 L 的 ∂L/∂Q：backward() 从这里接着应用链式法则。"
                "Q 是逐元素运算，所以 a.grad 的每个元素只涉及 v 的一个元素和一个局部导数。",
            ),
            Msg(
                "Write L = Σᵢ vᵢ·Qᵢ and differentiate it by aᵢ and by bᵢ: only one term of the "
                "sum depends on each. Both gradients are weighted the same way.",
                "把 L 写成 Σᵢ vᵢ·Qᵢ，再分别对 aᵢ 和 bᵢ 求导：和式中只有一项与它们有关。"
                "两个梯度的加权方式相同。",
            ),
        ),
        family=YOUR_Q,
        variants=tuple(_upstream_member(*k) for k in COEFFICIENTS),
        edge_cases=lambda: [(torch.tensor([2.0, 3.0]), torch.tensor([6.0, 4.0]), torch.ones(2))],
        asks="derive",
        novel="both gradients that gradient=v stores for the learner's own Q; the page runs "
        "only v = ones, on its own Q",
    )
)


def _accumulated_member(c: int, p: int, d: int, q: int) -> Variant:
    Q = _Q(c, p, d, q)

    def after(a: torch.Tensor, b: torch.Tensor, n: int) -> torch.Tensor:
        return Q.grads(a, b, n=n)[0]

    return Variant(
        reference=after,
        mistakes=(
            Mistake(
                "overwritten",
                lambda a, b, n: after(a, b, 1),
                Msg(
                    "Your a.grad is the gradient of a single call: backward() does not overwrite "
                    ".grad, it adds to it.",
                    "你的 a.grad 只是单次调用的梯度：backward() 不会覆盖 .grad，而是累加。",
                ),
            ),
            Mistake(
                "off_by_one",
                lambda a, b, n: after(a, b, n + 1),
                Msg(
                    "Your a.grad has one call too many: count the backward calls again.",
                    "你的 a.grad 多算了一次调用：再数一数 backward 被调用了几次。",
                ),
            ),
            Mistake(
                "squared_count",
                lambda a, b, n: after(a, b, n * n),
                Msg(
                    "Your a.grad grows like n², as if each call doubled what was there; each call "
                    "adds one gradient, no more.",
                    "你的 a.grad 按 n² 增长，好像每次调用都会把已有的值翻倍；其实每次调用只加上一份梯度。",
                ),
            ),
        ),
    )


register(
    Exercise(
        id="differentiation.accumulated",
        forbids=BY_HAND,
        title=Msg("a.grad after n backward calls", "调用 n 次 backward 之后的 a.grad"),
        make_args=_accumulated_args,
        hints=(
            Msg(
                "What does backward() do with a .grad that already holds a value: replace it, or "
                "something else? Predict it before you look at section 5 again.",
                "如果 .grad 里已经有值，backward() 会怎么处理它：覆盖，还是别的？"
                "先自己预测，再回头看第 5 节。",
            ),
            Msg(
                "Every call contributes the same gradient of one backward pass, and nothing "
                "resets a.grad in between: count how many contributions it holds after n calls.",
                "每次调用都贡献同样的一份单次梯度，中间也没有把 a.grad 清零："
                "数一数调用 n 次之后，它里面累加了几份。",
            ),
        ),
        family=YOUR_Q,
        variants=tuple(_accumulated_member(*k) for k in COEFFICIENTS),
        asks="derive",
        novel="a.grad after n backward calls on the learner's own Q, with no reset in between; "
        "the page runs two calls on its own Q",
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
# Gradients come at every scale: a weight far from the loss may get 1e-9, an unnormalised one
# 1e5. At 1e-9 torch.allclose's default atol (1e-8) calls any two gradients equal; at 1e5 an
# absolute tolerance calls rounding a difference. Only a relative comparison fits all three.
_SCALES = (1e-9, 1.0, 1e5)
# The comparison the exercise asks for: relative, element by element, with no absolute floor.
RTOL = 1e-5


def _close_args(gen: torch.Generator) -> tuple:
    pool = [kind for kind, w in _PAIR_WEIGHTS.items() for _ in range(w)]
    kind = pool[int(torch.randint(0, len(pool), (1,), generator=gen))]
    scale = _SCALES[int(torch.randint(0, len(_SCALES), (1,), generator=gen))]
    n = _size(gen) if kind in ("rounding", "equal", "different", "one_differs") else 2 + _size(gen)
    x = torch.randn(n, generator=gen)
    if kind == "rounding":  # the same numbers by another rounding path: relative error ~1e-7
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
    if scale == 1.0:
        return x, y
    return x * scale, y * scale


def grads_match_reference(x: torch.Tensor, y: torch.Tensor) -> bool:
    return bool(torch.allclose(x, y, rtol=RTOL, atol=0.0))


def _sums_match(x: torch.Tensor, y: torch.Tensor) -> bool:
    return bool(abs(x.sum() - y.sum()) < 1e-4)


def _norms_match(x: torch.Tensor, y: torch.Tensor) -> bool:
    return bool(abs(x.norm() - y.norm()) < 1e-4)


def _sorted_match(x: torch.Tensor, y: torch.Tensor) -> bool:
    return bool(torch.allclose(x.sort().values, y.sort().values, rtol=RTOL, atol=0.0))


register(
    Exercise(
        id="differentiation.grads_match",
        title=Msg("Comparing floats robustly", "稳妥地比较浮点数"),
        make_args=_close_args,
        reference=grads_match_reference,
        kind="value",
        trials=8,  # a comparison of sums passes most pairs: several are needed to see it
        hints=(
            Msg(
                "Two correct float computations can differ in their last bits, relative to their "
                "size. Ask, for every element: is the difference small compared with the numbers "
                "themselves? The same question must work for numbers near 1e-9 and near 1e5.",
                "两种都正确的浮点计算，结果可能在最后几位上不同，这个差异是相对于数值本身的大小而言的。"
                "对每个元素都问一问：差值和这两个数本身相比小不小？同一个问题对 1e-9 左右和 1e5 左右的数都要成立。",
            ),
            Msg(
                "A tolerance has a relative part and an absolute part. Any absolute part that is "
                "not far below the smallest gradients here hides their real differences; read "
                "which defaults the function of section 4 uses. Return one Python bool for the "
                "whole tensor.",
                "容差由相对部分和绝对部分组成。只要绝对部分不是远小于这里最小的梯度，"
                "就会掩盖它们真正的差异；查一查第 4 节那个函数的默认值是多少。"
                "整个张量返回一个 Python bool。",
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
            Mistake(
                "default_atol",
                lambda x, y: bool(torch.allclose(x, y)),
                Msg(
                    "Your comparison calls gradients near 1e-9 equal even when they differ by "
                    "half their size: an absolute tolerance of 1e-8 (torch.allclose's default "
                    "atol) is larger than the gradients themselves. Make the comparison relative "
                    "to their size.",
                    "你的比较把 1e-9 左右、彼此相差一半的梯度也判为相等：1e-8 的绝对容差"
                    "（torch.allclose 默认的 atol）比这些梯度本身还大。请让比较相对于数值的大小。",
                ),
            ),
            Mistake(
                "absolute_only",
                lambda x, y: bool(((x - y).abs() < 1e-5).all()),
                Msg(
                    "Your tolerance is absolute: near 1e5 rounding alone moves a gradient by more "
                    "than it, and near 1e-9 every difference is below it. A tolerance that fits "
                    "every scale is relative to the numbers compared.",
                    "你用的是绝对容差：在 1e5 左右，单是舍入误差就超过了它；在 1e-9 左右，"
                    "任何差异都比它小。能适用于各种数量级的容差，要相对于被比较的数值本身。",
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
            (torch.tensor([2e-9, -1e-9, 3e-9]), torch.tensor([3e-9, -1e-9, 3e-9])),
            (torch.tensor([1.5e5, -2e5]), torch.tensor([1.5e5, -2e5]) * (1 + 4e-7)),
            (torch.tensor([0.0, 2.0]), torch.tensor([0.0, 2.0])),
        ],
        asks="build",
        novel="one comparison that is right for gradients near 1e-9, 1 and 1e5: the page "
        "compares numbers near 36 with allclose's defaults, whose atol hides differences "
        "between tiny gradients",
    )
)
