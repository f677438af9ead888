"""Bilingual messages: every sentence a learner sees exists in English and in Chinese.

The language comes from the ``COURSE_LANG`` environment variable: ``en``, ``zh`` or
``both`` (the default). An unknown value falls back to ``both`` so nobody loses text.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

LANGS = ("en", "zh", "both")
DEFAULT_LANG = "both"


def current_lang() -> str:
    """The language learners asked for through ``COURSE_LANG``."""
    lang = os.environ.get("COURSE_LANG", DEFAULT_LANG).strip().lower()
    return lang if lang in LANGS else DEFAULT_LANG


@dataclass(frozen=True)
class Msg:
    """One message in both languages; ``str(msg)`` renders it in the current language."""

    en: str
    zh: str

    def render(self, lang: str | None = None) -> str:
        lang = lang if lang in LANGS else current_lang()
        if lang == "en":
            return self.en
        if lang == "zh":
            return self.zh
        if self.en == self.zh:
            return self.en
        return f"{self.en}\n{self.zh}"

    def format(self, **values: Any) -> Msg:
        return Msg(self.en.format(**values), self.zh.format(**values))

    def __add__(self, other: Msg) -> Msg:
        return Msg(f"{self.en}\n{other.en}", f"{self.zh}\n{other.zh}")

    def __str__(self) -> str:
        return self.render()


def say(en: str | Msg, zh: str | None = None, *, lang: str | None = None) -> None:
    """Print a message in the learner's language(s): ``say(Msg(...))`` or ``say(en, zh)``."""
    if isinstance(en, Msg):
        msg = en
    elif zh is None:
        # An English-only say() would show English in the Chinese edition (docs/BILINGUAL.md).
        raise TypeError(f"say() needs the Chinese text too: say({en!r}, '…')")
    else:
        msg = Msg(en, zh)
    print(msg.render(lang))
