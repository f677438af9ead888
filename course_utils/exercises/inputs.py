"""Building blocks for exercises' random inputs, shared by the lesson modules."""

from __future__ import annotations

import torch

from course_utils.objects import NamedFunction

__all__ = ["NamedFunction", "random_size"]


def random_size(gen: torch.Generator, low: int = 1, high: int = 7) -> int:
    """A length in [low, high), drawn from ``gen``."""
    return int(torch.randint(low, high, (1,), generator=gen))
