"""Fonts for the text in the pictures: a CJK font when labels hold Chinese, Japanese or Korean, and a
warning saying how to install one when none is."""

from __future__ import annotations

import contextlib
import unicodedata
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sentvec.plot.figure import matplotlib_classes

# Family names of CJK fonts commonly installed (Noto/Source Han, WenQuanYi, the Windows and macOS ones),
# looked for when a family's name does not say "CJK".
_CJK_FAMILIES = (
    "Noto Sans CJK",
    "Noto Serif CJK",
    "Source Han Sans",
    "Source Han Serif",
    "WenQuanYi",
    "Droid Sans Fallback",
    "AR PL",
    "SimHei",
    "Microsoft YaHei",
    "PingFang",
    "Hiragino Sans GB",
)
# File-name pieces of the same fonts, for fonts installed after matplotlib built its font cache.
_CJK_FILES = ("cjk", "sourcehan", "wqy", "droidsansfallback", "uming", "ukai", "simhei", "msyh", "pingfang")
NO_CJK_FONT = (
    "no CJK font is installed, so Chinese, Japanese and Korean characters will show as empty boxes; "
    "install one (Debian/Ubuntu: apt-get install fonts-noto-cjk; or any Noto Sans CJK / Source Han Sans font)"
)


def _is_cjk(char: str) -> bool:
    name = unicodedata.name(char, "")
    return name.startswith(("CJK ", "HIRAGANA", "KATAKANA", "HANGUL", "FULLWIDTH", "IDEOGRAPHIC", "BOPOMOFO"))


def _has_cjk(texts: Iterable[str]) -> bool:
    return any(_is_cjk(c) for text in texts for c in str(text) if ord(c) > 0x2E7F)


def find_cjk_font() -> str | None:
    """The family name of an installed font that has Chinese characters, or None when there is none.

    Looks in matplotlib's font list first, then among the system's font files for a CJK one that was
    installed after matplotlib cached its list (which it does not refresh by itself), and adds that one.

    Raises:
        ImportError: matplotlib is not installed.
    """
    matplotlib_classes()
    from matplotlib import font_manager

    def pick() -> str | None:
        names = sorted({f.name for f in font_manager.fontManager.ttflist})
        for name in names:
            if "CJK" in name and "Mono" not in name:
                # Noto's SC/TC/JP/KR cuts all cover the common Han characters; prefer simplified Chinese
                return next((n for n in names if n.startswith(name.split(" CJK")[0]) and n.endswith("CJK SC")), name)
        return next((n for n in names if n.startswith(_CJK_FAMILIES)), None)

    found = pick()
    if found is not None:
        return found
    files = sorted(
        f
        for f in font_manager.findSystemFonts()
        if any(k in Path(f).name.lower() for k in _CJK_FILES) and "mono" not in Path(f).name.lower()
    )
    # regular weights first, sans before serif
    files.sort(key=lambda f: ("bold" in f.lower() or "light" in f.lower() or "thin" in f.lower(), "serif" in f.lower()))
    for file in files[:1]:
        with contextlib.suppress(Exception):
            font_manager.fontManager.addfont(file)
            return pick()
    return None


def font_for(texts: Iterable[str]) -> dict[str, Any] | None:
    """Text properties that render ``texts``.

    Returns:
        ``{}`` when they need no CJK font; ``{"fontfamily": [...]}`` naming an installed one when they do;
        None (after a ``UserWarning`` that says how to install one) when they need one and none is installed.
    """
    if not _has_cjk(texts):
        return {}
    family = find_cjk_font()
    if family is None:
        warnings.warn(NO_CJK_FONT, UserWarning, stacklevel=3)
        return None
    return {"fontfamily": [family, "DejaVu Sans"]}
