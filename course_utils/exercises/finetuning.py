"""Lesson 9 · Leaving tensors out of the graph: what freezing does, a finetuning script to fix,
and evaluation without a graph."""

from __future__ import annotations

import functools

import torch
from torch import nn

from course_utils.exercises import (
    COURSE_REFERENCE,
    DYNAMIC_CODE,
    Exercise,
    Mistake,
    Variant,
    register,
)
from course_utils.freezing_questions import YOUR_QUESTION, every_script
from course_utils.i18n import Msg
from course_utils.rules import NO_TORCH


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


# --- Exercise 1: what a layer frozen mid-training still goes through (a prediction) ----------


@functools.cache  # 32 versions, each asked by every check: run each once
def frozen_layer_script(
    all_params: bool,
    weight_decay: float,
    momentum: float,
    set_to_none: bool,
    freeze_after_warmup: bool,
) -> dict[str, bool]:
    """The lesson's script, run for real: what happened to the layer it freezes."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        x, y = torch.rand(16, 4), torch.randint(0, 2, (16,))
    if not freeze_after_warmup:
        net[0].requires_grad_(False)
    frozen_at = net[0].weight.detach().clone()
    params = net.parameters() if all_params else net[2].parameters()
    optimizer = torch.optim.SGD(params, lr=0.1, momentum=momentum, weight_decay=weight_decay)
    for step in range(3):
        optimizer.zero_grad(set_to_none=set_to_none)
        nn.functional.cross_entropy(net(x), y).backward()
        optimizer.step()
        if step == 0 and freeze_after_warmup:
            net[0].requires_grad_(False)
            frozen_at = net[0].weight.detach().clone()
    state = optimizer.state.get(net[0].weight, {})
    return {
        "moves": not torch.equal(frozen_at, net[0].weight.detach()),
        "has_grad": net[0].weight.grad is not None,
        "has_state": state.get("momentum_buffer") is not None,
    }


def _answer_of(question: str):
    def answer(*script) -> bool:
        return frozen_layer_script(*script)[question]

    return answer


def _rule(test):
    """A misconception as a rule over the five switches (named like the learner's arguments)."""
    return lambda all_params, weight_decay, momentum, set_to_none, after: bool(
        test(all_params, weight_decay > 0, momentum > 0, set_to_none, after)
    )


_NEVER = Mistake(
    "frozen_means_untouched",
    _rule(lambda *_: False),
    Msg(
        "Your predictions say that a frozen parameter is left alone in every version. "
        "requires_grad=False only stops autograd from computing new gradients: what the "
        "parameter already holds, and what an optimizer that holds it does, is another matter.",
        "你的预测认为：无论哪个版本，被冻结的参数都不会再受任何影响。requires_grad=False 只是让 "
        "autograd 不再为它计算新的梯度；它已经有的东西，以及持有它的优化器会做什么，是另一回事。",
    ),
)

_FROZEN_LAYER_VARIANTS = (
    Variant(  # moves
        _answer_of("moves"),
        mistakes=(
            Mistake(
                "none_grad_ignored",
                _rule(lambda all_p, wd, mom, stn, after: all_p and (wd or mom)),
                Msg(
                    "Some of your predictions have a frozen layer moved by an optimizer that "
                    "holds it, whatever its .grad is. step() skips every parameter whose .grad "
                    "is None: when can the frozen layer have a .grad at all, and what does "
                    "zero_grad() leave in it?",
                    "你有的预测认为，只要优化器持有冻结的层，就会移动它，不管它的 .grad 是什么。"
                    "step() 会跳过所有 .grad 为 None 的参数：冻结的层什么时候才可能有 .grad？"
                    "zero_grad() 又会在其中留下什么？",
                ),
            ),
            Mistake(
                "set_to_none_ignored",
                _rule(lambda all_p, wd, mom, stn, after: all_p and after and (wd or mom)),
                Msg(
                    "Some of your predictions overlook what zero_grad(set_to_none=True) does: it "
                    "leaves no .grad at all, and step() skips a parameter without one, weight "
                    "decay and momentum included.",
                    "你有的预测忽略了 zero_grad(set_to_none=True) 的作用：它根本不留下 .grad，"
                    "而 step() 会跳过没有 .grad 的参数，权重衰减和动量也一样不起作用。",
                ),
            ),
            Mistake(
                "momentum_ignored",
                _rule(lambda all_p, wd, mom, stn, after: all_p and after and not stn and wd),
                Msg(
                    "Some of your predictions forget the momentum gathered in the warm-up step: "
                    "with a zero gradient, the velocity still moves the parameter.",
                    "你有的预测忘了预热那一步积累的动量：梯度为零时，速度仍然会推动参数。",
                ),
            ),
        ),
    ),
    Variant(  # has_grad
        _answer_of("has_grad"),
        mistakes=(
            Mistake(
                "zero_grad_clears_the_model",
                _rule(lambda all_p, wd, mom, stn, after: after and not stn),
                Msg(
                    "Some of your predictions have optimizer.zero_grad() reset every gradient of "
                    "the model. It resets the gradients of the parameters the optimizer holds, "
                    "and no others.",
                    "你有的预测认为 optimizer.zero_grad() 会重置模型的所有梯度。它只重置优化器持有的"
                    "那些参数的梯度，别的一概不管。",
                ),
            ),
            Mistake(
                "frozen_from_the_start_has_grad",
                _rule(lambda all_p, wd, mom, stn, after: not (all_p and stn)),
                Msg(
                    "Some of your predictions give a gradient to a layer frozen before the first "
                    "backward pass: autograd never computes one for it.",
                    "你有的预测让一个在第一次反向传播之前就被冻结的层有了梯度："
                    "autograd 从来不会为它计算梯度。",
                ),
            ),
        ),
    ),
    Variant(  # has_state
        _answer_of("has_state"),
        mistakes=(
            Mistake(
                "state_for_every_parameter",
                _rule(lambda all_p, wd, mom, stn, after: all_p and mom),
                Msg(
                    "Some of your predictions have the optimizer keep a momentum buffer for every "
                    "parameter it holds. It creates one when step() first updates a parameter, "
                    "and step() skips a parameter whose .grad is None.",
                    "你有的预测认为，优化器会为它持有的每个参数都保存动量缓冲区。实际上，"
                    "step() 第一次更新某个参数时才会创建它，而 step() 会跳过 .grad 为 None 的参数。",
                ),
            ),
            Mistake(
                "buffer_without_momentum",
                _rule(lambda all_p, wd, mom, stn, after: all_p and after),
                Msg(
                    "Some of your predictions give a momentum buffer to an optimizer created with "
                    "momentum=0: plain SGD keeps no velocity.",
                    "你有的预测让 momentum=0 的优化器也有了动量缓冲区：普通的 SGD 不保存速度。",
                ),
            ),
        ),
    ),
)


register(
    Exercise(
        id="finetuning.frozen_layer",
        # A prediction from reading the script: running it would be the answer.
        forbids=frozenset({COURSE_REFERENCE, DYNAMIC_CODE, NO_TORCH}),
        prediction=True,
        asks="predict",
        novel="for 32 versions of a script that freezes a layer (optimizer over all or only the "
        "trained parameters, weight decay, momentum, set_to_none, freezing before or after a "
        "warm-up step): whether the frozen layer still moves, keeps a .grad, or gets optimizer "
        "state, read without running it",
        title=Msg("What happens to a frozen layer?", "被冻结的层会怎样？"),
        make_args=lambda gen: tuple(every_script()[_int(gen, 0, 31)]),
        items=every_script,
        kind="value",
        family=YOUR_QUESTION,
        variants=_FROZEN_LAYER_VARIANTS,
        mistakes=(_NEVER,),
        hints=(
            Msg(
                "Go through the script line by line for one version, and keep track of three "
                "things for net[0].weight: does it require gradients, what is in its .grad, and "
                "does the optimizer hold it? Then ask which switch changes which of the three.",
                "任选一个版本，逐行走一遍脚本，并为 net[0].weight 记下三件事：它需要梯度吗？"
                "它的 .grad 里是什么？优化器持有它吗？然后再问：哪个开关会改变这三件事中的哪一件？",
            ),
            Msg(
                "Four facts decide every version. backward() fills .grad only for tensors that "
                "require gradients at that moment. optimizer.zero_grad() touches only the "
                "optimizer's own parameters: set_to_none=True removes their .grad, False fills it "
                "with zeros. step() skips a parameter whose .grad is None. For one it updates, "
                "weight decay adds to the gradient and momentum keeps a velocity from earlier "
                "steps.",
                "四个事实决定了每个版本的结果。backward() 只为当时需要梯度的张量填写 .grad。"
                "optimizer.zero_grad() 只处理优化器自己的参数：set_to_none=True 删掉它们的 .grad，"
                "False 则把它填成 0。step() 会跳过 .grad 为 None 的参数；对它要更新的参数，"
                "权重衰减会加到梯度上，动量则保留着之前各步的速度。",
            ),
        ),
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
    freeze_late=False,
    all_params=False,
    set_to_none=True,
):
    """One recipe with the switches learners get wrong (the reference has them all right).

    ``freeze_late``, ``all_params`` and ``set_to_none=False`` together are the lesson's buggy
    script: the old layers frozen only after the first step, an optimizer over every parameter,
    and gradients filled with zeros rather than removed."""
    if freeze and not (freeze_after_swap or freeze_late):
        for p in model.parameters():
            p.requires_grad_(False)
    if swap:
        model[-1] = new_head
    if freeze_after_swap:
        for p in model.parameters():
            p.requires_grad_(False)
    if head_only:
        params = list(new_head.parameters())
    elif all_params:
        params = list(model.parameters())
    else:
        params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=lr, momentum=momentum)
    for step in range(steps):
        if zero_grad and not zero_grad_last:
            optimizer.zero_grad(set_to_none=set_to_none)
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        if zero_grad_last:
            optimizer.zero_grad()
        if freeze_late and step == 0:
            for p in model[:-1].parameters():
                p.requires_grad_(False)
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
        asks="debug",
        novel="a finetuning script whose old layers move (frozen after a warm-up step, an "
        "optimizer over every parameter, zero_grad(set_to_none=False) with momentum): find why "
        "and fix it; the page shows the mechanisms, not this script's fix",
        title=Msg("Fix the finetuning script", "修好这段微调脚本"),
        make_args=_finetune_args,
        reference=finetune_reference,
        kind="tensors",
        output_names=("parameters", "gradients"),
        hints=(
            Msg(
                "Finetuning changes the new layer and nothing else, and the backward pass should "
                "not even enter the old layers. Run the script and compare its two vectors with "
                "that: which parameters moved, and which ones got a gradient? Each wrong entry "
                "comes from a line of the script.",
                "微调只改变新换上的层，其余一概不动，反向传播甚至不应该进入旧层。运行这段脚本，"
                "用这一点检查它返回的两个向量：哪些参数动了？哪些参数得到了梯度？每一处不对都出自脚本里的某一行。",
            ),
            Msg(
                "Two things decide whether an old layer can move. When it stops requiring "
                "gradients decides whether a backward pass and a step reach it at all; what the "
                "optimizer holds decides whether a gradient filled with zeros, or a velocity "
                "gathered earlier, can still move it. Keep the learning rate, the momentum and "
                "the two steps as they are.",
                "旧层会不会动，取决于两件事。它从什么时候起不再需要梯度，决定了反向传播和优化步骤能不能"
                "碰到它；优化器持有哪些参数，决定了一个被填成 0 的梯度，或者之前积累的速度，还能不能推动它。"
                "学习率、动量和两步都保持不变。",
            ),
        ),
        mistakes=(
            Mistake(
                "script_as_given",
                lambda *a: _finetune(*a, freeze_late=True, all_params=True, set_to_none=False),
                Msg(
                    "Your function does what the script above does: the old layers move in both "
                    "steps. Find why they move in the first step, and why they still move in the "
                    "second, when they are frozen.",
                    "你的函数做的和上面的脚本一样：旧层在两步中都动了。找出它们为什么在第一步会动，"
                    "又为什么在已经冻结的第二步里还会动。",
                ),
            ),
            Mistake(
                "frozen_after_the_warmup",
                lambda *a: _finetune(*a, freeze_late=True, all_params=True),
                Msg(
                    "The old layers moved in the first step: they are frozen only after it, so "
                    "that step trained them like the new layer. Nothing of the pretrained model "
                    "may change, not even once.",
                    "旧层在第一步中动了：它们在这一步之后才被冻结，所以这一步像训练新层一样训练了它们。"
                    "预训练模型的任何部分都不能改变，一次也不行。",
                ),
            ),
            Mistake(
                "stale_gradients",
                lambda *a: _finetune(*a, freeze_late=True, head_only=True),
                Msg(
                    "Your parameters are right, but the old layers still hold gradients from the "
                    "first backward pass, which went through them because they were frozen after "
                    "it. The optimizer never touched them, and its zero_grad() does not reset "
                    "what it does not hold; the work freezing saves was done anyway.",
                    "你的参数是对的，但旧层还留着第一次反向传播的梯度：它们在这次反向传播之后才被冻结，"
                    "所以反向传播经过了它们。优化器从来没有动过它们，它的 zero_grad() 也不会重置它不持有的"
                    "参数；冻结本该省下的计算还是做了。",
                ),
            ),
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
                    "每一步开始时都要重置梯度（optimizer.zero_grad()）。",
                ),
            ),
            Mistake(
                "zero_grad_at_the_end",
                lambda *a: _finetune(*a, zero_grad_last=True),
                Msg(
                    "Your gradients are all zero: you cleared them after the last step, so the "
                    "gradients of the second backward pass are gone. Clear them at the start of "
                    "each step instead.",
                    "你返回的梯度全是零：你在最后一步之后重置了梯度，第二次反向传播的梯度也就没了。"
                    "应该在每一步开始时重置梯度。",
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
        asks="debug",
        novel="two bugs in an evaluation function that raise no error (a method named but "
        "not called, a graph built and then detached), found from their symptoms",
        title=Msg("Fix the evaluation function", "修好这个评估函数"),
        make_args=_evaluate_args,
        reference=evaluate_reference,
        no_graph=True,
        hints=(
            Msg(
                "Two symptoms, two bugs. Call the function twice on the same x: should an "
                "evaluation give two different answers? Then ask whether autograd recorded the "
                "forward pass before anything was detached. Which line was meant to prevent each?",
                "两个症状，两个错误。在同一个 x 上调用这个函数两次：评估会给出两个不同的结果吗？"
                "再想一想：在 detach 之前，autograd 有没有记录前向传播？哪一行本该防止哪一个症状？",
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
                    "used the batch's own statistics. no_grad() does not change how layers behave, "
                    "and naming a method without calling it (no parentheses) does nothing.",
                    "你的模型仍处于训练模式：Dropout 丢弃了部分单元，BatchNorm 用的是这一批数据自己的"
                    "统计量。no_grad() 不会改变层的行为；只写方法名而不调用它（没有括号），什么也不会发生。",
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
