"""The settings of an index build, in one object shared by :meth:`Index.build`, the Ray build and the CLI.

>>> from sentvec.index import BuildOptions
>>> options = BuildOptions(precision="int8", chunk_size=5_000, bm25="en")
>>> Index.build("corpus.jsonl", "all-MiniLM-L6-v2", "corpus.index", options)   # doctest: +SKIP

Keyword arguments (``Index.build(..., precision="int8")``) stay accepted: :meth:`BuildOptions.of` turns them
into the object, the one place where they are read.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from sentvec.types import PRECISIONS, Precision

ANN_BACKENDS = ("faiss",)
SEARCH_MODES = ("dense", "bm25", "hybrid", "sparse")


@dataclass(frozen=True)
class BuildOptions:
    """How a corpus is read, embedded and stored, and what an index gets beside its vectors.

    Attributes:
        format, text_field, id_field: how to read the corpus (format from the extension by default;
            see :mod:`sentvec.index.sources`).
        precision: how vectors are stored: float32, or int8/uint8 (ranges calibrated on the first chunk),
            binary/ubinary (1 bit per dimension).
        normalize: store unit vectors, so that scores are cosine similarities (else dot products).
        truncate_dim: keep the first dimensions only (Matryoshka models).
        prompt_name: the model's prompt for documents (e.g. ``"document"``), if it has one.
        chunk_size: documents embedded and written per chunk (per shard on a cluster): the unit of memory,
            of work and of resuming.
        batch_size: texts per forward pass of the model.
        ann: ``"faiss"`` to also build an approximate index when the build completes (HNSW in one process,
            an on-disk IVF on a cluster).
        overwrite: replace an existing index (complete or not) instead of refusing / resuming.
        show_progress_bar: show a progress bar of the documents embedded.
        device, cache_folder, backend: how to load the model when it is given by name (see
            :class:`~sentvec.SentenceTransformer`); the backend is recorded and ``Index.model()`` loads it again.
        filesystem: a ``pyarrow.fs.FileSystem`` that holds the corpus (as in Ray Data's readers).
        bm25: also build a BM25 keyword index when the build completes, with this tokenisation
            (``"en"`` or ``"zh"``; see :mod:`sentvec.index.bm25`); a complete index without one gets it.
        sparse: also encode every document with this SparseEncoder (or model name) into an inverted index
            when the build completes (see :mod:`sentvec.index.sparse`); a complete index without one gets it.
        search_mode: what ``Index.search`` does by default: ``"dense"``, ``"bm25"`` (needs ``bm25``),
            ``"sparse"``, or ``"hybrid"`` (needs ``bm25`` or ``sparse``; fuses with BM25 when both are there).
    """

    format: str | None = None
    text_field: str = "text"
    id_field: str | None = "id"
    precision: Precision = "float32"
    normalize: bool = True
    truncate_dim: int | None = None
    prompt_name: str | None = None
    chunk_size: int = 10_000
    batch_size: int = 32
    ann: str | None = None
    overwrite: bool = False
    show_progress_bar: bool = True
    device: str | None = None
    cache_folder: str | None = None
    backend: str = "torch"
    filesystem: Any = None
    bm25: str | None = None
    sparse: Any = None
    search_mode: str | None = None

    @classmethod
    def of(cls, options: BuildOptions | None = None, /, **keywords: Any) -> BuildOptions:
        """``options`` (default: the defaults) with the settings given as keywords in place of its own.

        Raises:
            TypeError: ``options`` of another type, or a keyword that is no build setting.
        """
        if options is not None and not isinstance(options, BuildOptions):
            raise TypeError(f"options must be a BuildOptions, not {type(options).__name__}; pass settings by keyword")
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(keywords) - names)
        if unknown:
            raise TypeError(f"build() got an unexpected keyword argument {unknown[0]!r}")
        return dataclasses.replace(options or cls(), **keywords)

    def check(self, size_name: str = "chunk_size") -> None:
        """Refuse settings no build can use, before anything is read or loaded.

        Args:
            size_name: what the caller calls ``chunk_size`` (``"shard_rows"`` on a cluster), for the message.

        Raises:
            ValueError: naming the setting and what it can be.
        """
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision {self.precision!r} is not supported; choose from {', '.join(PRECISIONS)}")
        if self.chunk_size < 1 or self.batch_size < 1:
            raise ValueError(f"{size_name}={self.chunk_size} and batch_size={self.batch_size} must be at least 1")
        if self.ann is not None and self.ann not in ANN_BACKENDS:
            raise ValueError(
                f"ann={self.ann!r} is not supported; choose from {', '.join(ANN_BACKENDS)} (or None for exact only)"
            )
        lacking = (self.search_mode == "bm25" and not self.bm25) or (
            self.search_mode == "hybrid" and not (self.bm25 or self.sparse is not None)
        )
        if self.search_mode not in (None, *SEARCH_MODES) or lacking:
            raise ValueError(
                f"search_mode={self.search_mode!r}; choose dense, bm25 together with bm25='en' or 'zh', or "
                "hybrid together with bm25 or sparse (a SparseEncoder or its name)"
            )
