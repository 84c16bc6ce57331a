"""The tour's HTML page: its sections, the files beside it, the small HTML helpers and the stylesheet."""

from __future__ import annotations

import datetime
import html
import platform
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

# System CJK fonts first for Hangul (Debian's fonts-noto-cjk, macOS, Windows), Latin after.
FONTS = ('"Noto Sans CJK KR", "Noto Sans KR", "Apple SD Gothic Neo", "Malgun Gothic", -apple-system, "Segoe UI", '
         'Helvetica, Arial, sans-serif')
CSS = """
body { font-family: %s; max-width: 1060px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.5; background: #fff; overflow-wrap: anywhere; }
h1 { font-size: 1.9em; margin-bottom: .2em; } h2 { border-bottom: 2px solid #3465a4; padding-bottom: .2em; margin-top: 2.2em; }
h3 { margin-bottom: .3em; } nav ol { columns: 2; } .meta { color: #666; }
figure { margin: 1em 0; max-width: 100%%; } figure img { max-width: 100%%; height: auto; border: 1px solid #ddd; }
figcaption { color: #555; font-size: .92em; }
pre { background: #f5f5f5; padding: .7em; white-space: pre-wrap; font-size: .85em;
      font-family: ui-monospace, "Noto Sans Mono CJK KR", Menlo, Consolas, monospace; }
table { border-collapse: collapse; margin: .8em 0; max-width: 100%%; } td, th { border: 1px solid #ccc; padding: .25em .6em; text-align: left; }
th { background: #eef2f8; } td.n { text-align: right; }
.row { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; } .row > div { min-width: 0; max-width: 100%%; }
blockquote { border-left: 4px solid #3465a4; margin: .8em 0; padding: .1em 1em; color: #333; background: #f7f9fc; }
.time { color: #888; font-size: .85em; }
""" % FONTS
@dataclass
class _Section:
    key: str
    title: str
    parts: list[str] = field(default_factory=list)
    seconds: float = 0.0


class _Page:
    """Collects sections and files; every file is written under ``out`` and linked relatively."""

    def __init__(self, out: Path, progress: Callable[[str], None], lang: str = "en") -> None:
        self.out, self.progress, self.lang = out, progress, lang
        self.sections: list[_Section] = []

    def t(self, key: str, **values: Any) -> str:
        """``key``'s text in the page's language."""
        from cnnlab.i18n import t

        return t(key, self.lang, **values)

    def pt(self, key: str, **values: Any) -> str:
        """Text drawn inside a picture: the page's language where a font here has its glyphs, else English."""
        from cnnlab.i18n import t
        from cnnlab.viz.canvas import can_draw

        text = t(key, self.lang, **values)
        return text if can_draw(text) else t(key, "en", **values)

    def quote(self, key: str) -> str:
        """The lecture's own sentence (Korean, as written), translated underneath in English."""
        from cnnlab.i18n import t

        said = _e(t(key, "ko"))
        return f'<blockquote lang="ko">{said}' + ("" if self.lang == "ko" else f'<br><i lang="en">{_e(t(key, "en"))}</i>') + \
            "</blockquote>"

    def section(self, key: str, title: str) -> _Section:
        s = _Section(key, title)
        self.sections.append(s)
        return s

    def picture(self, picture: Any, name: str) -> str:
        picture.save(self.out / name)
        return name

    def array(self, pixels: np.ndarray, name: str) -> str:
        from cnnlab.imageio import write_image

        write_image(self.out / name, pixels)
        return name

    def animation(self, anim: Any, name: str) -> tuple[str, str]:
        anim.save_gif(self.out / f"{name}.gif")
        anim.save_strip(self.out / f"{name}_frames.png")
        return f"{name}.gif", f"{name}_frames.png"


def _e(text: Any) -> str:
    return html.escape(str(text))


def _p(text: str) -> str:
    return f"<p>{text}</p>"


def _pre(text: str) -> str:
    return f"<pre>{_e(text)}</pre>"


def _fig(src: str, caption: str, alt: str | None = None) -> str:
    return f'<figure><img src="{_e(src)}" alt="{_e(alt or caption)}"><figcaption>{caption}</figcaption></figure>'


def _anim(page: "_Page", files: tuple[str, str], caption: str) -> str:
    gif, strip = files
    return _fig(gif, f'{_e(caption)} (<a href="{_e(strip)}">{page.t("tour.all_frames")}</a>)')


def _num(cell: Any) -> str:
    """The class of a table cell that holds a number (right-aligned)."""
    return ' class="n"' if re.fullmatch(r"[-+]?[\d,.]+( ?[A-Za-z%]{0,3})?", str(cell)) else ""


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f'<td{_num(c)}>{_e(c)}</td>' for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _matrix(a: np.ndarray) -> str:
    """A small integer matrix as an HTML table without headers."""
    body = "".join("<tr>" + "".join(f'<td class="n">{int(v) if float(v).is_integer() else f"{v:.3g}"}</td>' for v in row) + "</tr>"
                   for row in np.asarray(a))
    return f"<table>{body}</table>"


def _html(page: _Page, total: float) -> str:
    import cnnlab

    sections = page.sections
    nav = "".join(f'<li><a href="#{s.key}">{_e(s.title.split(". ", 1)[-1])}</a></li>' for s in sections)
    body = "".join(f'<section id="{s.key}"><h2>{_e(s.title)}</h2>{"".join(s.parts)}'
                   f'<p class="time">{_e(page.t("tour.time", seconds=f"{s.seconds:.1f}"))}</p></section>'
                   for s in sections)
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    meta = page.t("tour.meta", version=_e(getattr(cnnlab, "__version__", "")), when=when, seconds=f"{total:.0f}",
                  python=_e(platform.python_version()), numpy=_e(np.__version__))
    return (f'<!DOCTYPE html><html lang="{page.lang}"><head><meta charset="utf-8"><title>{_e(page.t("tour.page_title"))}'
            f'</title><meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head><body>'
            f'<h1>{_e(page.t("tour.h1"))}</h1><p class="meta">{meta}</p>'
            f'<nav><ol>{nav}</ol></nav>{body}</body></html>')
