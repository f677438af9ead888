"""Lesson 7 · Excluding tensors from the graph; finetuning with frozen parameters."""

from __future__ import annotations

import torch
from torch import nn

from course_utils.exercises import Exercise, register
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
        hint=Msg(
            "Loop over model.parameters() (not the state_dict: BatchNorm's running statistics "
            "are buffers, not parameters), keep those with p.requires_grad, and add up "
            "p.numel(), the number of numbers in each tensor, not the number of tensors. "
            "Return a Python int.",
            "遍历 model.parameters()（不要用 state_dict：BatchNorm 的滑动统计量是缓冲区，不是参数），"
            "只保留 p.requires_grad 为 True 的参数，把每个张量的元素个数 p.numel() 加起来，"
            "而不是数张量的个数。返回 Python 的 int。",
        ),
        edge_cases=_count_edge_cases,
    )
)


# --- Exercise 2: one finetuning step ---------------------------------------------------

MOMENTUM = 0.9


def finetune_reference(
    model: nn.Sequential, new_head: nn.Linear, x: torch.Tensor, y: torch.Tensor, lr: float
):
    for p in model.parameters():
        p.requires_grad_(False)
    model[-1] = new_head
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(trainable, lr=lr, momentum=MOMENTUM)
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
    return nn.utils.parameters_to_vector(model.parameters()).detach()


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
        title=Msg("One finetuning step", "一步微调"),
        make_args=_finetune_args,
        reference=finetune_reference,
        hint=Msg(
            "Order matters: first freeze every parameter of the model "
            "(p.requires_grad_(False)), then put new_head in place with model[-1] = new_head "
            "(a new layer's parameters require gradients), then give the optimizer only the "
            "parameters that require gradients. If the old layers changed, they were not frozen; "
            "if the answer has the wrong length, the last layer was not replaced.",
            "顺序很重要：先冻结模型的全部参数（p.requires_grad_(False)），再用 model[-1] = new_head "
            "换上新的层（新层的参数默认需要梯度），然后只把需要梯度的参数交给优化器。"
            "如果前面的层变了，说明它们没有被冻结；如果答案的长度不对，说明最后一层没有被替换。",
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


register(
    Exercise(
        id="finetuning.evaluate",
        title=Msg("Evaluating without a graph", "不建计算图的评估"),
        make_args=_evaluate_args,
        reference=evaluate_reference,
        no_graph=True,
        hint=Msg(
            "Evaluation needs two separate switches: model.eval() turns Dropout off and makes "
            "BatchNorm use its running statistics, and `with torch.no_grad():` stops autograd "
            "from recording the forward pass. Neither does the other's job.",
            "评估需要两个互不替代的开关：model.eval() 关闭 Dropout，并让 BatchNorm 使用滑动统计量；"
            "`with torch.no_grad():` 让 autograd 不再记录前向传播。",
        ),
        edge_cases=_evaluate_edge_cases,
    )
)
