"""Each learner's own member of an exercise family, chosen from their learner id.

The choice is computed the same way in the learner's kernel (to show them their function)
and in the grader's process (to compute the reference for the submission's student), so
it holds no answer: only which member of a family a learner gets.

The learner id is ``COURSE_LEARNER`` when set (the grader sets it to the nbgrader student id
in a grading kernel; anyone may set it by hand), else the JupyterHub user, else a fixed
default for studying alone. ``COURSE_VARIANTS=off`` gives everyone member 0; the course's
``COURSE_VARIANT_SEED`` (default: none) reshuffles who gets which member.

A :class:`Family` is the part a learner may see: what each member *is* (a formula, a
function), never what it answers. It lives in a module a learner's kernel can import; the
references of each member live with the exercise in ``course_utils/exercises/`` only
(``course_utils.exercises.Variant``).
"""

from __future__ import annotations

import hashlib
import importlib
import os
from dataclasses import dataclass
from typing import Any

from course_utils.i18n import Msg, current_lang

DEFAULT_LEARNER = "learner"
# Where the lessons declare their families, imported on the first show() of an unknown name.
FAMILIES_MODULE = "course_utils.families"


def learner_id() -> str:
    """Who this kernel works for: ``COURSE_LEARNER``, the JupyterHub user, or the default."""
    for name in ("COURSE_LEARNER", "JUPYTERHUB_USER"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return DEFAULT_LEARNER


def variants_on() -> bool:
    """False when the course turned variants off (everyone then gets member 0)."""
    return os.environ.get("COURSE_VARIANTS", "on").strip().lower() not in {
        "off",
        "0",
        "no",
        "false",
    }


def variant(family: str, count: int, learner: str | None = None) -> int:
    """The index in ``range(count)`` of ``learner``'s member of ``family`` (stable across runs)."""
    if count < 1:
        raise ValueError(f"a family needs at least one member, not {count}")
    if not variants_on():
        return 0
    who = learner_id() if learner is None else learner
    salt = os.environ.get("COURSE_VARIANT_SEED", "")
    digest = hashlib.sha256(f"{salt}\0{family}\0{who}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % count


def learner_for(family: str, member: int, count: int, prefix: str = "learner-") -> str:
    """A learner id that gets ``member`` of ``family`` (for tests and for an instructor's
    look at each member): the first of ``prefix0``, ``prefix1``, … that does."""
    if not 0 <= member < count:
        raise ValueError(f"member {member} is not in a family of {count}")
    if not variants_on():
        if member:
            raise ValueError("variants are off (COURSE_VARIANTS): everyone gets member 0")
        return f"{prefix}0"
    for i in range(100 * count + 1000):
        if variant(family, count, f"{prefix}{i}") == member:
            return f"{prefix}{i}"
    raise RuntimeError(f"no learner id found for member {member} of {family!r}")


@dataclass(frozen=True)
class Family:
    """What each member of an exercise family is, for display; no member's answer.

    ``members``: one per member, each a LaTeX formula (``r"Q = 2a^4 - 5b^2"``, shown as
    display maths in both languages), a :class:`~course_utils.i18n.Msg` (markdown, one text
    per language) or a :class:`~course_utils.objects.NamedFunction` (its name, as code).
    ``name`` is the family's key in :func:`variant`: the exercise that grades it uses the
    same family object, so the learner sees the member the grader checks. ``params``
    (optional, one dict per member) are the numbers a member is made of (``{"c": 2, "p":
    4}``): public like its formula, for a lesson's solution that must work for every member.
    """

    name: str
    members: tuple[Any, ...]
    params: tuple[dict[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if not self.members:
            raise ValueError(f"family {self.name!r} has no member")
        if self.params and len(self.params) != len(self.members):
            raise ValueError(f"family {self.name!r}: one dict of params per member")
        known = _FAMILIES.setdefault(self.name, self)
        if known._shown() != self._shown():
            raise ValueError(f"two different families are named {self.name!r}")

    def _shown(self) -> tuple[str, ...]:
        shown = tuple(_as_text(m, lang) for m in self.members for lang in ("en", "zh"))
        return shown + tuple(repr(sorted(p.items())) for p in self.params)

    def __len__(self) -> int:
        return len(self.members)

    def index(self, learner: str | None = None) -> int:
        """Which member ``learner`` (default: this kernel's learner) gets."""
        return variant(self.name, len(self.members), learner)

    def member(self, learner: str | None = None) -> Any:
        return self.members[self.index(learner)]

    def params_of(self, learner: str | None = None) -> dict[str, Any]:
        """The numbers ``learner``'s member is made of (empty when the family lists none)."""
        return dict(self.params[self.index(learner)]) if self.params else {}


_FAMILIES: dict[str, Family] = {}


def family(name: str) -> Family:
    """The family declared under ``name`` (in ``course_utils.families`` or any module
    imported so far)."""
    if name not in _FAMILIES:
        try:
            importlib.import_module(FAMILIES_MODULE)
        except ModuleNotFoundError as missing:
            if missing.name != FAMILIES_MODULE:
                raise
    try:
        return _FAMILIES[name]
    except KeyError:
        raise KeyError(f"no family {name!r}; known: {sorted(_FAMILIES)}") from None


def _as_text(member: Any, lang: str) -> str:
    """One member as markdown in ``lang`` ("en" or "zh")."""
    if isinstance(member, Msg):
        return member.en if lang == "en" else member.zh
    if isinstance(member, str):
        return f"$$\n{member}\n$$"
    name = getattr(member, "name", None)  # a NamedFunction
    if isinstance(name, str):
        return f"`f(x) = {name}`"
    raise TypeError(f"a family member is a formula, a Msg or a NamedFunction, not {member!r}")


def describe(which: str | Family, learner: str | None = None) -> Msg:
    """The learner's own member of a family, as markdown in both languages."""
    fam = family(which) if isinstance(which, str) else which
    who = learner_id() if learner is None else learner
    k, n = fam.index(who), len(fam)
    member = fam.members[k]
    if n == 1 or not variants_on():
        head = Msg("**Your function:**", "**你的函数：**")
    else:
        head = Msg(
            f"**Your function** (variant {k + 1} of {n}, for learner `{who}`):",
            f"**你的函数**（共 {n} 个变体中的第 {k + 1} 个，学习者 `{who}`）：",
        )
    return Msg(f"{head.en}\n\n{_as_text(member, 'en')}", f"{head.zh}\n\n{_as_text(member, 'zh')}")


def _both(which: str | Family, learner: str | None) -> str:
    """Both languages: the formula once when it reads the same in each."""
    en, zh = describe(which, learner).en, describe(which, learner).zh
    head_en, _, body_en = en.partition("\n\n")
    head_zh, _, body_zh = zh.partition("\n\n")
    if body_en == body_zh:
        return f"{head_en} · {head_zh}\n\n{body_en}"
    return f"{en}\n\n{zh}"


def show(which: str | Family, learner: str | None = None) -> None:
    """Display the learner's own member of a family, typeset, in the course's language(s).

    A lesson calls it in a code cell above the exercise: ``show("differentiation.q")``.
    """
    lang = current_lang()
    if lang in ("en", "zh"):
        markdown = getattr(describe(which, learner), lang)
    else:
        markdown = _both(which, learner)
    try:
        from IPython.display import Markdown, display
    except ImportError:  # outside Jupyter: the text as it is
        print(markdown)
        return
    display(Markdown(markdown))
