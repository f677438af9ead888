"""Lesson 12, part 2 · Debugging stories: each a real bug, its symptom, and a graded fix or prediction.

1. ``debugging.nan_fix``: NaN gradients from ``sqrt`` at 0 (and the ``torch.where`` trap);
2. ``debugging.graph_grows``: which training loops keep every step's graph alive (a prediction);
3. ``debugging.detached_state``: "backward through the graph a second time" from a recurrent
   state carried across chunks;
4. ``debugging.zero_grad``: a loss curve that will not settle (gradients never reset).

The broken versions are in the notebook; the references here are the fixed ones, and the
mistakes the fixes a learner would try instead.
"""

from __future__ import annotations

import torch

from course_utils.exercises import Exercise, Mistake, register
from course_utils.exercises.inputs import random_size
from course_utils.i18n import Msg


def _randn(gen: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


# --- Story 1: NaN gradients -----------------------------------------------------------------


def _spread(p: torch.Tensor, *, how: str = "safe") -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, p.grad) for loss = −mean of all pairwise distances, the diagonal's zeros included.

    ``how``: "safe" keeps sqrt away from 0 (the fix); "where" masks sqrt's output only (the
    trap); "off_diagonal" averages over the n(n − 1) pairs i ≠ j, a different loss."""
    p = p.detach().clone().requires_grad_(True)
    diff = p[:, None, :] - p[None, :, :]
    squared = (diff**2).sum(-1)
    positive = squared > 0
    if how == "where":
        dist = torch.where(positive, torch.sqrt(squared), torch.zeros_like(squared))
    else:
        safe = torch.where(positive, squared, torch.ones_like(squared))
        dist = torch.where(positive, torch.sqrt(safe), torch.zeros_like(squared))
    if how == "off_diagonal":
        n = p.shape[0]
        loss = -dist.sum() / (n * (n - 1))
    else:
        loss = -dist.mean()
    loss.backward()
    return loss.detach(), p.grad


def _nan_to_num(p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    loss, grad = _spread(p, how="where")
    return loss, torch.nan_to_num(grad)


def _points(gen: torch.Generator) -> tuple:
    return (_randn(gen, random_size(gen, 3, 7), 2),)


register(
    Exercise(
        id="debugging.nan_fix",
        title=Msg("Find it and fix it: a NaN gradient", "找出并修复：NaN 梯度"),
        asks="debug",
        novel="a loss whose gradient is NaN, fixed without changing the loss; the page shows "
        "why masking fails, not what works",
        make_args=_points,
        reference=_spread,
        kind="tensors",
        output_names=("loss", "p.grad"),
        hints=(
            Msg(
                "Under torch.autograd.set_detect_anomaly(True) the error names the first "
                "backward that returned NaN. Look at the gradient it received on the diagonal "
                "of the distance matrix, and at the operation that sent it.",
                "在 torch.autograd.set_detect_anomaly(True) 之下，报错会指出第一个返回 NaN 的反向函数。"
                "看看它在距离矩阵的对角线上收到了什么样的梯度，以及这个梯度是哪个运算传过来的。",
            ),
            Msg(
                "sqrt's derivative at 0 is infinite, and 0 · ∞ is NaN. Masking sqrt's output "
                "afterwards does not help: sqrt's backward still runs at 0, whatever torch.where "
                "or a mask does with its result. Make sure sqrt never receives a 0, and keep the "
                "loss's value exactly as it was.",
                "sqrt 在 0 处的导数是无穷大，而 0 · ∞ 是 NaN。事后遮住 sqrt 的输出无济于事：无论 "
                "torch.where 或掩码怎样处理它的结果，sqrt 的反向传播仍然在 0 处运行。要保证 sqrt "
                "根本收不到 0，同时损失的数值要与原来完全一样。",
            ),
        ),
        edge_cases=lambda: [
            # two points in the same place: their distance is 0 off the diagonal too
            (torch.tensor([[0.0, 1.0], [2.0, -1.0], [0.0, 1.0]], dtype=torch.float64),),
            (torch.tensor([[1.0, 1.0], [-1.0, 2.0]], dtype=torch.float64),),
        ],
        mistakes=(
            Mistake(
                "still_nan",
                lambda p: _spread(p, how="where"),
                Msg(
                    "your gradient is still NaN: the zeros are kept out of the loss, but not out "
                    "of sqrt. torch.where sends a zero gradient to the branch it did not pick, "
                    "and that branch's backward still multiplies it by sqrt's infinite slope "
                    "at 0.",
                    "你的梯度仍然是 NaN：零被挡在了损失之外，却没有被挡在 sqrt 之外。"
                    "torch.where 会给没被选中的分支传回零梯度，而这个分支的反向传播仍会把它乘以 "
                    "sqrt 在 0 处无穷大的斜率。",
                ),
            ),
            Mistake(
                "nan_to_num",
                _nan_to_num,
                Msg(
                    "your gradient matches the NaN gradient with its NaNs replaced by zeros: that "
                    "hides the symptom and throws away every real gradient that the NaN "
                    "swallowed. Fix the operation that produces it.",
                    "你的梯度就是把 NaN 换成零之后的那个梯度：这只是掩盖了症状，还把被 NaN "
                    "吞掉的所有真实梯度一并丢掉了。请修正产生 NaN 的那个运算。",
                ),
            ),
            Mistake(
                "off_diagonal",
                lambda p: _spread(p, how="off_diagonal"),
                Msg(
                    "your loss is the mean over the pairs i ≠ j only: the loss must stay the "
                    "mean over all n² entries, the diagonal's zeros included. Only its gradient "
                    "was broken.",
                    "你的损失只对 i ≠ j 的点对取平均：损失必须仍是全部 n² 个元素的平均值，"
                    "对角线上的零也算在内。坏掉的只是它的梯度。",
                ),
            ),
        ),
    )
)


# --- Story 2: a graph kept alive by what the loop keeps ---------------------------------------

# What each candidate loop does with the step's loss (the notebook shows the same lines).
KEEPERS = {
    "A": "total += loss",
    "B": "total += loss.item()",
    "C": "total += loss.detach()",
    "D": "history.append(loss)",
    "E": "history.append(loss.item())",
    "F": "smoothed = 0.9 * smoothed + 0.1 * loss",
    "G": "last = loss",
    "H": "with torch.no_grad(): total += loss",
}


def graph_nodes(*kept: object) -> int:
    """How many autograd nodes the tensors in ``kept`` (or in lists of them) still reach."""
    todo = []
    for obj in kept:
        items = obj if isinstance(obj, list) else [obj]
        todo += [t.grad_fn for t in items if isinstance(t, torch.Tensor) and t.grad_fn]
    seen = set()
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        todo += [nxt for nxt, _ in node.next_functions if nxt is not None]
    return len(seen)


def kept_after(name: str, steps: int) -> int:
    """Graph nodes held after ``steps`` steps of candidate loop ``name``."""
    gen = torch.Generator().manual_seed(0)
    model = torch.nn.Linear(3, 1).double()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    total, history, smoothed, last = 0.0, [], 0.0, None
    for _ in range(steps):
        x, y = _randn(gen, 8, 3), _randn(gen, 8, 1)
        loss = ((model(x) - y) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if name == "A":
            total += loss
        elif name == "B":
            total += loss.item()
        elif name == "C":
            total += loss.detach()
        elif name == "D":
            history.append(loss)
        elif name == "E":
            history.append(loss.item())
        elif name == "F":
            smoothed = 0.9 * smoothed + 0.1 * loss
        elif name == "G":
            last = loss
        elif name == "H":
            with torch.no_grad():
                total += loss
    del loss
    return graph_nodes(total, history, smoothed, last)


def graph_grows_reference(name: str) -> bool:
    """Measured: does candidate ``name`` hold more graph after 6 steps than after 3?"""
    return kept_after(name, 6) > kept_after(name, 3)


def _belief(*grows: str):
    return lambda name: name in grows


register(
    Exercise(
        id="debugging.graph_grows",
        prediction=True,
        novel="which of eight training loops keep every step's graph alive; the page measures "
        "one of them",
        title=Msg(
            "Predict the symptom: which loops keep every graph?",
            "预测症状：哪些循环留住了每一步的计算图？",
        ),
        make_args=lambda gen: (sorted(KEEPERS)[random_size(gen, 0, len(KEEPERS))],),
        reference=graph_grows_reference,
        kind="value",
        hints=(
            Msg(
                "A graph stays alive as long as some tensor you keep has a grad_fn that leads "
                "to it. For each line, ask what kind of object ends up in the variable the loop "
                "keeps: a Python number, a tensor without history, or a tensor with one.",
                "只要你留着的某个张量有一个通向这张计算图的 grad_fn，这张图就一直活着。"
                "对每一行都问一问：循环留下的那个变量里最后装的是什么？Python 的数、没有历史的张量，"
                "还是带着历史的张量？",
            ),
            Msg(
                "Look at each line three ways: is a number taken out of the graph (.item(), "
                ".detach())? Is autograd recording while the line runs (torch.no_grad())? And is "
                "the new value computed from the old one, so that each step's graph points to "
                "the previous step's? A list holds whatever you put in it.",
                "从三个角度看每一行：数值有没有从计算图里取出来（.item()、.detach()）？这一行运行时 "
                "autograd 在不在记录（torch.no_grad()）？新值是不是由旧值算出来的，"
                "以至于每一步的计算图都指向上一步的？列表里装着你放进去的任何东西。",
            ),
        ),
        edge_cases=lambda: [(name,) for name in sorted(KEEPERS)],
        mistakes=(
            Mistake(
                "item_and_detach",
                _belief("A", "B", "C", "D", "E", "F", "H"),
                Msg(
                    "Look again at the lines that keep a number taken out of the graph: what is "
                    "left behind .item() or .detach() for autograd to keep?",
                    "再看看那些留下从计算图里取出来的数的行：在 .item() 或 .detach() 之后，"
                    "还剩下什么能让 autograd 留住？",
                ),
            ),
            Mistake(
                "lists_are_safe",
                _belief("A", "F"),
                Msg(
                    "Look again at the loops that keep their losses in a list: what does a list "
                    "keep alive, compared with a running sum?",
                    "再看看那些把损失放进列表的循环：和累加求和相比，列表让什么继续活着？",
                ),
            ),
            Mistake(
                "overwriting_frees",
                _belief("A", "D"),
                Msg(
                    "Look again at the variables that are overwritten at every step: is the new "
                    "value computed from the old one, and what does its grad_fn then lead to?",
                    "再看看每一步都被覆盖的变量：新值是不是由旧值算出来的？那样的话，它的 grad_fn 会通向哪里？",
                ),
            ),
            Mistake(
                "no_grad_ignored",
                _belief("A", "D", "F", "H"),
                Msg(
                    "Look again at the line under torch.no_grad(): what does autograd record "
                    "there, and what grad_fn does the result get?",
                    "再看看 torch.no_grad() 之下的那一行：autograd 在那里记录了什么？结果得到的是什么样的 grad_fn？",
                ),
            ),
        ),
    )
)


# --- Story 3: a recurrent state carried across chunks ----------------------------------------

CHUNK = 4  # time steps per chunk: the truncation length of backpropagation through time


def train_chunks(
    W: torch.Tensor,
    U: torch.Tensor,
    xs: torch.Tensor,
    ys: torch.Tensor,
    lr: float,
    *,
    state: str = "detach",
    retain: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A tanh RNN trained chunk by chunk; ``state`` says how h enters each chunk.

    "detach": its value, without its history (the fix); "carry": with its history (the bug);
    "reset": a fresh zero state; "every_step": detached at every time step."""
    W = W.detach().clone().requires_grad_(True)
    U = U.detach().clone().requires_grad_(True)
    optimizer = torch.optim.SGD([W, U], lr=lr)
    h = torch.zeros(W.shape[0], dtype=W.dtype)
    for chunk_x, chunk_y in zip(xs.split(CHUNK), ys.split(CHUNK), strict=True):
        if state == "detach":
            h = h.detach()
        elif state == "reset":
            h = torch.zeros_like(h)
        loss = 0.0
        for x, y in zip(chunk_x, chunk_y, strict=True):
            if state == "every_step":
                h = h.detach()
            h = torch.tanh(W @ h + U @ x)
            loss = loss + (h.sum() - y) ** 2
        optimizer.zero_grad()
        loss.backward(retain_graph=retain)
        optimizer.step()
    return W.detach(), U.detach()


def _rnn_args(gen: torch.Generator) -> tuple:
    d, k = random_size(gen, 2, 5), random_size(gen, 1, 4)
    steps = CHUNK * random_size(gen, 2, 5)
    lr = 0.01 + 0.04 * float(torch.rand(1, generator=gen, dtype=torch.float64))
    return _randn(gen, d, d) * 0.5, _randn(gen, d, k), _randn(gen, steps, k), _randn(gen, steps), lr


register(
    Exercise(
        id="debugging.detached_state",
        title=Msg(
            "Find it and fix it: backward through the graph a second time",
            "找出并修复：第二次对计算图做反向传播",
        ),
        make_args=_rnn_args,
        asks="debug",
        novel="truncated backpropagation through time without the second-backward error; the "
        "page shows the error and the growing graph, not the fix",
        reference=train_chunks,
        kind="tensors",
        output_names=("W", "U"),
        hints=(
            Msg(
                "Count the graph nodes behind h at the start of each chunk: the number grows. "
                "The second backward reaches into the first chunk's graph, which the first "
                "backward has already freed. Decide what h should bring into a new chunk.",
                "数一数每个块开始时 h 背后的计算图节点：这个数在增长。第二次反向传播伸进了第一个块的"
                "计算图，而那张图已经被第一次反向传播释放了。想清楚 h 应该把什么带进新的块。",
            ),
            Msg(
                "The state must keep its value from one chunk to the next (the sequence goes on), "
                "but not its history: the gradient of a chunk stops at the chunk's start. Cut "
                "the history once per chunk, before its first step; do not reset the value, and "
                "do not keep the old graphs alive.",
                "状态要把它的值从一个块带到下一个块（序列还在继续），但不能带上它的历史：一个块的梯度"
                "到块的起点为止。每个块只切断一次历史，在块的第一步之前；不要把值重置，"
                "也不要让旧的计算图继续活着。",
            ),
        ),
        mistakes=(
            Mistake(
                "still_raises",
                lambda W, U, xs, ys, lr: train_chunks(W, U, xs, ys, lr, state="carry", retain=True),
                Msg(
                    "your function still raises RuntimeError. If it says 'backward through the "
                    "graph a second time', h still carries the previous chunk's graph into the "
                    "new one. If it says 'modified by an inplace operation', retain_graph=True "
                    "kept that old graph alive, and optimizer.step() has since changed the "
                    "weights it saved. Either way, the state must enter each chunk without its "
                    "history.",
                    "你的函数仍然抛出 RuntimeError。如果报错说的是“backward through the graph a "
                    "second time”，说明 h 仍把上一个块的计算图带进了新的块；如果说的是“modified by "
                    "an inplace operation”，那是 retain_graph=True 让旧的计算图继续活着，而 "
                    "optimizer.step() 已经修改了这张图保存的权重。无论哪种情况，状态进入每个块时都"
                    "不能带着它的历史。",
                ),
                raises="RuntimeError",
            ),
            Mistake(
                "state_reset",
                lambda W, U, xs, ys, lr: train_chunks(W, U, xs, ys, lr, state="reset"),
                Msg(
                    "you start every chunk from a zero state: the error is gone, and so is what "
                    "the state carries from one chunk to the next. Keep its value; cut only its "
                    "history.",
                    "你让每个块都从零状态开始：报错没有了，状态从一个块带到下一个块的信息也没有了。"
                    "要保留它的值，只切断它的历史。",
                ),
            ),
            Mistake(
                "detached_every_step",
                lambda W, U, xs, ys, lr: train_chunks(W, U, xs, ys, lr, state="every_step"),
                Msg(
                    "you cut the state's history at every time step, so each gradient goes back "
                    "one step only. Cut it once per chunk: within a chunk, the gradient flows "
                    "through all its steps.",
                    "你在每个时间步都切断了状态的历史，于是每个梯度只能往回传一步。每个块只切断一次："
                    "在块内部，梯度要流过块里的所有时间步。",
                ),
            ),
        ),
    )
)


# --- Story 4: a loss curve that will not settle -----------------------------------------------

STEPS = 20


def losses_of(
    X: torch.Tensor, y: torch.Tensor, lr: float, *, reset: str = "before", scale: float = 1.0
) -> torch.Tensor:
    """The loss at each step of plain SGD on linear least squares.

    ``reset``: where ``optimizer.zero_grad()`` is called: "before" backward (the fix),
    "never" (the bug), "after_backward" (between backward and step)."""
    w = torch.zeros(X.shape[1], dtype=X.dtype, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=lr * scale)
    losses = []
    for _ in range(STEPS):
        if reset == "before":
            optimizer.zero_grad()
        loss = ((X @ w - y) ** 2).mean()
        loss.backward()
        if reset == "after_backward":
            optimizer.zero_grad()
        optimizer.step()
        losses.append(loss.item())
    return torch.tensor(losses, dtype=torch.float64)


def _regression_args(gen: torch.Generator) -> tuple:
    n, d = random_size(gen, 16, 40), random_size(gen, 2, 5)
    X = _randn(gen, n, d)
    y = X @ _randn(gen, d) + 0.1 * _randn(gen, n)
    lr = 0.05 + 0.05 * float(torch.rand(1, generator=gen, dtype=torch.float64))
    return X, y, lr


register(
    Exercise(
        id="debugging.zero_grad",
        title=Msg(
            "Find it and fix it: a loss curve that will not settle",
            "找出并修复：降不下来的损失曲线",
        ),
        make_args=_regression_args,
        asks="debug",
        novel="the bug behind a loss curve that swings back up, found from gradient norms",
        reference=losses_of,
        hints=(
            Msg(
                "Log the norm of w.grad at every step beside the loss. Near a minimum the "
                "gradient should shrink; ask what keeps it large, and what .grad holds when "
                "backward() runs.",
                "在每一步把 w.grad 的范数和损失一起写日志。接近最小值时梯度应当变小；想一想是什么让它一直很大，"
                "以及 backward() 运行时 .grad 里装着什么。",
            ),
            Msg(
                "backward() adds into .grad; it never replaces what is there. Each step must "
                "start from no gradient, before the new backward, and step() must still see the "
                "new gradient. A smaller learning rate only slows the same mistake down.",
                "backward() 是把梯度累加到 .grad 上，从不替换已有的值。每一步都必须在新的 backward "
                "之前从没有梯度的状态开始，而 step() 仍要看到新算出的梯度。调小学习率只会让同一个错误变慢。",
            ),
        ),
        mistakes=(
            Mistake(
                "still_accumulating",
                lambda X, y, lr: losses_of(X, y, lr, reset="never"),
                Msg(
                    "your losses are the broken loop's: the gradients still add up from step to "
                    "step, so each step pushes with the sum of every gradient so far.",
                    "你的损失与出错的循环完全一样：梯度仍在一步步累加，于是每一步都按至今所有梯度之和去更新。",
                ),
            ),
            Mistake(
                "lower_lr",
                lambda X, y, lr: losses_of(X, y, lr, reset="never", scale=0.1),
                Msg(
                    "you lowered the learning rate: the curve is smoother, but the gradients still "
                    "add up from step to step and the loss still swings back up. Find the cause "
                    "instead of slowing it down.",
                    "你调小了学习率：曲线平滑了一些，但梯度仍在一步步累加，损失仍会反弹回去。"
                    "要找出原因，而不是把它放慢。",
                ),
            ),
            Mistake(
                "reset_before_step",
                lambda X, y, lr: losses_of(X, y, lr, reset="after_backward"),
                Msg(
                    "your loss never changes: zero_grad() runs between backward() and step(), so "
                    "step() finds no gradient at all.",
                    "你的损失始终不变：zero_grad() 夹在 backward() 和 step() 之间，step() 根本找不到梯度。",
                ),
            ),
        ),
    )
)
