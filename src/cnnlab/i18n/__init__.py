"""The words of the tour, the explorer and the CLI's explanations, in English and Korean.

One table per language (``en.json``, ``ko.json`` beside this file), shared by the tour
(``cnnlab tour --lang``), the notebook, the explorer's pages (served as
``/static/i18n.json``) and the CLI. A value may hold ``{name}`` placeholders, filled by
``t(key, lang, name=...)``; Korean uses the lecture's own terms (합성곱, 필터, 스트라이드, ...).
"""

from __future__ import annotations

import functools
import json
from importlib.resources import files

__all__ = ["LANGS", "check_lang", "script", "t", "table"]

LANGS = ("en", "ko")


def check_lang(lang: str, where: str = "lang") -> str:
    """``lang`` if it is one of ``LANGS``, else a one-line ``ValueError`` naming ``where``."""
    if lang not in LANGS:
        raise ValueError(f"{where}: --lang must be one of {', '.join(LANGS)} (got {lang!r})")
    return lang


@functools.lru_cache(maxsize=None)
def table(lang: str = "en") -> dict[str, str]:
    """The string table of ``lang``: key -> text."""
    check_lang(lang)
    return json.loads((files("cnnlab.i18n") / f"{lang}.json").read_text("utf-8"))


def t(key: str, lang: str = "en", **values: object) -> str:
    """The text of ``key`` in ``lang`` with its ``{name}`` placeholders filled.

    Example:
        >>> t("tour.time", "en", seconds="1.0")
        'computed in 1.0 s'
    """
    text = table(lang)[key]
    return text.format(**values) if values else text


def script(default: str = "en") -> str:
    """The explorer's ``/static/i18n.js``: every table and the language a page starts in."""
    check_lang(default, "serve")
    tables = json.dumps({lang: table(lang) for lang in LANGS}, ensure_ascii=False)
    return f"const CNNLAB_STRINGS = {tables};\nconst CNNLAB_DEFAULT_LANG = {json.dumps(default)};\n"
