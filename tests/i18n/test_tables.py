"""The string tables: the same keys and placeholders in every language, and every key the code uses exists."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from cnnlab.i18n import LANGS, check_lang, t, table

SRC = Path(__file__).resolve().parents[2] / "src" / "cnnlab"
# t("key" / page.t("key" / pt("key" / refuse("key" (the explorer's refusals) / data-i18n="key" / tr("key" in the explorer's JS
USES = re.compile(r"""(?:\bt|\.t|\bpt|\.pt|\btr|\brefuse)\(\s*f?["']([a-z_]+\.[a-zA-Z0-9_.{}']+)["']|data-i18n(?:-[a-z]+)?="([a-z_]+\.[a-zA-Z0-9_.]+)\"""")


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_language_has_every_key():
    keys = {lang: set(table(lang)) for lang in LANGS}
    for lang in LANGS:
        missing = keys["en"] ^ keys[lang]
        assert not missing, f"{lang}.json and en.json differ in keys: {sorted(missing)[:10]}"


@pytest.mark.parametrize("lang", LANGS)
def test_placeholders_agree_and_nothing_is_empty(lang):
    for key, text in table(lang).items():
        assert text.strip(), f"{lang}: {key} is empty"
        assert _fields(text) == _fields(table("en")[key]), f"{lang}: {key} has other placeholders than en"


def test_korean_is_korean():
    ko = table("ko")
    # every sentence is translated: only a language's own name ("English") may read the same in both
    same = [k for k, v in ko.items() if v == table("en")[k] and re.search(r"[a-z]{4}", v) and not k.startswith("lang.")]
    assert not same, same
    for term in ("합성곱", "필터", "스트라이드", "패딩", "활성화 맵", "풀링", "전치 합성곱", "수용 영역", "희소 상호작용",
                 "파라미터 공유", "등변성", "불변성"):
        assert any(term in v for v in ko.values()), term


def test_every_key_the_code_uses_is_in_the_tables():
    used = set()
    for path in [*SRC.rglob("*.py"), *SRC.glob("serve/static/*.html"), *SRC.glob("serve/static/*.js")]:
        for a, b in USES.findall(path.read_text("utf-8")):
            key = a or b
            if "{" in key:  # f"{key}.title": expanded from the literal lists below
                continue
            used.add(key)
    assert len(used) > 60
    missing = sorted(k for k in used if k not in table("en"))
    assert not missing, missing


def test_t_fills_placeholders_and_refuses_unknown_languages():
    assert t("operation.h_7x7", "en", stride=2) == "7x7 image, 3x3 filter, stride 2"
    assert "스트라이드 2" in t("operation.h_7x7", "ko", stride=2)
    with pytest.raises(ValueError, match="--lang must be one of en, ko"):
        check_lang("fr", "tour")


def test_the_explorers_messages_are_all_in_the_tables_and_all_used():
    # its refusals (error.*) and the playground's reasons (reason.*) are named by literal keys in api.py and app.py
    code = "".join((SRC / "serve" / name).read_text("utf-8") for name in ("api.py", "app.py"))
    used = set(re.findall(r"""["']((?:error|reason)\.[a-z0-9_]+)["']""", code))
    listed = {k for k in table("en") if k.split(".")[0] in ("error", "reason")}
    assert len(used) > 20 and used == listed, (sorted(used - listed), sorted(listed - used))
