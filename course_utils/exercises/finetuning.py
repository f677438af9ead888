"""Lesson 7 · Excluding tensors from the graph; finetuning with frozen parameters."""

from __future__ import annotations

import torch
from torch import nn

from course_utils.exercises import Exercise, Mistake, register
from course_utils.i18n import Msg


def _int(gen: torch.Generator, low: int, high: int) -> int:
    """A random int in [low, high]."""
    return int(torch.randint(low, high + 1, (1,), generator=gen))


def _coin(gen: torch.Generator, p: float = 0.5) -> bool:
    return bool(torch.rand(1, generator=gen) < p)


def _built(gen: torch.Generator, build):
    """Run ``build()`` with torch's global RNG seeded from ``gen`` (and restored afterwards)."""
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def _mlp(
    gen: torch.Generator, d_in: int, d_out: int, *, batchnorm: bool = False, dropout: float = 0.0
):
    """A small random nn.Sequential: Linear layers with activations in between."""
    widths = [d_in] + [_int(gen, 2, 6) for _ in range(_int(gen, 1, 2))] + [d_out]
    acts = [nn.Tanh if _coin(gen) else nn.ReLU for _ in widths]

    def build():
        layers: list[nn.Module] = []
        for i in range(len(widths) - 1):
            layers.append(nn.Linear(widths[i], widths[i + 1]))
            if i < len(widths) - 2:
                if batchnorm:
                    layers.append(nn.BatchNorm1d(widths[i + 1]))
                layers.append(acts[i]())
                if dropout:
                    layers.append(nn.Dropout(dropout))
        return nn.Sequential(*layers)

    return _built(gen, build)


def trainable_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# --- Exercise 1: count the trainable parameters ---------------------------------------


def _count_args(gen: torch.Generator) -> tuple:
    model = _mlp(gen, _int(gen, 2, 5), _int(gen, 2, 4), batchnorm=_coin(gen))
    p_freeze = float(torch.rand(1, generator=gen)) * 0.8 + 0.1
    for p in model.parameters():
        if _coin(gen, p_freeze):
            p.requires_grad_(False)
    return (model,)


def _count_edge_cases() -> list[tuple]:
    def shared():
        layer = nn.Linear(3, 3)  # one layer used twice: its parameters count once
        return nn.Sequential(layer, nn.Tanh(), layer, nn.Linear(3, 2))

    def all_frozen():
        model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
        return model.requires_grad_(False)

    def frozen_backbone_with_batchnorm():
        model = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 3))
        for p in model[:3].parameters():
            p.requires_grad_(False)
        return model

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return [(shared(),), (all_frozen(),), (frozen_backbone_with_batchnorm(),)]


register(
    Exercise(
        id="finetuning.count_trainable",
        title=Msg("Counting trainable parameters", "统计可训练参数的个数"),
        make_args=_count_args,
        reference=trainable_count,
        kind="value",
        hints=(
            Msg(
                "Two questions for each parameter: does it require gradients, and how many numbers "
                "does it hold? The answer counts numbers, not tensors.",
                "对每个参数问两个问题：它需要梯度吗？它包含多少个数？答案数的是数值，而不是张量。",
            ),
            Msg(
                "Go through the model's own list of parameters (the state_dict also holds buffers "
                "such as BatchNorm's running statistics, which are never trained), keep the ones "
                "whose requires_grad is True, and add up their element counts as a Python int.",
                "遍历模型自己给出的参数列表（state_dict 里还有 BatchNorm 的滑动统计量这类缓冲区，"
                "它们从不参与训练），只保留 requires_grad 为 True 的参数，把它们的元素个数加起来，"
                "返回 Python 的 int。",
            ),
        ),
        mistakes=(
            Mistake(
                "frozen_counted",
                lambda model: sum(p.numel() for p in model.parameters()),
                Msg(
                    "You counted every parameter, frozen ones included: only those that require "
                    "gradients are trainable.",
                    "你把所有参数都数进去了，包括被冻结的：只有需要梯度的参数才是可训练的。",
                ),
            ),
            Mistake(
                "only_frozen",
                lambda model: sum(p.numel() for p in model.parameters() if not p.requires_grad),
                Msg(
                    "You counted the frozen parameters, the ones whose requires_grad is False.",
                    "你数的是被冻结的参数，也就是 requires_grad 为 False 的那些。",
                ),
            ),
            Mistake(
                "state_dict_counted",
                lambda model: sum(v.numel() for v in model.state_dict().values()),
                Msg(
                    "You counted everything in the state_dict: it also holds frozen parameters "
                    "and buffers such as BatchNorm's running statistics, which are never trained.",
                    "你把 state_dict 里的所有东西都数进去了：其中还有被冻结的参数，以及 BatchNorm 的"
                    "滑动统计量这类缓冲区，它们从不参与训练。",
                ),
            ),
            Mistake(
                "state_dict_requires_grad",
                lambda model: sum(
                    v.numel() for v in model.state_dict().values() if v.requires_grad
                ),
                Msg(
                    "You filtered the state_dict by requires_grad: its tensors are detached "
                    "copies whose requires_grad is always False. Ask the parameters themselves.",
                    "你按 requires_grad 筛选了 state_dict：它里面的张量都是分离出来的副本，"
                    "requires_grad 永远是 False。应该直接问参数本身。",
                ),
            ),
            Mistake(
                "tensors_not_numbers",
                lambda model: sum(1 for p in model.parameters() if p.requires_grad),
                Msg(
                    "You counted the trainable tensors, not the numbers in them.",
                    "你数的是可训练张量的个数，而不是其中数值的个数。",
                ),
            ),
        ),
        edge_cases=_count_edge_cases,
    )
)


# --- Exercise 2: two finetuning steps --------------------------------------------------

MOMENTUM = 0.9
STEPS = 2  # with one step from a fresh optimizer, momentum would change nothing


def _gradients(model: nn.Module) -> torch.Tensor:
    """Every parameter's .grad as one vector, zeros where a parameter has none."""
    return torch.cat(
        [
            (p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
            for p in model.parameters()
        ]
    ).detach()


def _finetune(
    model,
    new_head,
    x,
    y,
    lr,
    *,
    freeze=True,
    swap=True,
    head_only=False,
    momentum=MOMENTUM,
    zero_grad=True,
    steps=STEPS,
    freeze_after_swap=False,
    zero_grad_last=False,
):
    """One recipe with the switches learners get wrong (the reference has them all right)."""
    if freeze and not freeze_after_swap:
        for p in model.parameters():
            p.requires_grad_(False)
    if swap:
        model[-1] = new_head
    if freeze_after_swap:
        for p in model.parameters():
            p.requires_grad_(False)
    params = (
        new_head.parameters() if head_only else [p for p in model.parameters() if p.requires_grad]
    )
    optimizer = torch.optim.SGD(params, lr=lr, momentum=momentum)
    for _ in range(steps):
        if zero_grad and not zero_grad_last:
            optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        if zero_grad_last:
            optimizer.zero_grad()
    return nn.utils.parameters_to_vector(model.parameters()).detach(), _gradients(model)


def finetune_reference(
    model: nn.Sequential, new_head: nn.Linear, x: torch.Tensor, y: torch.Tensor, lr: float
):
    return _finetune(model, new_head, x, y, lr)


def _finetune_args(gen: torch.Generator) -> tuple:
    d_in, k_old = _int(gen, 2, 5), _int(gen, 4, 6)
    k_new = _int(gen, 2, k_old - 1)
    model = _mlp(gen, d_in, k_old)
    hidden = model[-1].in_features
    new_head = _built(gen, lambda: nn.Linear(hidden, k_new))
    n = _int(gen, 2, 6)
    x = torch.randn(n, d_in, generator=gen)
    y = torch.randint(0, k_new, (n,), generator=gen)
    lr = round(float(torch.rand(1, generator=gen)) * 0.45 + 0.05, 3)
    return model, new_head, x, y, lr


register(
    Exercise(
        id="finetuning.finetune_step",
        process=("optimizer_trainable_only",),
        title=Msg("Two finetuning steps", "两步微调"),
        make_args=_finetune_args,
        reference=finetune_reference,
        kind="tensors",
        output_names=("parameters", "gradients"),
        hints=(
            Msg(
                "Finetuning changes the new layer and nothing else, and the backward pass should "
                "not even enter the frozen part. Compare your two vectors with that: which "
                "parameters moved, and which ones got a gradient?",
                "微调只改变新换上的层，其余一概不动，反向传播甚至不应该进入被冻结的部分。"
                "用这一点检查你返回的两个向量：哪些参数动了？哪些参数得到了梯度？",
            ),
            Msg(
                "The order matters: freeze first, then put the new layer in place (a new layer "
                "requires gradients), then build the optimizer from what requires gradients. "
                "Every step starts by clearing the old gradients, and the optimizer keeps a "
                "velocity between the two steps.",
                "顺序很重要：先冻结，再换上新层（新层默认需要梯度），然后用需要梯度的参数创建优化器。"
                "每一步都要先清掉旧的梯度；两步之间，优化器会保留速度。",
            ),
        ),
        mistakes=(
            Mistake(
                "not_frozen",
                lambda *a: _finetune(*a, freeze=False, head_only=True),
                Msg(
                    "The old layers have gradients: they were not frozen. The optimizer only "
                    "moved the new layer, but the backward pass went through the whole model, "
                    "which is the work freezing saves.",
                    "前面的旧层有梯度：它们没有被冻结。虽然优化器只更新了新层，但反向传播走遍了整个模型，"
                    "而冻结正是为了省下这部分计算。",
                ),
            ),
            Mistake(
                "frozen_after_swap",
                lambda *a: _finetune(*a, freeze_after_swap=True),
                Msg(
                    "The optimizer got no parameters to train: the new layer was frozen too, "
                    "because it was put in place before freezing.",
                    "优化器没有拿到任何要训练的参数：新层也被冻结了，因为它是在冻结之前换上去的。",
                ),
                raises="ValueError",
            ),
            Mistake(
                "no_momentum",
                lambda *a: _finetune(*a, momentum=0.0),
                Msg(
                    "Your second step moved as if there were no momentum: the optimizer must be "
                    "created with momentum=0.9, and created once, before the two steps.",
                    "你的第二步走得像没有动量一样：优化器要用 momentum=0.9 创建，并且在两步之前只创建一次。",
                ),
            ),
            Mistake(
                "no_zero_grad",
                lambda *a: _finetune(*a, zero_grad=False),
                Msg(
                    "The new layer's gradient is the sum of both steps' gradients: the second "
                    "backward pass added to the first one's .grad. Clear the gradients at the "
                    "start of every step.",
                    "新层的梯度是两步梯度之和：第二次反向传播把梯度累加到了第一次的 .grad 上。"
                    "每一步开始时都要清空梯度。",
                ),
            ),
            Mistake(
                "zero_grad_at_the_end",
                lambda *a: _finetune(*a, zero_grad_last=True),
                Msg(
                    "Your gradients are all zero: you cleared them after the last step, so the "
                    "gradients of the second backward pass are gone. Clear them at the start of "
                    "each step instead.",
                    "你返回的梯度全是零：你在最后一步之后把梯度清掉了，第二次反向传播的梯度也就没了。"
                    "应该在每一步开始时清空梯度。",
                ),
            ),
            Mistake(
                "one_step",
                lambda *a: _finetune(*a, steps=1),
                Msg(
                    "You took one step; the exercise asks for two.",
                    "你只走了一步；题目要求走两步。",
                ),
            ),
        ),
    )
)


# --- Exercise 3: evaluation without a graph --------------------------------------------


def evaluate_reference(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(x)


def _evaluate_args(gen: torch.Generator) -> tuple:
    d_in = _int(gen, 2, 5)
    dropout = round(float(torch.rand(1, generator=gen)) * 0.3 + 0.3, 2)
    model = _mlp(gen, d_in, _int(gen, 1, 4), batchnorm=True, dropout=dropout)
    warmup = [torch.randn(8, d_in, generator=gen) * 2 + 1 for _ in range(3)]

    def warm_up():  # give BatchNorm running statistics that differ from a batch's own
        with torch.no_grad():
            for batch in warmup:
                model(batch)
        return model

    model = _built(gen, warm_up)
    x = torch.randn(_int(gen, 2, 6), d_in, generator=gen)
    return model, x


def _evaluate_edge_cases() -> list[tuple]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        model = nn.Sequential(
            nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4, 2)
        )
        with torch.no_grad():
            model(torch.randn(16, 3) + 2)
        return [(model, torch.randn(1, 3))]  # one example: BatchNorm cannot train on it


def _forward_no_grad(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x)


register(
    Exercise(
        id="finetuning.evaluate",
        process=("no_graph_in_forward",),
        title=Msg("Evaluating without a graph", "不建计算图的评估"),
        make_args=_evaluate_args,
        reference=evaluate_reference,
        no_graph=True,
        hints=(
            Msg(
                "Evaluating a model needs two different switches: one changes how some layers "
                "behave (Dropout, BatchNorm), the other stops autograd from recording. Which of "
                "the two did your answer miss?",
                "评估模型需要两个不同的开关：一个改变某些层的行为（Dropout、BatchNorm），"
                "另一个让 autograd 停止记录。你的答案漏掉了哪一个？",
            ),
            Msg(
                "A module's mode is set by a method of the module; recording is switched off for "
                "a block of code by a context manager, and the forward pass must run inside that "
                "block. Neither does the other's job.",
                "模块的模式由模块自己的一个方法设置；而停止记录要用一个上下文管理器包住一段代码，"
                "前向传播必须在这段代码里运行。两者谁也不能代替谁。",
            ),
        ),
        mistakes=(
            Mistake(
                "no_eval",
                _forward_no_grad,
                Msg(
                    "Your model was still in training mode: Dropout dropped units and BatchNorm "
                    "used the batch's own statistics. no_grad() does not change how layers behave.",
                    "你的模型仍处于训练模式：Dropout 丢弃了部分单元，BatchNorm 用的是这一批数据自己的"
                    "统计量。no_grad() 不会改变层的行为。",
                ),
            ),
            Mistake(
                "no_no_grad",
                lambda model, x: model.eval()(x),
                Msg(
                    "model.eval() alone still lets autograd record the forward pass: the result "
                    "is attached to a graph.",
                    "只调用 model.eval() 时，autograd 仍然会记录前向传播：结果连在计算图上。",
                ),
            ),
            Mistake(
                "neither",
                lambda model, x: model(x),
                Msg(
                    "Your model ran in training mode and autograd recorded it: both switches are "
                    "missing.",
                    "你的模型在训练模式下运行，而且 autograd 记录了整个过程：两个开关都没有用上。",
                ),
            ),
        ),
        edge_cases=_evaluate_edge_cases,
    )
)
