"""BM25 keyword search through ``bm25s`` (sparse score matrices, memory-mapped when loaded), with a tokeniser
for English and one for Chinese, stored in an index folder next to the vectors.

>>> bm25 = BM25(language="en").fit(["The cat sat on the mat.", "Dogs bark at night."])
>>> bm25.search(["cats on mats"], k=1)
[[(0, 0.79...)]]

Tokenisation (recorded with the index, so queries are always cut the way the documents were):

- ``en``: lower-cased runs of letters and digits, English stop words (Lucene's 33) removed, each word reduced to its
  Snowball stem (PyStemmer), so that "cells" finds "cell".
- ``zh``: Chinese has no spaces between words, so every run of CJK characters gives its single characters
  and its character bigrams (the bigrams carry most word meaning; the single characters catch one-character
  words). Other words are lower-cased, neither stemmed nor stop-worded, so mixed Chinese-English text works.

In both, CJK runs are cut the same way, so an English index still finds a Chinese name in a document, and
text is first brought to Unicode NFKC form, so full-width letters and digits (common in Chinese text:
"ｉＰｈｏｎｅ　１５") and ligatures ("ﬁ" from PDFs) match their plain spellings. (Indexes saved before NFKC was
added record no normalisation and keep cutting queries without it.)
Needs the ``sentvec[bm25]`` extra (bm25s, PyStemmer).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from sentvec.index.manifest import InvalidIndexError, write_manifest
from sentvec.index.scores import top_k
from sentvec.index.storage import StoredIndex

Language = Literal["en", "zh"]
LANGUAGES: tuple[str, ...] = ("en", "zh")
# Lucene's BM25 (as Elasticsearch, whose runs BEIR published) with its defaults; bm25s's own k1 is 1.5.
# On SciFact train k1=1.2 gives nDCG@10 0.667 against 0.664 for 1.5 (Cranfield: equal within 0.002).
K1 = 1.2
B = 0.75
SETTINGS_FILE = "sentvec_bm25.json"
NORMALIZATION = "NFKC"

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_TOKEN = re.compile(rf"[{_CJK}]+|(?:(?![{_CJK}])[^\W_])+")
_CJK_RUN = re.compile(rf"[{_CJK}]+")


def _bm25s() -> Any:
    try:
        import bm25s
    except ImportError:
        raise ImportError("BM25 search needs bm25s: pip install 'sentvec[bm25]'") from None
    return bm25s


class Tokenizer:
    """Cuts text into BM25 terms for one language (see the module docstring for the rules); ``normalization``
    is the Unicode form text is brought to first (None: none, as indexes saved before it was added)."""

    def __init__(self, language: Language = "en", normalization: str | None = NORMALIZATION) -> None:
        if language not in LANGUAGES:
            raise ValueError(f"BM25 language {language!r} is not supported; choose from {', '.join(LANGUAGES)}")
        self.language = language
        self.normalization = normalization
        self._stem: Any = None
        self._stopwords: frozenset[str] = frozenset()
        if language == "en":
            try:
                import Stemmer
            except ImportError:
                raise ImportError("English BM25 stems words with PyStemmer: pip install 'sentvec[bm25]'") from None
            self._stem = Stemmer.Stemmer("english").stemWords
            self._stopwords = frozenset(_bm25s().stopwords.STOPWORDS_EN)

    def __call__(self, text: str) -> list[str]:
        """The BM25 terms of ``text``, in order: stemmed words first, then CJK characters and bigrams."""
        tokens: list[str] = []
        words: list[str] = []
        if self.normalization is not None:
            text = unicodedata.normalize(self.normalization, text)  # type: ignore[arg-type]
        for piece in _TOKEN.findall(text.lower()):
            if _CJK_RUN.fullmatch(piece):
                tokens += list(piece)
                tokens += [piece[i : i + 2] for i in range(len(piece) - 1)]
            elif piece not in self._stopwords:
                words.append(piece)
        if self._stem is not None:
            words = self._stem(words)
        return words + tokens


class BM25:
    """A BM25 index over a list of texts; documents are addressed by their position (row) in that list.

    Args:
        language: how text is cut into terms: ``"en"`` or ``"zh"`` (see the module docstring).
        k1, b: BM25's term-frequency saturation and length normalisation (Lucene's formula).
    """

    def __init__(
        self, language: Language = "en", k1: float = K1, b: float = B, normalization: str | None = NORMALIZATION
    ) -> None:
        self.tokenizer = Tokenizer(language, normalization)
        self.language = language
        self.k1, self.b = float(k1), float(b)
        self._bm25: Any = None
        self.count = 0

    def settings(self) -> dict[str, Any]:
        """What decides the scores: stored with the index and checked when it is loaded."""
        return {
            "library": "bm25s",
            "language": self.language,
            "normalization": self.tokenizer.normalization,
            "k1": self.k1,
            "b": self.b,
            "method": "lucene",
            "count": self.count,
        }

    def fit(self, texts: Sequence[str], show_progress_bar: bool = False) -> BM25:
        """Index ``texts`` (replacing what was indexed before). Returns ``self``."""
        if len(texts) == 0:
            raise ValueError("BM25 needs at least one document; the corpus is empty")
        bm25s = _bm25s()
        # a document with no terms still needs one so that every row exists; "" is bm25s's empty token
        tokens = [self.tokenizer(text) or [""] for text in texts]
        self._bm25 = bm25s.BM25(k1=self.k1, b=self.b, method="lucene")
        self._bm25.index(tokens, show_progress=show_progress_bar)
        self.count = len(texts)
        return self

    def scores(self, query: str) -> np.ndarray:
        """The BM25 score of every document for ``query``: shape ``(count,)``, float32."""
        if self._bm25 is None:
            raise RuntimeError("this BM25 index is empty; call fit() or load() first")
        ids = self._bm25.get_tokens_ids([t for t in self.tokenizer(query) if t])
        if not ids:  # no query term occurs in the corpus
            return np.zeros(self.count, dtype=np.float32)
        return np.asarray(self._bm25.get_scores_from_ids(ids), dtype=np.float32)

    def search(self, queries: Sequence[str], k: int = 10) -> list[list[tuple[int, float]]]:
        """Each query's ``k`` best ``(row, score)`` by decreasing score, equal scores by increasing row.

        Documents sharing no term with the query (score 0) are not hits, so a list may be shorter than ``k``.
        """
        if k < 1:
            raise ValueError(f"k={k}; it must be at least 1")
        return [top_k(self.scores(query), k) for query in queries]

    # ------------------------------------------------------------------ files

    def save(self, folder: str | os.PathLike[str]) -> None:
        """Write the index into ``folder`` (created, or replaced whole: built beside it and renamed into place)."""
        if self._bm25 is None:
            raise RuntimeError("nothing to save; call fit() first")
        target = Path(folder)
        tmp = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        self._bm25.save(tmp, show_progress=False)
        (tmp / SETTINGS_FILE).write_text(json.dumps(self.settings(), indent=1) + "\n", encoding="utf-8")
        old = target.with_name(target.name + ".old")
        if target.exists():
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
        tmp.rename(target)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, folder: str | os.PathLike[str], mmap: bool = True) -> BM25:
        """Read an index written by :meth:`save`; with ``mmap`` the score matrix stays on disk until touched."""
        path = Path(folder)
        settings_file = path / SETTINGS_FILE
        if not settings_file.is_file():
            raise FileNotFoundError(
                f"{path} holds no BM25 index ({SETTINGS_FILE} is missing); build it again "
                "(`sentvec index build ... --bm25 --overwrite`)"
            )
        settings = json.loads(settings_file.read_text(encoding="utf-8"))
        bm25 = cls(settings["language"], settings["k1"], settings["b"], settings.get("normalization"))
        bm25._bm25 = _bm25s().BM25.load(path, mmap=mmap, show_progress=False)
        bm25.count = int(settings["count"])
        if int(bm25._bm25.scores["num_docs"]) != bm25.count:
            raise ValueError(
                f"the BM25 index in {path} is corrupt: it scores {bm25._bm25.scores['num_docs']} "
                f"documents, its settings say {bm25.count}; rebuild it"
            )
        return bm25


# --------------------------------------------------------------------------- inside an index folder

#: The BM25 index's folder inside an index folder.
INDEX_FOLDER = "bm25"


def build_index_bm25(index: StoredIndex, language: Language = "en", show_progress_bar: bool = False) -> BM25:
    """Build the BM25 index over every document stored in a complete :class:`~sentvec.index.Index`, save it in
    the index folder and record it in the manifest (written last, so a crash leaves the index as it was)."""
    if not index.complete:
        raise InvalidIndexError(f"index {index.path} is not complete; finish the build before adding BM25")
    # document() reads one chunk's documents at a time and keeps it, so going through the rows in order reads each once
    texts = [index.document(row)["text"] for row in range(index.count)]
    bm25 = BM25(language).fit(texts, show_progress_bar=show_progress_bar)
    del texts
    folder = index.path / INDEX_FOLDER
    bm25.save(folder)
    index.manifest["bm25"] = {
        **bm25.settings(),
        "folder": INDEX_FOLDER,
        "bytes": sum(f.stat().st_size for f in folder.iterdir()),
    }
    write_manifest(index.path, index.manifest)
    return bm25


def load_index_bm25(index: StoredIndex) -> BM25:
    """The BM25 index of an index folder, checked against the manifest."""
    entry = index.manifest.get("bm25")
    if not entry:
        raise InvalidIndexError(
            f"index {index.path} has no BM25 index; build it with "
            "`sentvec index build CORPUS --out INDEX --bm25` (resumes a complete index) or "
            "Index.build(..., bm25='en'), or search with mode='dense'"
        )
    try:
        bm25 = BM25.load(index.path / entry["folder"])
    except (OSError, ValueError, KeyError) as err:
        raise InvalidIndexError(
            f"index {index.path} is corrupt: its BM25 index cannot be read ({err}); rebuild it with --overwrite"
        ) from None
    if bm25.count != index.count:
        raise InvalidIndexError(
            f"the BM25 index of {index.path} covers {bm25.count} of {index.count} documents; "
            "rebuild it with --overwrite"
        )
    return bm25
