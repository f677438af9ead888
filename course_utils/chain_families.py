"""Lesson 3's exercise families: each learner's own chain, and their own fan-out function.

Each learner gets one member of each family, chosen from their learner id
(:mod:`course_utils.variants`); the notebook shows it typeset (``show(YOUR_CHAIN)``). This module
holds only what each member *is*; the derivatives are the exercises' answers and live with the
references in ``course_utils/exercises/chain_rule.py``, out of the kernel's reach.

The order of the members is part of every learner's assignment: append only.
"""

from __future__ import annotations

from course_utils.variants import Family

# A chain a → b = g(a) → ŷ = f(b) → error = Σŷ, named "g-f" (the lesson's own is a³ then b²).
CHAINS: tuple[str, ...] = ("sin-cube", "square-exp", "exp-sin", "cube-cos")
_CHAIN_TEX = {
    "sin-cube": (r"\sin a", r"b^3"),
    "square-exp": (r"a^2", r"e^{b}"),
    "exp-sin": (r"e^{a}", r"\sin b"),
    "cube-cos": (r"a^3", r"\cos b"),
}

YOUR_CHAIN = Family(
    "chain_rule.your_chain",
    tuple(
        rf"b = {_CHAIN_TEX[c][0]} \qquad \hat{{y}} = {_CHAIN_TEX[c][1]} "
        r"\qquad \text{error} = \sum_i \hat{y}_i"
        for c in CHAINS
    ),
    params=tuple({"chain": c} for c in CHAINS),
)

# y = x · trig(x) · exp(±x): x reaches y along three paths, one through each factor.
FAN_OUTS: tuple[tuple[str, int], ...] = (("sin", 1), ("cos", 1), ("sin", -1), ("cos", -1))

YOUR_FAN_OUT = Family(
    "chain_rule.fan_out",
    tuple(
        rf"y = x \cdot \{trig} x \cdot e^{{{'' if sign > 0 else '-'}x}}" for trig, sign in FAN_OUTS
    ),
    params=tuple({"trig": trig, "sign": sign} for trig, sign in FAN_OUTS),
)
