"""Lesson 9's prediction family: what a parameter frozen mid-training still goes through.

Every learner predicts, for the same 32 versions of one training script (shown in the lesson),
one of three things about the layer the script freezes; which one is their member of
:data:`YOUR_QUESTION`, chosen from their learner id (:mod:`course_utils.variants`). This module
holds only the questions; the answers live with the references in
``course_utils/exercises/finetuning.py``, out of the kernel's reach.

The order of the members is part of every learner's assignment: append only.
"""

from __future__ import annotations

import itertools

from course_utils.i18n import Msg
from course_utils.variants import Family

# What the script's five switches take, in the order of the learner's function's arguments.
SWITCHES = ("all_params", "weight_decay", "momentum", "set_to_none", "freeze_after_warmup")
WEIGHT_DECAYS = (0.0, 0.01)
MOMENTA = (0.0, 0.9)


def every_script() -> list[tuple[bool, float, float, bool, bool]]:
    """The 32 versions of the script: each switch in each of its two settings."""
    return list(
        itertools.product((False, True), WEIGHT_DECAYS, MOMENTA, (False, True), (False, True))
    )


QUESTIONS = ("moves", "has_grad", "has_state")

YOUR_QUESTION = Family(
    "finetuning.frozen_layer",
    (
        Msg(
            "**Does `net[0].weight` change after it is frozen?** True if its values at the end "
            "differ from its values right after the line that freezes it (from the start, when "
            "it is frozen before the loop).",
            "**`net[0].weight` 在被冻结之后还会变吗？** 如果它最后的值与冻结它的那一行刚执行完时的值"
            "不同（若在循环之前就冻结，则与一开始的值比较），返回 True。",
        ),
        Msg(
            "**Does `net[0].weight` end the script with a gradient?** True if its `.grad` is not "
            "`None` after the last step.",
            "**脚本结束时 `net[0].weight` 还有梯度吗？** 如果最后一步之后它的 `.grad` 不是 `None`，"
            "返回 True。",
        ),
        Msg(
            "**Does the optimizer end the script with a momentum buffer for `net[0].weight`?** "
            "True if `optimizer.state[net[0].weight]` holds a `momentum_buffer` after the last "
            "step.",
            "**脚本结束时，优化器里有 `net[0].weight` 的动量缓冲区吗？** 如果最后一步之后 "
            "`optimizer.state[net[0].weight]` 中有 `momentum_buffer`，返回 True。",
        ),
    ),
    params=tuple({"question": q} for q in QUESTIONS),
)
