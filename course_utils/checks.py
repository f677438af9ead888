"""Compare a learner's answer with torch's reference and say, in both languages, what is wrong.

``check_tensor`` diagnoses, in this order: no tensor at all, wrong shape, wrong dtype,
NaN/inf, then which elements differ and by how much, with a guess at the cause when
the difference has a telling pattern (a sign flip, a constant factor, an extra ``b``).
"""

from __future__ import annotations

import math
import os
from typing import Any

import torch

from course_utils.i18n import Msg

# Captured at import: a learner who later patches ``torch.allclose`` in their own kernel
# does not change what these checks use. (The grader does not trust the kernel at all;
# this only keeps Validate honest for honest learners.)
_isclose = torch.isclose
_isfinite = torch.isfinite
_as_tensor = torch.as_tensor
_Tensor = torch.Tensor
_isinstance = isinstance

MAX_LISTED = 3
# An answer within this relative distance of the right one everywhere is imprecise, not off by
# a factor: the pattern says so instead of "times 1.000003".
NEAR_ONE = 1e-3
_HERE = os.path.dirname(os.path.abspath(__file__)) + os.sep


# The red line under a verdict a notebook already displayed as a block (course_utils.feedback).
SHOWN_ABOVE = Msg(
    "The check did not pass: what it found is above.", "检查没有通过，发现的问题见上方。"
)


class CheckFailure(AssertionError):
    """An answer is wrong; ``str()`` is the bilingual diagnosis."""

    def __init__(self, msg: Msg) -> None:
        self.msg = msg
        super().__init__(msg.render())

    def __str__(self) -> str:
        return self.msg.render()

    # Set by course_utils.feedback.show_wrong once the kernel displayed the message as a block.
    shown = False

    def _render_traceback_(self) -> list[str]:
        """What IPython shows: the diagnosis, and the learner's own traceback if their code raised.

        The check's internals are noise to a learner (and would quote the tests). In a notebook
        the message was displayed already (text and HTML: course_utils.feedback), so one line
        that says so; under nbgrader's Validate, which lists failing cells, the verdict line.
        """
        from course_utils import feedback

        if feedback.validating():
            return feedback.verdict_lines(self.msg)
        if self.shown:
            # Not empty: JupyterLab shows "ename: evalue", the whole text again, for an empty one.
            return SHOWN_ABOVE.render().splitlines()
        return self.full_traceback()

    def full_traceback(self) -> list[str]:
        """The diagnosis, then the learner's own traceback if their code raised."""
        lines = self.msg.render().splitlines()
        frames = self.learner_frames()
        return [*lines, "", *frames] if frames else lines

    def learner_frames(self) -> list[str]:
        """A heading and the frames of the learner's own code, when it raised (else nothing)."""
        cause = self.__cause__
        if cause is None or isinstance(cause, NotImplementedError):
            return []
        import traceback

        heading = Msg("Traceback of your function:", "你的函数的报错回溯（traceback）：")
        # The learner's own frames only: the check's and the watch's are not theirs to read.
        frames = [
            f for f in traceback.extract_tb(cause.__traceback__) if not f.filename.startswith(_HERE)
        ]
        return [
            *heading.render().splitlines(),
            *"".join(traceback.format_list(frames)).splitlines(),
            *"".join(traceback.format_exception_only(type(cause), cause)).splitlines(),
        ]


def _fmt(x: Any) -> str:
    if _isinstance(x, float):
        return f"{x:.6g}"
    return str(x)


def _pair(want: float, got: float) -> tuple[str, str]:
    """Both numbers with enough digits to tell them apart (1.90425 and 1.90426, not 1.90425 twice)."""
    for digits in (6, 9, 12, 17):
        w, g = f"{want:.{digits}g}", f"{got:.{digits}g}"
        if w != g:
            return w, g
    return w, g


def _short(t: torch.Tensor) -> str:
    flat = t.detach().reshape(-1)
    vals = ", ".join(_fmt(float(v)) for v in flat[:6].tolist())
    more = ", …" if flat.numel() > 6 else ""
    return f"[{vals}{more}]" if t.dim() else vals


def _describe(value: Any) -> str:
    if value is None:
        return "None"
    if _isinstance(value, _Tensor):
        return f"tensor(shape={tuple(value.shape)}, dtype={value.dtype})"
    return f"{type(value).__name__} {_fmt(value)!s:.60}"


def _fail(what: Msg, hint: Msg | None) -> None:
    raise CheckFailure(what + hint if hint is not None else what)


def _not_a_tensor(actual: Any, name: str, hint: Msg | None) -> None:
    if actual is None:
        _fail(
            Msg(
                f"✗ {name}: got None. Did the function forget to `return` its result?",
                f"✗ {name}：得到的是 None。函数是不是忘了用 `return` 返回结果？",
            ),
            hint,
        )
    if _isinstance(actual, (int, float, list, tuple)) or type(actual).__module__ == "numpy":
        _fail(
            Msg(
                f"✗ {name}: expected a torch.Tensor, got {_describe(actual)}. "
                "Build it from tensor operations (or wrap it with torch.as_tensor).",
                f"✗ {name}：应当返回 torch.Tensor，实际得到 {_describe(actual)}。"
                "请用张量运算得到结果（或用 torch.as_tensor 转换）。",
            ),
            hint,
        )
    _fail(
        Msg(
            f"✗ {name}: expected a torch.Tensor, got {_describe(actual)}.",
            f"✗ {name}：应当返回 torch.Tensor，实际得到 {_describe(actual)}。",
        ),
        hint,
    )


def _pattern(actual: torch.Tensor, expected: torch.Tensor, rtol: float, atol: float) -> Msg | None:
    """Name a telling relation between a wrong answer and the right one, if there is one."""
    a, e = actual.double(), expected.double()
    if _near(a, e, atol):
        return _imprecise(rtol)
    if a.numel() < 2:  # one number is "off by a factor" from any other: no pattern to see
        return None
    if bool(_isclose(a, -e, rtol=rtol, atol=atol).all()):
        return Msg(
            "Every element has the right size but the wrong sign: check the sign of each term.",
            "每个元素大小都对，但符号反了：检查每一项的正负号。",
        )
    nonzero = e.abs() > atol
    if bool(nonzero.any()):
        ratio = a[nonzero] / e[nonzero]
        r0 = float(ratio[0])
        if bool(_isclose(ratio, torch.full_like(ratio, r0), rtol=1e-4, atol=1e-8).all()):
            if abs(r0 - round(r0)) < 1e-4 and round(r0) >= 2:
                return Msg(
                    f"Your answer is exactly {round(r0)}× the right one everywhere: "
                    "did gradients accumulate over several backward() calls, "
                    "or is a constant factor off?",
                    f"你的答案处处恰好是正确值的 {round(r0)} 倍：是不是多次调用 backward() "
                    "让梯度累加了，或者某个常数因子算错了？",
                )
            if int(nonzero.sum()) < 2:  # one number is always some multiple of another
                return None
            return Msg(
                f"Your answer is the right one times {r0:.4g} everywhere: a constant factor is off.",
                f"你的答案处处等于正确值乘以 {r0:.4g}：有一个常数因子算错了。",
            )
    return None


def _near(a: torch.Tensor, e: torch.Tensor, atol: float) -> bool:
    """Within NEAR_ONE of the right answer, relative to each element or to the largest one."""
    scale = float(e.abs().max()) if e.numel() else 0.0
    return bool(_isclose(a, e, rtol=NEAR_ONE, atol=max(atol, NEAR_ONE * scale)).all())


def _imprecise(rtol: float) -> Msg:
    return Msg(
        f"Close, but outside the tolerance (rtol {rtol:g}): a precision or step-size problem, "
        "not a wrong formula.",
        f"已经很接近了，但超出了容差（rtol {rtol:g}）：这是精度或步长的问题，而不是公式错了。",
    )


def check_tensor(
    actual: Any,
    expected: torch.Tensor,
    *,
    name: str = "answer",
    hint: Msg | None = None,
    rtol: float = 1e-4,
    atol: float = 1e-5,
    check_dtype: bool = True,
    no_graph: bool = False,
) -> None:
    """Raise :class:`CheckFailure` unless ``actual`` matches ``expected``; return None if it does.

    With ``no_graph=True`` the answer must also be outside any computational graph:
    ``requires_grad`` False and no ``grad_fn`` (what ``torch.no_grad()`` gives).
    """
    if not _isinstance(actual, _Tensor):
        _not_a_tensor(actual, name, hint)
    grad_fn = _Tensor.grad_fn.__get__(actual) if no_graph else None
    if no_graph and (_Tensor.requires_grad.__get__(actual) or grad_fn is not None):
        fn = type(grad_fn).__name__ if grad_fn is not None else "None"
        _fail(
            Msg(
                f"✗ {name}: the result is still attached to a computational graph "
                f"(requires_grad=True, grad_fn={fn}); the exercise asks for a result outside it. "
                "Work that needs no gradient runs under `torch.no_grad()`; a result that autograd "
                "had to compute (a derivative) is returned with `.detach()`.",
                f"✗ {name}：结果仍然连在计算图上（requires_grad=True，grad_fn={fn}）；"
                "题目要求结果不在计算图里。不需要梯度的计算放在 `torch.no_grad()` 之下进行；"
                "必须借助 autograd 才能算出的结果（比如导数），用 `.detach()` 返回。",
            ),
            hint,
        )
    expected = _as_tensor(expected)
    actual_t = actual.detach()
    if tuple(actual_t.shape) != tuple(expected.shape):
        _fail(
            Msg(
                f"✗ {name}: wrong shape: expected {tuple(expected.shape)}, got {tuple(actual_t.shape)}. "
                "Return exactly what the exercise asks for; a gradient, for example, has the "
                "shape of the tensor it belongs to.",
                f"✗ {name}：形状不对：应为 {tuple(expected.shape)}，实际为 {tuple(actual_t.shape)}。"
                "请对照题目要求的返回值检查形状；例如，梯度的形状与它所属的张量相同。",
            ),
            hint,
        )
    if check_dtype and actual_t.dtype != expected.dtype:
        _fail(
            Msg(
                f"✗ {name}: wrong dtype: expected {expected.dtype}, got {actual_t.dtype}. "
                "Keep the dtype of the inputs (write 2.0 rather than 2 when it matters).",
                f"✗ {name}：数据类型不对：应为 {expected.dtype}，实际为 {actual_t.dtype}。"
                "请保持输入的数据类型（需要时写 2.0 而不是 2）。",
            ),
            hint,
        )
    a, e = actual_t.double(), expected.detach().double()
    bad_a, bad_e = ~_isfinite(a), ~_isfinite(e)
    if bool((bad_a & ~bad_e).any()):
        n = int((bad_a & ~bad_e).sum())
        _fail(
            Msg(
                f"✗ {name}: {n} element(s) are NaN or infinite where a finite number is expected.",
                f"✗ {name}：有 {n} 个元素是 NaN 或无穷大，而正确结果是有限的数。",
            ),
            hint,
        )
    close = _isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)
    if bool(close.all()):
        return
    wrong = (~close).nonzero().tolist()
    diff = (a - e).abs()
    diff[~_isfinite(diff)] = 0
    lines_en, lines_zh = [], []
    for idx in wrong[:MAX_LISTED]:
        where = tuple(idx) if len(idx) != 1 else idx[0]
        want, got = _pair(float(e[tuple(idx)]), float(a[tuple(idx)]))
        lines_en.append(f"  at index {where}: expected {want}, got {got}")
        lines_zh.append(f"  下标 {where}：应为 {want}，实际为 {got}")
    more = len(wrong) - MAX_LISTED
    if more > 0:
        lines_en.append(f"  … and {more} more")
        lines_zh.append(f"  ……另有 {more} 个")
    total = a.numel()
    if total == 1:  # one number: said as one
        want, got = _pair(float(e.reshape(-1)[0]), float(a.reshape(-1)[0]))
        one = Msg(
            f"✗ {name}: expected {want}, got {got}.", f"✗ {name}：应为 {want}，实际为 {got}。"
        )
        _fail(one + _imprecise(rtol) if _near(a, e, atol) else one, hint)
    summary = Msg(
        f"✗ {name}: {len(wrong)} of {total} element(s) differ (largest difference {float(diff.max()):.4g}):\n"
        + "\n".join(lines_en),
        f"✗ {name}：{total} 个元素中有 {len(wrong)} 个不对（最大差值 {float(diff.max()):.4g}）：\n"
        + "\n".join(lines_zh),
    )
    pattern = _pattern(a, e, rtol, atol)
    if pattern is not None:
        summary = summary + pattern
    _fail(summary, hint)


def check_value(
    actual: Any,
    expected: int | float | bool,
    *,
    name: str = "answer",
    hint: Msg | None = None,
    rel_tol: float = 1e-6,
) -> None:
    """Check a Python number or bool, or a list of bools (one per item, as a list or tuple).

    Tensors with one element are accepted for numbers; a list of bools must be Python bools.
    """
    if _isinstance(expected, (list, tuple)):
        _check_bools(actual, list(expected), name, hint)
        return
    if _isinstance(actual, _Tensor) and actual.numel() == 1 and not _isinstance(expected, bool):
        actual = actual.item()
    if _isinstance(expected, bool):
        ok = _isinstance(actual, bool) and actual is expected
        if not _isinstance(actual, bool):
            _fail(
                Msg(
                    f"✗ {name}: expected True or False, got {_describe(actual)}.",
                    f"✗ {name}：应返回 True 或 False，实际得到 {_describe(actual)}。",
                ),
                hint,
            )
    elif _isinstance(expected, int):
        if _isinstance(actual, bool) or not _isinstance(actual, int):
            _fail(
                Msg(
                    f"✗ {name}: expected a whole number (int), got {_describe(actual)}.",
                    f"✗ {name}：应返回整数（int），实际得到 {_describe(actual)}。",
                ),
                hint,
            )
        ok = int(actual) == int(expected)
    else:
        if _isinstance(actual, bool) or not _isinstance(actual, (int, float)):
            _fail(
                Msg(
                    f"✗ {name}: expected a number, got {_describe(actual)}.",
                    f"✗ {name}：应返回一个数，实际得到 {_describe(actual)}。",
                ),
                hint,
            )
        ok = math.isclose(float(actual), float(expected), rel_tol=rel_tol, abs_tol=1e-9)
    if not ok:
        if _isinstance(expected, float) and _isinstance(actual, (int, float)):
            want, got = _pair(float(expected), float(actual))
            close = math.isclose(float(actual), float(expected), rel_tol=NEAR_ONE)
        else:
            want, got, close = _fmt(expected), _fmt(actual), False
        one = Msg(
            f"✗ {name}: expected {want}, got {got}.", f"✗ {name}：应为 {want}，实际为 {got}。"
        )
        _fail(one + _imprecise(rel_tol) if close else one, hint)


def _check_bools(actual: Any, expected: list, name: str, hint: Msg | None) -> None:
    """A list of Python bools, item by item (the items that differ are listed, as for tensors)."""
    n = len(expected)
    if not _isinstance(actual, (list, tuple)) or not all(_isinstance(v, bool) for v in actual):
        _fail(
            Msg(
                f"✗ {name}: expected a list of {n} Python bools (True or False), got "
                f"{_describe_bools(actual)}.",
                f"✗ {name}：应返回由 {n} 个 Python bool（True 或 False）组成的列表，实际得到 "
                f"{_describe_bools(actual)}。",
            ),
            hint,
        )
    if len(actual) != n:
        _fail(
            Msg(
                f"✗ {name}: expected {n} answers, one per item, got {len(actual)}.",
                f"✗ {name}：应有 {n} 个答案（每项一个），实际得到 {len(actual)} 个。",
            ),
            hint,
        )
    wrong = [i for i in range(n) if actual[i] is not expected[i]]
    if not wrong:
        return
    lines = [
        Msg(
            f"  item {i}: expected {expected[i]}, got {actual[i]}",
            f"  第 {i} 项：应为 {expected[i]}，实际为 {actual[i]}",
        )
        for i in wrong[:MAX_LISTED]
    ]
    if len(wrong) > MAX_LISTED:
        more = len(wrong) - MAX_LISTED
        lines.append(Msg(f"  … and {more} more", f"  ……另有 {more} 项"))
    en, zh = [m.en for m in lines], [m.zh for m in lines]
    _fail(
        Msg(
            f"✗ {name}: {len(wrong)} of {n} item(s) are wrong:\n" + "\n".join(en),
            f"✗ {name}：{n} 项中有 {len(wrong)} 项不对：\n" + "\n".join(zh),
        ),
        hint,
    )


def _describe_bools(actual: Any) -> str:
    if _isinstance(actual, (list, tuple)):
        kinds = sorted({type(v).__name__ for v in actual if not _isinstance(v, bool)})
        return f"{type(actual).__name__}[{', '.join(kinds)}]"
    return _describe(actual)
