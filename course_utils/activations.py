"""Each learner's hidden activation for lesson 7's ∂L/∂W1 exercise (a variant family).

The network of lesson 7 uses tanh, whose derivative the page works out; the exercise asks for
∂L/∂W1 of the same network with another activation, one per learner, chosen from their learner
id (:mod:`course_utils.variants`). This module holds what each activation *is*, for the
notebook to show and to call; its derivative is the learner's to find and lives with the
references (``course_utils/exercises/forward_backward.py``), out of the kernel's reach.
"""

from __future__ import annotations

from course_utils.objects import NamedFunction
from course_utils.variants import Family

# The order is every learner's assignment (the grader reads the same table): append only.
ACTIVATIONS: tuple[NamedFunction, ...] = (
    NamedFunction("relu(z)", "torch.relu(x)"),
    NamedFunction("sigmoid(z)", "torch.sigmoid(x)"),
    NamedFunction("softplus(z)", "torch.nn.functional.softplus(x)"),
    NamedFunction("leaky_relu(z, 0.1)", "torch.nn.functional.leaky_relu(x, 0.1)"),
)

HIDDEN_ACTIVATION = Family(
    "backprop.hidden_activation",
    (
        r"h = \max(0,\ z) \qquad \texttt{torch.relu(z)}",
        r"h = \frac{1}{1 + e^{-z}} \qquad \texttt{torch.sigmoid(z)}",
        r"h = \log\left(1 + e^{z}\right) \qquad \texttt{F.softplus(z)}",
        r"h = \max(0.1\,z,\ z) \qquad \texttt{F.leaky\_relu(z, 0.1)}",
    ),
    params=tuple({"activation": f.name} for f in ACTIVATIONS),
)


def your_activation(learner: str | None = None) -> NamedFunction:
    """The learner's own hidden activation (by default, this kernel's learner's)."""
    return ACTIVATIONS[HIDDEN_ACTIVATION.index(learner)]
