"""Similar answers (autograder/grading/similarity.py), scored on answers in memory.

The answers here are also planted in tests/test_class_view.py's graded class: two pairs of
copies (one renamed and recommented) among honest, genuinely different implementations.
"""

from __future__ import annotations

import html

import pytest

pytest.importorskip("copydetect")

from autograder.grading.similarity import MIN_TOKENS, Pair, report_section, score_pairs  # noqa: E402

CD_HEAD = (
    "def central_difference(f, x: torch.Tensor) -> torch.Tensor:\n"
    '    """The gradient of the scalar function f at x, by central differences."""\n'
)
RE_HEAD = (
    "def relative_error(g1: torch.Tensor, g2: torch.Tensor) -> float:\n"
    '    """‖g1 − g2‖ / max(‖g1‖, ‖g2‖), and 0.0 when both are zero."""\n'
)
DA_HEAD = (
    "def dq_da(a: torch.Tensor) -> torch.Tensor:\n"
    '    """∂Q/∂a for Q = 3a³ − b², element by element."""\n'
)
STUB_BODY = "    # YOUR CODE HERE (在此处写你的代码)\n    raise NotImplementedError()"
CD_STUB, RE_STUB, DA_STUB = (h + STUB_BODY for h in (CD_HEAD, RE_HEAD, DA_HEAD))

CD_SOLUTION = CD_HEAD + (
    "    h = 1e-6\n"
    "    grad = torch.zeros_like(x)\n"
    "    flat = grad.reshape(-1)\n"
    "    for i in range(x.numel()):\n"
    "        step = torch.zeros_like(x).reshape(-1)\n"
    "        step[i] = h\n"
    "        step = step.reshape(x.shape)\n"
    "        flat[i] = (f(x + step) - f(x - step)) / (2 * h)\n"
    "    return grad\n"
)
# Five learners' own central differences: a loop over a list, the identity's rows, a basis
# and a vector of differences, a helper per coordinate, a while loop over clones.
CD_HONEST = [
    CD_HEAD
    + """    eps = 1e-6
    out = []
    for k in range(x.numel()):
        e = torch.zeros(x.numel(), dtype=x.dtype)
        e[k] = eps
        e = e.view_as(x)
        out.append((f(x + e) - f(x - e)) / (2 * eps))
    return torch.stack(out).view_as(x)
""",
    CD_HEAD
    + """    h = 1e-6
    eye = torch.eye(x.numel(), dtype=x.dtype).reshape(x.numel(), *x.shape) * h
    plus = torch.stack([f(x + d) for d in eye])
    minus = torch.stack([f(x - d) for d in eye])
    return ((plus - minus) / (2 * h)).reshape(x.shape)
""",
    CD_HEAD
    + """    h = 1e-6
    n = x.numel()
    basis = torch.eye(n, dtype=x.dtype)
    values = torch.zeros(n, dtype=x.dtype)
    for j in range(n):
        shift = (h * basis[j]).reshape(x.shape)
        values[j] = f(x + shift) - f(x - shift)
    return (values / (2 * h)).reshape(x.shape)
""",
    CD_HEAD
    + """    step = 1e-6
    def partial(i):
        d = torch.zeros_like(x).flatten()
        d[i] = step
        d = d.reshape(x.shape)
        return (f(x + d) - f(x - d)) / (2 * step)
    return torch.tensor([partial(i) for i in range(x.numel())], dtype=x.dtype).reshape(x.shape)
""",
    CD_HEAD
    + """    h = 1e-6
    result = x.new_zeros(x.numel())
    base = x.reshape(-1)
    i = 0
    while i < base.numel():
        hi = base.clone()
        hi[i] += h
        lo = base.clone()
        lo[i] -= h
        result[i] = (f(hi.view_as(x)) - f(lo.view_as(x))) / (h + h)
        i += 1
    return result.view_as(x)
""",
]
# A copy, and the same copy with every name and comment changed: a copy all the same.
CD_COPY = CD_HEAD + (
    "    # tiny nudge, the smaller the better (my own trick)\n"
    "    zeta = 1e-6\n"
    "    bucket = torch.zeros_like(x)\n"
    "    for slot in range(x.numel()):\n"
    "        nudge = torch.zeros_like(x).flatten()\n"
    "        nudge[slot] = zeta\n"
    "        nudge = nudge.view(x.shape)\n"
    "        hi, lo = f(x + nudge), f(x - nudge)\n"
    "        bucket.view(-1)[slot] = (hi - lo) / (zeta + zeta)\n"
    "    return bucket\n"
)
CD_COPY_RENAMED = (
    CD_COPY.replace("zeta", "tiny")
    .replace("bucket", "g")
    .replace("nudge", "push")
    .replace("the smaller the better (my own trick)", "small enough")
)

RE_SOLUTION = RE_HEAD + (
    "    scale = max(g1.norm().item(), g2.norm().item())\n"
    "    if scale == 0.0:\n"
    "        return 0.0\n"
    "    return (g1 - g2).norm().item() / scale\n"
)
RE_HONEST = [
    RE_HEAD
    + """    a, b = torch.linalg.norm(g1), torch.linalg.norm(g2)
    top = max(a, b)
    return 0.0 if top == 0 else float(torch.linalg.norm(g1 - g2) / top)
""",
    RE_HEAD
    + """    diff = float(((g1 - g2) ** 2).sum()) ** 0.5
    n1 = float((g1**2).sum()) ** 0.5
    n2 = float((g2**2).sum()) ** 0.5
    if n1 == 0 and n2 == 0:
        return 0.0
    return diff / max(n1, n2)
""",
    RE_HEAD
    + """    norms = torch.stack([g1.norm(), g2.norm()])
    biggest = norms.max().item()
    if biggest > 0:
        return (g1 - g2).norm().item() / biggest
    return 0.0
""",
]
RE_COPY = RE_HEAD + (
    "    # compare the two, carefully (I like to be safe)\n"
    "    bigger_one = g1.abs().pow(2).sum().sqrt().item()\n"
    "    other_one = g2.abs().pow(2).sum().sqrt().item()\n"
    "    if other_one > bigger_one:\n"
    "        bigger_one, other_one = other_one, bigger_one\n"
    "    if bigger_one == 0.0:\n"
    "        return 0.0\n"
    "    gap = (g1 - g2).abs().pow(2).sum().sqrt().item()\n"
    "    return gap / bigger_one\n"
)
ONE_LINER = DA_HEAD + "    return 9 * a**2\n"


def _pairs(answers, stub, **kw):
    return [(a, b) for a, b, *_ in score_pairs(answers, stub, **kw)]


def test_a_renamed_copy_is_found_among_honest_answers_and_the_common_one():
    answers = {f"common_{i}": CD_SOLUTION for i in range(10)}
    answers |= {f"honest_{i}": code for i, code in enumerate(CD_HONEST)}
    answers |= {"copy_a": CD_COPY, "copy_b": CD_COPY_RENAMED}
    found = score_pairs(answers, CD_STUB)
    assert [(a, b) for a, b, *_ in found] == [("copy_a", "copy_b")]
    (_, _, similarity, tokens, *_) = found[0]
    assert similarity == pytest.approx(1.0) and tokens >= MIN_TOKENS
    # With nothing left out, the ten learners who wrote the lesson's answer are alike: the
    # class's common answer is what leaves them out, not their length.
    assert ("common_0", "common_1") in _pairs(answers, CD_STUB, common=len(answers) + 1)
    # And the honest answers stay apart even at half the threshold.
    low = _pairs(answers, CD_STUB, threshold=0.4)
    assert not [p for p in low if p[0].startswith("honest") or p[1].startswith("honest")]


def test_short_answers_everyone_writes_are_never_flagged():
    # Two learners alone with the obvious one-liner: the same, but too short to tell anything.
    assert _pairs({"a": ONE_LINER, "b": ONE_LINER, "c": DA_STUB}, DA_STUB) == []
    assert ("a", "b") in _pairs({"a": ONE_LINER, "b": ONE_LINER}, DA_STUB, min_tokens=0)


def test_the_stub_is_boilerplate():
    # Two blank answers are the stub: nothing of their own to compare.
    assert _pairs({"a": CD_STUB, "b": CD_STUB}, CD_STUB, min_tokens=0) == []
    assert ("a", "b") in _pairs({"a": CD_STUB, "b": CD_STUB}, "", min_tokens=0)


def test_an_unusual_answer_copied_is_found_and_distinct_ones_are_not():
    answers = {f"common_{i}": RE_SOLUTION for i in range(6)}
    answers |= {f"honest_{i}": code for i, code in enumerate(RE_HONEST)}
    answers |= {"x": RE_COPY, "y": RE_COPY.replace("bigger_one", "m")}
    assert _pairs(answers, RE_STUB) == [("x", "y")]


def test_the_report_section_is_in_both_languages_and_escapes_code():
    pair = Pair(
        "03_x", "central_difference", "a<", "b", 0.95, 120, "", "", "", "<mark>x</mark>", ""
    )
    page = report_section([pair])
    assert "Similar answers · 相似的答案" in page
    assert "the instructor decides" in page and "由教师来判断" in page
    assert f"<code>{html.escape('a<')}</code>" in page and "<mark>x</mark>" in page
    assert "No pair" in report_section([]) and "没有" in report_section([])
