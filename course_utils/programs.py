"""Lesson 8's programs: a tiny language of scalar expressions, and a way to run one.

An expression is a *program*: a tuple of instructions. Nodes 0 … n−1 are the leaves
x0 … x(n−1); instruction k creates node n + k from earlier nodes:

    ("add", i, j)  ("sub", i, j)  ("mul", i, j)  ("div", i, j)   binary; an operand that is
                                                                 a float (not an int) is a constant
    ("neg", i)  ("pow", i, k)  ("tanh", i)  ("relu", i)          k is the number 2 or 3

The result is the last node. The lesson runs a program with torch tensors to compare with the
learner's ``Value`` class; the references that differentiate it stay with the grader.
"""

from __future__ import annotations

import math

import torch

ARITHMETIC = ("add", "sub", "mul", "div", "neg", "pow")
ALL_OPS = (*ARITHMETIC, "tanh", "relu")
BINARY = ("add", "sub", "mul", "div")
MAX_ABS = 30.0  # every node stays this small, so no gradient explodes
MIN_DENOMINATOR = 0.4
MIN_RELU_INPUT = 1e-3  # relu'(0) is a convention; keep away from it


def run_program(leaves: list, program) -> object:
    """Evaluate ``program`` on ``leaves`` (Values, tensors or floats); return the last node."""
    nodes = list(leaves)

    def arg(a):
        return nodes[a] if isinstance(a, int) else a

    for op, *args in program:
        if op == "add":
            out = arg(args[0]) + arg(args[1])
        elif op == "sub":
            out = arg(args[0]) - arg(args[1])
        elif op == "mul":
            out = arg(args[0]) * arg(args[1])
        elif op == "div":
            out = arg(args[0]) / arg(args[1])
        elif op == "neg":
            out = -arg(args[0])
        elif op == "pow":
            out = arg(args[0]) ** args[1]
        elif op == "tanh":
            out = arg(args[0]).tanh()
        elif op == "relu":
            out = arg(args[0]).relu()
        else:
            raise ValueError(f"unknown operation {op!r}")
        nodes.append(out)
    return nodes[-1]


def show_program(program, n_leaves: int) -> str:
    """The program as readable lines, e.g. ``v2 = x0 * x1``."""
    names = [f"x{i}" for i in range(n_leaves)]

    def name(a):
        return names[a] if isinstance(a, int) else f"{a:g}"

    symbols = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
    lines = []
    for op, *args in program:
        target = f"v{len(names)}"
        if op in symbols:
            expr = f"{name(args[0])} {symbols[op]} {name(args[1])}"
        elif op == "neg":
            expr = f"-{name(args[0])}"
        elif op == "pow":
            expr = f"{name(args[0])} ** {args[1]}"
        else:
            expr = f"{op}({name(args[0])})"
        lines.append(f"{target} = {expr}")
        names.append(target)
    return "\n".join(lines)


def random_program(gen: torch.Generator, ops: tuple[str, ...], *, n_leaves=(2, 4), n_ops=(3, 8)):
    """Random leaves and a random program over ``ops`` whose values stay well-behaved."""

    def randint(low: int, high: int) -> int:
        return int(torch.randint(low, high + 1, (1,), generator=gen))

    def uniform(low: float, high: float) -> float:
        return low + (high - low) * float(torch.rand(1, generator=gen))

    n = randint(*n_leaves)
    leaves = [round(uniform(-2, 2), 3) for _ in range(n)]
    leaves = [x if abs(x) > 0.05 else 0.5 for x in leaves]
    values = list(leaves)
    program = []
    for _ in range(randint(*n_ops)):
        for _attempt in range(30):
            op = ops[randint(0, len(ops) - 1)]
            # favour recent nodes so the expression is deep, but allow any (nodes get reused)
            recent = max(0, len(values) - 3)
            i = randint(recent, len(values) - 1) if randint(0, 1) else randint(0, len(values) - 1)
            if op in BINARY:
                j = randint(0, len(values) - 1)
                operands: list = [i, j]
                if randint(0, 3) == 0:  # a Python number on one side
                    const = round(uniform(-3, 3) * 2) / 2 or 1.5
                    operands[randint(0, 1)] = float(const)
                a, b = (values[o] if isinstance(o, int) else o for o in operands)
                if op == "div" and abs(b) < MIN_DENOMINATOR:
                    continue
                instr = (op, *operands)
                value = (
                    a + b
                    if op == "add"
                    else a - b
                    if op == "sub"
                    else a * b
                    if op == "mul"
                    else a / b
                )
            elif op == "pow":
                k = randint(2, 3)
                instr, value = ("pow", i, k), values[i] ** k
            elif op == "neg":
                instr, value = ("neg", i), -values[i]
            elif op == "tanh":
                instr, value = ("tanh", i), math.tanh(values[i])
            else:
                if abs(values[i]) < MIN_RELU_INPUT:
                    continue
                instr, value = ("relu", i), max(values[i], 0.0)
            if abs(value) <= MAX_ABS:
                break
        else:  # nothing fitted: halve the last node
            instr, value = ("mul", 0.5, len(values) - 1), 0.5 * values[-1]
        program.append(instr)
        values.append(value)
    # add every node nobody used into the result, so that the whole graph matters
    for node in range(len(values) - 1):
        if node not in _operands(program):
            program.append(("add", len(values) - 1, node))
            values.append(values[-1] + values[node])
    return torch.tensor(leaves, dtype=torch.float64), tuple(program)


def _operands(program) -> set[int]:
    """The nodes that some instruction reads (a pow's exponent is a number, not a node)."""
    found = set()
    for op, *args in program:
        found.update(a for a in (args[:1] if op == "pow" else args) if isinstance(a, int))
    return found
