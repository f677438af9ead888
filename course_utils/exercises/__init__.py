"""The course's graded exercises: random inputs, torch references, bilingual hints.

Each lesson has one module here that registers its exercises. An exercise is a
function the learner writes; :func:`check` calls it on random inputs and compares
the result with a reference computed by torch (usually by autograd itself), so a
hard-coded answer cannot pass.

The grader never runs :func:`check`, and this package is not even importable in a grading
kernel: the grader draws the inputs from a seed of its own, sends them to the learner's
function (``course_utils.harness``) and compares what it returned with these references in
its own process (``autograder.grading.preprocessors.VerifyAnswers``).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import importlib
import pkgutil
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from course_utils.checks import CheckFailure, check_tensor, check_value
from course_utils.harness import (  # noqa: F401  (re-exported: the grader reads them here)
    ANSWER_MIME,
    argument_names,
    decode,
    encode,
    same_randomness,
)
from course_utils.i18n import Msg, say
from course_utils.rules import (  # noqa: F401  (the exercise modules import them from here)
    AUTOGRAD,
    BY_HAND,
    COURSE_REFERENCE,
    DYNAMIC_CODE,
    EVERY_EXERCISE,
    FINITE_DIFFERENCES,
    NOT_ALLOWED,
    OPTIM,
    READY_MADE,
    TAMPER,
    TORCH_FUNC,
)
from course_utils.variants import Family, learner_id, variant


@dataclass(frozen=True)
class Mistake:
    """A plausible wrong answer, kept next to its exercise as data.

    ``answer`` computes what that mistake returns (same signature as the learner's
    function); when a learner's answer equals it, :func:`diagnose` names the mistake with
    ``msg``. ``raises`` instead names the exception type the mistake ends in (matched by
    name, so that the grader can match it too). ``tests/test_wrong_answers.py`` runs every
    catalogued mistake through :func:`check` and asserts that ``msg`` is what it gets.
    """

    name: str
    answer: Callable[..., Any]
    msg: Msg
    raises: str | None = None


@dataclass(frozen=True)
class Variant:
    """What one member of an exercise family changes: its reference, and the wrong answers
    that only make sense for it (each :class:`Mistake`'s ``answer`` computes that member's
    wrong value). The member's display (its formula) is the matching entry of the family's
    :class:`~course_utils.variants.Family`, which a learner's kernel can read; this, never."""

    reference: Callable[..., Any]
    mistakes: tuple[Mistake, ...] = ()
    diagnoses: tuple[tuple[Callable[[tuple, Any], bool], Msg], ...] = ()


# What an exercise asks of the learner (``Exercise.asks``), in the order docs/EXERCISES.md uses.
# "transcribe": copy a formula or code shown on the page, or follow steps the prompt dictates.
ASKS = ("derive", "predict", "debug", "build", "transcribe")
THINKING = ("derive", "predict", "debug", "build")


@dataclass(frozen=True)
class Exercise:
    """One graded exercise.

    ``make_args(gen)`` builds random inputs from a ``torch.Generator``;
    ``reference(*args)`` computes the right answer with torch; ``kind`` says how the
    answer is compared: ``"tensor"``, ``"tensors"`` (a tuple of tensors) or ``"value"``
    (a Python number or bool). ``edge_cases()`` lists extra inputs the hidden test adds.
    ``no_graph`` asks tensor answers to be outside any computational graph
    (``requires_grad`` False, no ``grad_fn``). ``forbids`` names the means the exercise
    does not accept (:data:`BY_HAND` for a derivation by hand); every exercise also forbids
    :data:`~course_utils.rules.EVERY_EXERCISE`. ``derives`` (by default: when autograd is
    forbidden) marks an exercise whose answer is a derivative, where a finite difference does
    not count; ``engine`` one that the learner answers with their own autograd engine, whose
    ``.backward`` is theirs.

    Hints come in tiers, ``hints``: the first failure shows ``hints[0]`` (a conceptual
    nudge), later failures in the same kernel, or :func:`more_help`, the stronger ones; no
    tier prints the answer's formula or code. ``hint`` (one message) is still accepted and
    means ``hints=(hint,)``. ``mistakes`` catalogues plausible wrong answers
    (:class:`Mistake`); ``diagnoses`` adds ``(predicate(args, actual), Msg)`` pairs for
    mistakes that are a property of the answer rather than one value. Both run before the
    generic comparison's message, so a recognised mistake is named first.

    ``asks`` says what the exercise asks (:data:`ASKS`: derive, predict, debug, build or
    transcribe) and ``novel``, in one line, what it asks that the page does not show;
    docs/EXERCISES.md lists both for every graded exercise (``course exercises``).

    A *family* (``family`` and ``variants``) gives each learner a member of their own,
    :func:`course_utils.variants.variant` of their learner id: ``variants[k]`` holds member
    ``k``'s reference and its own mistakes (:class:`Variant`), ``family`` what each member is
    for display. ``mistakes`` and ``diagnoses`` are then those every member shares, and
    ``reference`` is left out. :meth:`for_learner` gives the exercise one learner answers;
    the exercise as registered is member 0. An answer right for another member than the
    learner's fails, and says so (:func:`other_variant`).

    A prediction (``prediction=True``) is told how many of its items are wrong, never which.
    So every check asks all of them, visible or hidden, in the kernel and in the grader:
    ``items()`` lists them (by default: every input ``make_args`` draws from 256 fixed seeds).
    """

    id: str
    title: Msg
    make_args: Callable[[torch.Generator], tuple]
    reference: Callable[..., Any] | None = None
    hint: Msg | None = None
    kind: str = "tensor"
    trials: int = 3
    hidden_trials: int = 8
    edge_cases: Callable[[], list[tuple]] = field(default=lambda: [])
    output_names: tuple[str, ...] = ()
    rtol: float = 1e-4
    atol: float = 1e-5
    no_graph: bool = False
    forbids: frozenset[str] = frozenset()
    hints: tuple[Msg, ...] = ()
    mistakes: tuple[Mistake, ...] = ()
    diagnoses: tuple[tuple[Callable[[tuple, Any], bool], Msg], ...] = ()
    derives: bool | None = None
    engine: bool = False
    prediction: bool = False
    process: tuple[str, ...] = ()
    asks: str = "transcribe"
    novel: str = ""
    items: Callable[[], list[tuple]] | None = None
    family: Family | None = None
    variants: tuple[Variant, ...] = ()
    member: int | None = None

    def __post_init__(self) -> None:
        # Every exercise forbids the course's own code, code built from strings and code that
        # reaches into the kernel; a derivation by hand may use only an allowlist, and no
        # finite difference where a derivative is asked (rules.NOT_ALLOWED, FINITE_DIFFERENCES).
        forbids = set(self.forbids) | EVERY_EXERCISE
        if AUTOGRAD in forbids:
            forbids.add(NOT_ALLOWED)
        if self.derives is None:
            object.__setattr__(self, "derives", AUTOGRAD in forbids)
        if self.derives:
            forbids.add(FINITE_DIFFERENCES)
        object.__setattr__(self, "forbids", frozenset(forbids))
        unknown = set(self.process) - set(PROCESS)
        if unknown:
            raise ValueError(f"exercise {self.id!r}: unknown process {sorted(unknown)}")
        if not self.hints:
            if self.hint is None:
                raise ValueError(f"exercise {self.id!r} needs `hints` (or `hint`)")
            object.__setattr__(self, "hints", (self.hint,))
        elif self.hint is None:
            object.__setattr__(self, "hint", self.hints[0])
        if self.asks not in ASKS:
            raise ValueError(f"exercise {self.id!r}: asks {self.asks!r}, not one of {ASKS}")
        if self.prediction and self.asks == "transcribe":
            object.__setattr__(self, "asks", "predict")
        self._make_family()
        if self.reference is None:
            raise ValueError(f"exercise {self.id!r} needs a `reference` (or `variants`)")
        names = [m.name for m in self.mistakes]
        if len(set(names)) != len(names):
            raise ValueError(f"exercise {self.id!r} lists a mistake twice: {names}")

    def _make_family(self) -> None:
        """A new family is its member 0: that member's reference and mistakes added."""
        if bool(self.variants) != (self.family is not None):
            raise ValueError(f"exercise {self.id!r}: a family needs both `family` and `variants`")
        if not self.variants or self.member is not None:
            return
        if len(self.family) != len(self.variants):
            raise ValueError(
                f"exercise {self.id!r}: family {self.family.name!r} shows {len(self.family)} "
                f"members, `variants` grades {len(self.variants)}"
            )
        if self.reference is not None:
            raise ValueError(f"exercise {self.id!r}: a family's references are its `variants`")
        first = self.variants[0]
        object.__setattr__(self, "member", 0)
        object.__setattr__(self, "reference", first.reference)
        object.__setattr__(self, "mistakes", self.mistakes + first.mistakes)
        object.__setattr__(self, "diagnoses", self.diagnoses + first.diagnoses)

    def with_member(self, k: int) -> Exercise:
        """This family's member ``k`` (the exercise itself when it is no family)."""
        if not self.variants or k == self.member:
            return self
        mine = self.variants[self.member or 0]
        shared = tuple(m for m in self.mistakes if not any(m is n for n in mine.mistakes))
        shared_d = tuple(d for d in self.diagnoses if not any(d is e for e in mine.diagnoses))
        chosen = self.variants[k]
        return dataclasses.replace(
            self,
            member=k,
            reference=chosen.reference,
            mistakes=shared + chosen.mistakes,
            diagnoses=shared_d + chosen.diagnoses,
        )

    def for_learner(self, learner: str | None = None) -> Exercise:
        """The exercise ``learner`` (default: this kernel's, ``learner_id()``) answers."""
        if not self.variants:
            return self
        return self.with_member(variant(self.family.name, len(self.variants), learner))

    def all_items(self) -> list[tuple]:
        """A prediction's items, each once, in a fixed order: what every check of it asks."""
        if self.items is not None:
            return [tuple(c) for c in self.items()]
        found: dict[str, tuple] = {repr(tuple(c)): tuple(c) for c in self.edge_cases()}
        for seed in range(256):
            args = self.args_for(seed, 0)
            found.setdefault(repr(args), args)
            if len(found) > 64:
                raise ValueError(
                    f"prediction {self.id!r} draws more than 64 different inputs: list its "
                    "items with `items=`"
                )
        return [found[k] for k in sorted(found)]

    def args_for(self, seed: int, trial: int) -> tuple:
        digest = hashlib.sha256(f"{seed}:{self.id}:{trial}".encode()).digest()
        gen = torch.Generator().manual_seed(int.from_bytes(digest[:8], "little"))
        return tuple(self.make_args(gen))

    def inputs(self, seed: int, hidden: bool) -> list[tuple]:
        if self.prediction:  # all of them, always: a count over a random few would tell which
            return self.all_items()
        n = self.hidden_trials if hidden else self.trials
        cases = [self.args_for(seed, t) for t in range(n)]
        if hidden:
            cases.extend(tuple(c) for c in self.edge_cases())
        return cases

    def compare(self, actual: Any, expected: Any) -> None:
        """Raise :class:`CheckFailure` if ``actual`` is not ``expected``, named by the title."""
        label = self.id.split(".")[-1]
        try:
            self._compare(actual, expected, label)
        except CheckFailure as failure:  # "✗ forward: …" reads "✗ The forward pass …: …"
            raise CheckFailure(
                Msg(
                    failure.msg.en.replace(f"✗ {label}:", f"✗ {self.title.en}:", 1),
                    failure.msg.zh.replace(f"✗ {label}：", f"✗ {self.title.zh}：", 1),
                )
            ) from None

    def _compare(self, actual: Any, expected: Any, label: str) -> None:
        if self.kind == "tensor":
            check_tensor(
                actual, expected, name=label, rtol=self.rtol, atol=self.atol, no_graph=self.no_graph
            )
        elif self.kind == "tensors":
            n = len(expected)
            if not isinstance(actual, (tuple, list)) or len(actual) != n:
                raise CheckFailure(
                    Msg(
                        f"✗ {label}: expected a tuple of {n} tensors, got {type(actual).__name__}"
                        + (f" of length {len(actual)}" if isinstance(actual, (tuple, list)) else "")
                        + ".",
                        f"✗ {label}：应返回包含 {n} 个张量的元组，实际得到 {type(actual).__name__}"
                        + (f"（长度 {len(actual)}）" if isinstance(actual, (tuple, list)) else "")
                        + "。",
                    )
                )
            names = self.output_names or tuple(f"{label}[{i}]" for i in range(n))
            for got, want, part in zip(actual, expected, names, strict=True):
                check_tensor(
                    got, want, name=part, rtol=self.rtol, atol=self.atol, no_graph=self.no_graph
                )
        elif self.kind == "value":
            check_value(actual, expected, name=label, rel_tol=self.rtol)
        else:
            raise ValueError(f"unknown exercise kind {self.kind!r}")


# What the grader observes of how an answer ran (course_utils.rules.Watch.observed, one dict per
# call), where the value alone could come from another way than the one asked for. Each entry:
# a test of one call's observation, and what a learner is told when it fails.
PROCESS: dict[str, tuple[Callable[[dict], bool], Msg]] = {
    "no_graph_in_forward": (
        lambda o: bool(o["forward_grad"]) and not any(o["forward_grad"]),
        Msg(
            "the model ran its forward pass while autograd was recording a graph. The exercise "
            "asks for no graph at all (under torch.no_grad()), not for a graph thrown away "
            "afterwards with .detach(): the values are the same, the memory and time are not.",
            "模型在 autograd 记录计算图时执行了前向传播。这道练习要求根本不建计算图"
            "（在 torch.no_grad() 之下运行），而不是事后用 .detach() 丢掉计算图：数值一样，"
            "但内存和时间的开销不一样。",
        ),
    ),
    "optimizer_trainable_only": (
        lambda o: not o["optimizer_frozen"],
        Msg(
            "your optimizer held frozen parameters when it stepped. Freeze first, then give the "
            "optimizer only the parameters that still require gradients: the values happen to "
            "agree here, but the optimizer keeps state for parameters it should never touch.",
            "你的优化器在更新时持有被冻结的参数。应当先冻结，再只把仍然需要梯度的参数交给优化器："
            "这里数值碰巧一致，但优化器会为它根本不该碰的参数保存状态。",
        ),
    ),
    "two_engine_runs": (
        lambda o: o["engine_runs"] <= 2,
        Msg(
            "your function ran autograd's backward pass more than twice for one product. "
            "A Hessian-vector product needs two passes whatever the size of x; building the "
            "Hessian row by row is what this exercise asks you to avoid.",
            "你的函数为一个乘积运行了两次以上的反向传播。无论 x 有多大，海森矩阵-向量积都只需要"
            "两次反向传播；逐行构造整个海森矩阵正是这道练习要你避免的。",
        ),
    ),
    "with_a_hook": (
        lambda o: o["hooks"] >= 1,
        Msg(
            "your function registered no hook. The exercise asks you to change the gradient on "
            "its way back with register_hook, not to compute the clipped result another way.",
            "你的函数没有注册任何钩子。这道练习要求用 register_hook 在梯度回传的途中修改它，"
            "而不是用别的办法算出裁剪后的结果。",
        ),
    ),
    "with_your_engine": (
        lambda o: o["own_backward"] >= 1,
        Msg(
            "your own engine's backward() never ran. The exercise asks for the gradients from "
            "your Value class, not from formulas written around it.",
            "你自己引擎的 backward() 一次也没有运行。这道练习要求梯度来自你的 Value 类，"
            "而不是绕开它另写的公式。",
        ),
    ),
}


def process_problem(exercise: Exercise, observed: object) -> Msg | None:
    """What is wrong with how the answer ran (``observed``: one dict per call), if anything."""
    if not exercise.process:
        return None
    calls = observed if isinstance(observed, list) else []
    for name in exercise.process:
        test, why = PROCESS[name]
        for call in calls or [None]:
            try:
                ok = isinstance(call, dict) and bool(test(call))
            except Exception:  # a record the kernel mangled
                ok = False
            if not ok:
                return Msg(f"✗ {exercise.title.en}: {why.en}", f"✗ {exercise.title.zh}：{why.zh}")
    return None


_REGISTRY: dict[str, Exercise] = {}
_LOADED = False


def register(exercise: Exercise) -> Exercise:
    if exercise.id in _REGISTRY and _REGISTRY[exercise.id] is not exercise:
        raise ValueError(f"exercise {exercise.id!r} is registered twice")
    _REGISTRY[exercise.id] = exercise
    return exercise


def _load_all() -> None:
    global _LOADED
    if not _LOADED:
        for info in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{info.name}")
        _LOADED = True


def get(exercise_id: str) -> Exercise:
    _load_all()
    try:
        return _REGISTRY[exercise_id]
    except KeyError:
        raise KeyError(f"no exercise {exercise_id!r}; known: {sorted(_REGISTRY)}") from None


def all_exercises() -> dict[str, Exercise]:
    _load_all()
    return dict(_REGISTRY)


def _describe_args(args: tuple, names: tuple[str, ...] | list[str] = ()) -> str:
    """The inputs by name, with shapes: ``x (4, 1) = [0.1, -2, …]; lr = 0.05``."""
    parts = []
    for i, a in enumerate(args):
        name = names[i] if i < len(names) else f"#{i + 1}"
        if isinstance(a, torch.Tensor):
            vals = ", ".join(f"{v:.4g}" for v in a.detach().reshape(-1)[:4].double().tolist())
            more = ", …" if a.numel() > 4 else ""
            parts.append(
                f"{name} {tuple(a.shape)} = [{vals}{more}]" if a.dim() else f"{name} = {vals}"
            )
        elif isinstance(a, torch.nn.Module):
            parts.append(f"{name} = {type(a).__name__}")
        else:
            parts.append(f"{name} = {repr(a)[:80]}")  # room for a test function's formula
    return "; ".join(parts)


def evaluate(
    exercise: Exercise, answer: Callable, args: tuple, watch: Any = None
) -> tuple[Any, BaseException | None]:
    """Call the learner's function on a private copy of ``args`` (recorded by ``watch``)."""
    try:
        args = copy.deepcopy(args)
        with same_randomness():
            return (watch.call(answer, args) if watch is not None else answer(*args)), None
    except Exception as exc:  # the learner's code may raise anything
        return None, exc


def _in_graph(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return bool(torch.Tensor.requires_grad.__get__(value))
    if isinstance(value, (tuple, list)):
        return any(_in_graph(v) for v in value)
    return False


def _detached(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return torch.Tensor.detach(value)
    if isinstance(value, (tuple, list)):
        return type(value)(_detached(v) for v in value)
    return value


def _both_nan(a: Any, b: Any) -> bool:
    return isinstance(a, float) and isinstance(b, float) and a != a and b != b


def _is_mistake(exercise: Exercise, mistake: Mistake, args: tuple, actual: Any) -> bool:
    """Whether ``actual`` is what ``mistake`` returns on ``args`` (graph or not included)."""
    try:
        with same_randomness():
            wrong = mistake.answer(*copy.deepcopy(args))
        if exercise.no_graph:
            if _in_graph(actual) != _in_graph(wrong):
                return False
            actual, wrong = _detached(actual), _detached(wrong)
        if _both_nan(actual, wrong):  # the same answer, though nan != nan
            return True
        exercise.compare(actual, wrong)
    except Exception:  # CheckFailure: not this mistake; anything else: it does not apply
        return False
    return True


def named_mistake(
    exercise: Exercise,
    args: tuple,
    actual: Any,
    error: BaseException | None,
    history: list[tuple[tuple, Any]] | tuple = (),
) -> Mistake | None:
    """The catalogued mistake a wrong answer (or error) is, if it is one of them.

    ``history`` holds the answers on the other inputs, ``(args, actual)``: where one input
    cannot tell two mistakes apart (a True that two wrong rules both give), the mistake that
    explains every answer is named.
    """
    if error is not None:
        kind = type(error).__name__
        if kind == "RuntimeError" and str(error).isidentifier():  # the grader's stand-in
            kind = str(error)
        for mistake in exercise.mistakes:
            if mistake.raises is not None and mistake.raises == kind:
                return mistake
        return None
    for predicate, msg in exercise.diagnoses:
        try:
            if predicate(args, actual):
                return Mistake("diagnosis", predicate, msg)
        except Exception:  # a predicate may not apply to a malformed answer
            continue
    candidates = [
        m for m in exercise.mistakes if m.raises is None and _is_mistake(exercise, m, args, actual)
    ]
    for mistake in candidates:
        if all(_is_mistake(exercise, mistake, a, act) for a, act in history):
            return mistake
    return candidates[0] if candidates else None


def diagnose(
    exercise: Exercise,
    args: tuple,
    actual: Any,
    error: BaseException | None,
    level: int = 0,
    history: list[tuple[tuple, Any]] | tuple = (),
    *,
    names: tuple[str, ...] | list[str] = (),
    pointer: bool = True,
    learner: str | None = None,
) -> Msg | None:
    """None if the answer on ``args`` is right, else a bilingual explanation, verdict first.

    A recognised mistake is the first line (it is the hint that fits: no generic hint after
    it); an exception of the learner's own code gets no exercise hint either; any other wrong
    answer gets the hint of tier ``level``. The inputs follow, by name (``names``). ``pointer``:
    say where the next tier of hints is (not in the graded feedback, where no next try is).
    ``learner``: whose member of a family to judge (default: the exercise as given). A
    prediction is judged as :func:`first_problem_of` judges it: a count, never which item.
    """
    exercise = exercise.for_learner(learner) if learner is not None else exercise
    if exercise.prediction:  # one item: told as a count, never which, like all of them
        found = first_problem_of(exercise, [(args, actual, error)], level, pointer=pointer)
        return None if found is None else found[0]
    return _diagnose_one(exercise, args, actual, error, level, history, names, pointer)


def _diagnose_one(
    exercise: Exercise,
    args: tuple,
    actual: Any,
    error: BaseException | None,
    level: int,
    history: list[tuple[tuple, Any]] | tuple,
    names: tuple[str, ...] | list[str],
    pointer: bool,
) -> Msg | None:
    title = exercise.title
    if isinstance(error, NotImplementedError):
        return Msg(
            f"✗ {title.en}: not answered yet: replace `raise NotImplementedError()` with your code.",
            f"✗ {title.zh}：还没有作答：请把 `raise NotImplementedError()` 换成你的代码。",
        )
    inputs = Msg(
        f"  input: {_describe_args(args, names)}", f"  输入：{_describe_args(args, names)}"
    )
    if error is not None:
        what = Msg(
            f"✗ {title.en}: your function raised {type(error).__name__}: {error}",
            f"✗ {title.zh}：你的函数抛出了 {type(error).__name__}：{error}",
        )
        mistake = named_mistake(exercise, args, None, error)
        return what + mistake.msg + inputs if mistake is not None else what + inputs
    expected = exercise.reference(*copy.deepcopy(args))
    try:
        exercise.compare(actual, expected)
    except CheckFailure as failure:
        mistake = named_mistake(exercise, args, actual, None, history)
        if mistake is None:
            return failure.msg + inputs + hint_of(exercise, level, pointer=pointer)
        detail = Msg(
            _indent(failure.msg.en.replace(f"✗ {title.en}: ", "", 1)),
            _indent(failure.msg.zh.replace(f"✗ {title.zh}：", "", 1)),
        )
        head = Msg(f"✗ {title.en}: {mistake.msg.en}", f"✗ {title.zh}：{mistake.msg.zh}")
        return head + detail + inputs
    return None


def _indent(text: str) -> str:
    """A detail under the verdict: its own mark dropped, indented."""
    return "\n".join("  " + line.removeprefix("✗ ") for line in text.splitlines())


def hint_of(exercise: Exercise, level: int = 0, *, pointer: bool = True) -> Msg:
    """The hint of tier ``level`` (clamped), labelled, with a pointer to the next tier."""
    hints = exercise.hints
    level = max(0, min(level, len(hints) - 1))
    text = hints[level]
    if len(hints) == 1:
        return Msg(f"Hint: {text.en}", f"提示：{text.zh}")
    label = Msg(f"Hint {level + 1}/{len(hints)}: ", f"提示 {level + 1}/{len(hints)}：")
    msg = Msg(label.en + text.en, label.zh + text.zh)
    if pointer and level + 1 < len(hints):
        msg = msg + Msg(
            f'(A stronger hint comes with your next attempt, or now: more_help("{exercise.id}").)',
            f'（再试一次会给出更具体的提示，也可以现在就运行 more_help("{exercise.id}")。）',
        )
    return msg


# Failed checks per exercise in this kernel: the more attempts, the stronger the hint.
_FAILURES: dict[str, int] = {}
# After this many failed checks of a prediction in one kernel, check() says only "not yet".
MAX_PREDICTION_CHECKS = 3


def answers_from_record(
    cases: list[tuple], outcomes: object
) -> list[tuple[tuple, Any, BaseException | None]] | None:
    """``(args, answer, error)`` per input, rebuilt from encoded answers; None if incomplete.

    An error is known only by its type's name: a stub's is a real ``NotImplementedError``
    (so that it reads as "not answered"), any other a ``RuntimeError`` named after it."""
    if not isinstance(outcomes, list) or len(outcomes) != len(cases):
        return None
    answered: list[tuple[tuple, Any, BaseException | None]] = []
    for args, outcome in zip(cases, outcomes, strict=True):
        if isinstance(outcome, dict) and outcome.get("t") == "error":
            name = str(outcome.get("type", "Exception"))[:60]
            error: BaseException = (
                NotImplementedError() if name == "NotImplementedError" else RuntimeError(name)
            )
            answered.append((args, None, error))
        else:
            answered.append((args, decode(outcome), None))
    return answered


def first_problem_of(
    exercise: Exercise,
    answered: list[tuple[tuple, Any, BaseException | None]],
    level: int = 0,
    *,
    counted: bool = True,
    names: tuple[str, ...] | list[str] = (),
    pointer: bool = True,
    learner: str | None = None,
) -> tuple[Msg, BaseException | None] | None:
    """The problem to tell about answers ``(args, actual, error)``, with the error behind it.

    All answers first, then the diagnosis: a mistake is named by what explains all of them. A
    prediction (``Exercise.prediction``) is told how many of its items are wrong, never which
    (``counted=False``: not even how many). ``learner``: whose member of a family to judge
    (default: the exercise as given); answers right for another member say so.
    """
    exercise = exercise.for_learner(learner) if learner is not None else exercise
    found = _first_problem(exercise, answered, level, counted, names, pointer)
    if found is None or isinstance(found[1], NotImplementedError):
        return found
    other = other_variant(exercise, answered)
    if other is not None:
        return other_variant_message(exercise, learner), None
    return found


def _first_problem(
    exercise: Exercise,
    answered: list[tuple[tuple, Any, BaseException | None]],
    level: int,
    counted: bool,
    names: tuple[str, ...] | list[str],
    pointer: bool,
) -> tuple[Msg, BaseException | None] | None:
    history = [(args, actual) for args, actual, error in answered if error is None]
    if not exercise.prediction:
        for args, actual, error in answered:
            problem = _diagnose_one(exercise, args, actual, error, level, history, names, pointer)
            if problem is not None:
                return problem, error
        return None
    wrong: dict[str, bool] = {}
    first: tuple[tuple, Any, BaseException | None] | None = None
    for args, actual, error in answered:
        if isinstance(error, NotImplementedError):
            return _diagnose_one(exercise, args, actual, error, 0, (), (), pointer), error
        bad = _diagnose_one(exercise, args, actual, error, level, history, (), pointer) is not None
        key = repr(tuple(args))
        wrong[key] = wrong.get(key, False) or bad
        if bad and first is None:
            first = (args, actual, error)
    if first is None:
        return None
    k, n = sum(wrong.values()), len(wrong)
    if counted:
        told = Msg(
            f"✗ {exercise.title.en}: {k} of the {n} predictions checked here "
            f"{'is' if k == 1 else 'are'} wrong. Which ones is for you to find: derive each again.",
            f"✗ {exercise.title.zh}：这里检查的 {n} 个预测中有 {k} 个不对。"
            "具体是哪几个需要你自己找出来：把每一个重新推导一遍。",
        )
    else:
        told = Msg(
            f"✗ {exercise.title.en}: not all right yet. You have checked this prediction "
            f"{MAX_PREDICTION_CHECKS} times in this kernel, so from now on the check says only "
            "right or not: derive the rest before you check again.",
            f"✗ {exercise.title.zh}：还没有全部正确。你在这个内核里已经检查了 "
            f"{MAX_PREDICTION_CHECKS} 次这道预测题，所以之后只会告诉你对或不对："
            "请先把其余的推导完，再来检查。",
        )
    # A catalogued mistake of a prediction is a misconception, named only when it explains
    # every answer: one that fits the first wrong item alone would tell which item that is.
    every_item = {repr(tuple(args)) for args in exercise.all_items()}
    whole = len(history) == len(answered) and every_item <= set(wrong)
    for mistake in exercise.mistakes if counted and whole else ():
        if mistake.raises is None and all(
            _is_mistake(exercise, mistake, a, act) for a, act in history
        ):
            told = told + mistake.msg
            break
    return told + hint_of(exercise, level, pointer=pointer), first[2]


def _right_for(exercise: Exercise, args: tuple, actual: Any) -> bool:
    try:
        exercise.compare(actual, exercise.reference(*copy.deepcopy(args)))
    except Exception:  # CheckFailure, or a reference that does not apply to this answer
        return False
    return True


def other_variant(
    exercise: Exercise, answered: list[tuple[tuple, Any, BaseException | None]]
) -> int | None:
    """The member of the exercise's family, not its own, that every answer is right for.

    Only a learner who copied another's answers (or worked on another's function) gets
    every answer of another member right and none of their own; an error is no copy."""
    if len(exercise.variants) < 2 or not answered:
        return None
    if any(error is not None for _, _, error in answered):
        return None
    for k in range(len(exercise.variants)):
        if k == exercise.member:
            continue
        other = exercise.with_member(k)
        if all(_right_for(other, args, actual) for args, actual, _ in answered):
            return k
    return None


def other_variant_message(exercise: Exercise, learner: str | None = None) -> Msg:
    """What an answer for another member than the learner's is told."""
    who = learner_id() if learner is None else learner
    return Msg(
        f"✗ {exercise.title.en}: this answers another variant than yours. Each learner has "
        f"their own variant of this exercise, chosen from their learner id (here {who!r}), and "
        "your answers are right for another learner's variant, not for the one shown to you "
        "above the exercise. Answer your own.",
        f"✗ {exercise.title.zh}：你回答的是别人的变体，不是你自己的。每位学习者都有这道练习"
        f"自己的变体，由学习者 ID（这里是 {who!r}）决定；你的答案对另一位学习者的变体是对的，"
        "但对练习上方显示给你的那一个不对。请回答你自己的变体。",
    )


def more_help(exercise_id: str) -> None:
    """Print the stronger hints of one exercise (never its answer) and keep them for next time."""
    exercise = get(exercise_id)
    hints = exercise.hints
    if len(hints) == 1:
        say(hint_of(exercise))
        return
    for level in range(1, len(hints)):
        say(hint_of(exercise, level))
    _FAILURES[exercise_id] = max(_FAILURES.get(exercise_id, 0), len(hints) - 1)


def check(
    exercise_id: str, answer: Callable, *, hidden: bool = False, learner: str | None = None
) -> None:
    """Test the learner's ``answer`` for one exercise; raise CheckFailure with a diagnosis.

    This is the learner's own check, in their kernel, on fresh random inputs. The grader never
    calls it: it sends the learner's function its own inputs (``course_utils.harness``).
    ``learner``: whose member of a family (default: this kernel's, ``learner_id()``).
    """
    learner = learner_id() if learner is None else learner
    exercise = get(exercise_id).for_learner(learner)
    if not callable(answer):
        raise CheckFailure(
            Msg(
                f"✗ Expected a function for {exercise_id}, got {type(answer).__name__}.",
                f"✗ {exercise_id} 应当是一个函数，实际得到 {type(answer).__name__}。",
            )
        )
    seed = secrets.randbits(32)
    level = _FAILURES.get(exercise_id, 0)
    from course_utils import rules  # what the exercise forbids: see rules.py

    watch = rules.Watch(exercise.forbids, answer)
    answered = []
    for args in exercise.inputs(seed, hidden):
        actual, error = evaluate(exercise, answer, args, watch)
        answered.append((args, actual, error))
        if isinstance(error, NotImplementedError):
            break  # a stub: the other inputs tell nothing more
    tries = _FAILURES.get(exercise_id, 0)
    first_problem = first_problem_of(
        exercise,
        answered,
        level,
        counted=tries < MAX_PREDICTION_CHECKS,
        names=argument_names(answer),
        learner=learner,
    )
    used = watch.violations() + [u for u in rules.notebook_tampering() if u not in watch.uses]
    if used:  # the answer's values may be right, but not the way it got them
        raise CheckFailure(rules.message(exercise.title, used))
    if first_problem is None:
        process = process_problem(exercise, watch.observed)
        if process is not None:
            first_problem = (process, None)
    if first_problem is not None:
        problem, error = first_problem
        if not isinstance(error, NotImplementedError):  # a stub is no attempt
            _FAILURES[exercise_id] = _FAILURES.get(exercise_id, 0) + 1
        raise CheckFailure(problem) from error
    n = len(answered)
    from course_utils import feedback

    feedback.show_right(  # printed as say() prints it; in JupyterLab, with the block beside it
        Msg(
            f"✓ {exercise.title.en}: right on {n} random input(s).",
            f"✓ {exercise.title.zh}：{n} 组随机输入全部正确。",
        )
    )
