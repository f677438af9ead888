"""Building blocks for exercises' random inputs, shared by the lesson modules."""

from __future__ import annotations

from collections.abc import Callable

import torch


def random_size(gen: torch.Generator, low: int = 1, high: int = 7) -> int:
    """A length in [low, high), drawn from ``gen``."""
    return int(torch.randint(low, high, (1,), generator=gen))


class NamedFunction:
    """A function handed to the learner, with a readable name (shown when a check fails)."""

    def __init__(self, name: str, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self.name = name
        self.fn = fn

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)

    def __repr__(self) -> str:
        return f"f(x) = {self.name}"
