"""A persistent embedding index in a folder: built by streaming a corpus, searched without a server.

Layout of an index folder::

    manifest.json        what the index holds and how it was built (written last, atomically)
    ranges.npy           int8/uint8 only: the per-dimension ranges the vectors were quantized with
    chunks/000000.npy    one chunk's vectors, (rows, width) at the stored precision
    chunks/000000.jsonl  the same chunk's documents, one JSON ``[id, text]`` per line
    ann.faiss            optional approximate (HNSW) index over all vectors
    bm25/                optional BM25 keyword index over all documents (sentvec.index.bm25), for mode="bm25"/"hybrid"
    sparse/              optional inverted index of SPLADE vectors (sentvec.index.sparse), for mode="sparse"

A build embeds ``chunk_size`` documents at a time; each chunk's files are written to temporary names
and renamed into place, then the manifest is rewritten (temporary file, then rename) to list the chunk.
So the manifest always describes complete files: an interrupted build leaves a valid, partial index,
and building again with the same arguments resumes after the last listed chunk (also when the corpus
changed after the documents already stored, e.g. a bad line fixed: those are checked, not re-embedded).
A build that fails before storing any document removes what it made. Files a crash left behind that
the manifest does not list are overwritten by the resumed build; temporary files a killed process left
(``.NAME.*.tmp``) are removed by the next build or open once they are stale.

Opening an index checks the manifest, every file's size and, for float32 indexes, that the vectors
are finite (and of unit length when normalized): all of them up to ``OPEN_CHECK_BYTES``, a sample of
rows of some chunks above that; exact search checks each chunk whole the first time it reads it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sentvec.index.sources import Source
from sentvec.paths import atomic_file
from sentvec.quantization import PRECISIONS, Precision, QuantizedSearcher, dequantize_embeddings, quantize_embeddings

if TYPE_CHECKING:
    from sentvec.model import SentenceTransformer

logger = logging.getLogger(__name__)

FORMAT = "sentvec-index"
# 2: the model fingerprint covers the tokenizer too, so version 1 fingerprints no longer match
VERSION = 2
MANIFEST = "manifest.json"
ANN_FILE = "ann.faiss"
ANN_BACKENDS = ("faiss",)
# HNSW settings: 32 links per node and a wide build beam give recall@10 >= 0.95 at search beam 128
# (measured in benchmarks/search_quant.py); efSearch grows with k.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 200
HNSW_EF_SEARCH = 128
# Texts embedded per encode() call during a build; the heap is trimmed after each (see _Builder._write_chunk).
ENCODE_PIECE = 2048
# Opening a float32 index checks all its vectors up to this size, else OPEN_SAMPLE_ROWS rows of each of
# OPEN_SAMPLE_CHUNKS chunks spread over the index (so opening takes the same time whatever the size).
OPEN_CHECK_BYTES = 64 << 20
OPEN_SAMPLE_ROWS = 64
OPEN_SAMPLE_CHUNKS = 32
# A normalized vector's squared norm may be this far from 1 (float16 models normalize in half precision).
NORM_TOLERANCE = 1e-2
# A temporary file (from sentvec.paths.atomic_file) untouched this long belongs to no running writer.
STALE_SECONDS = 15 * 60
# Names of the temporary files index writers make: ".NAME.RANDOM.tmp" for the files an index holds.
_TEMPORARY = re.compile(
    r"^\.(manifest\.json|ranges\.npy|ann\.faiss|\d{6,}\.(npy|jsonl|parquet|json))\.[a-z0-9_]+\.tmp$"
)


def hnsw_ef_search(k: int) -> int:
    """The HNSW search beam used for ``k`` hits."""
    return max(HNSW_EF_SEARCH, 4 * k)


class InvalidIndexError(ValueError):
    """An index folder that cannot be used: corrupt, incomplete where it must not be, or built differently."""


# --------------------------------------------------------------------------- small helpers


def model_fingerprint(model: SentenceTransformer) -> str:
    """A short hash of everything that decides a model's embeddings: its modules, settings, tokenizer and weights.

    Two loads of the same folder give the same fingerprint; another checkpoint, pooling, sequence length or
    tokenizer (vocabulary, normalization, casing) gives another, and so does the same model object after
    ``fit()``, ``load_state_dict()``, any in-place change of a weight or a new ``max_seq_length``.

    Hashing every weight takes a fraction of a second for MiniLM, so the value is kept on the model with a
    cheap key (each tensor's storage, torch's count of its in-place changes and a few of its values; the
    module settings; the tokenizer's settings) and recomputed whenever that key changes.
    """
    key = _fingerprint_key(model)
    cached = getattr(model, "_sentvec_fingerprint", None)
    if isinstance(cached, tuple) and cached[0] == key:
        return str(cached[1])
    value = _full_fingerprint(model)
    with contextlib.suppress(AttributeError):
        model._sentvec_fingerprint = (key, value)  # type: ignore[attr-defined]
    return value


def _settings_state(model: SentenceTransformer) -> bytes:
    """Each module's settings (pooling mode, max_seq_length, Dense sizes... as extra_repr shows them)."""
    modules = [f"{type(m).__name__}({m.extra_repr()})" for m in model]
    return repr((modules, getattr(model, "max_seq_length", None), model.get_embedding_dimension())).encode()


def _full_fingerprint(model: SentenceTransformer) -> str:
    import torch

    digest = hashlib.sha256()
    digest.update(_settings_state(model))
    for module in model:
        tokenizer = getattr(module, "tokenizer", None)
        if tokenizer is not None:  # the same weights behind another vocabulary give other embeddings
            digest.update(_tokenizer_state(tokenizer))
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(repr((tuple(tensor.shape), str(tensor.dtype))).encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(dtype=torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def _fingerprint_key(model: SentenceTransformer) -> tuple[Any, ...]:
    """What changes whenever anything :func:`model_fingerprint` hashes changes, computed in about a millisecond.

    torch counts in-place changes of a tensor (``_version``: optimizer steps, ``load_state_dict``, ``add_``
    under ``no_grad``) and a tensor replaced by another has another storage; edits through ``param.data``
    escape the count, so a few values of each tensor are part of the key too.
    """
    import torch

    tensors = []
    samples: dict[Any, list[Any]] = {}
    for name, tensor in model.state_dict().items():
        version = None if tensor.is_inference() else tensor._version  # inference tensors have no count
        tensors.append((name, tensor.data_ptr(), version, tuple(tensor.shape), str(tensor.dtype)))
        if tensor.numel():
            flat = tensor.detach().reshape(-1)
            samples.setdefault(tensor.dtype, []).append(flat[:: max(1, flat.numel() // _KEY_SAMPLES)])
    values = b"".join(torch.cat(group).view(torch.uint8).cpu().numpy().tobytes() for group in samples.values())
    tokenizers = tuple(_tokenizer_settings(m.tokenizer) for m in model if getattr(m, "tokenizer", None) is not None)
    return _settings_state(model), tokenizers, tuple(tensors), values


# Values of each tensor that go into the fingerprint's cache key.
_KEY_SAMPLES = 8


def _tokenizer_settings(tokenizer: Any) -> tuple[Any, ...]:
    """A tokenizer's settings without its vocabulary (reading that whole takes milliseconds)."""
    rust = getattr(tokenizer, "_tokenizer", tokenizer)
    parts: list[Any] = [
        id(tokenizer),
        id(rust),
        type(tokenizer).__name__,
        getattr(tokenizer, "lowercase", None),
        getattr(tokenizer, "pad_token", None),
    ]
    for attribute in ("truncation", "padding", "normalizer", "pre_tokenizer", "post_processor", "decoder"):
        with contextlib.suppress(Exception):  # not every tokenizer has every part
            parts.append(repr(getattr(rust, attribute)))
    with contextlib.suppress(Exception):
        parts.append(rust.get_vocab_size(with_added_tokens=True))
    return tuple(parts)


def _tokenizer_state(tokenizer: Any) -> bytes:
    """A tokenizer's whole definition: the ``tokenizers`` JSON (vocabulary, normalizer, pre-tokenizer,
    truncation) and the settings sentvec's wrapper adds on top."""
    rust = getattr(tokenizer, "_tokenizer", tokenizer)
    definition = rust.to_str() if callable(getattr(rust, "to_str", None)) else repr(rust)
    extra = (type(tokenizer).__name__, getattr(tokenizer, "lowercase", None), getattr(tokenizer, "pad_token", None))
    return (definition + repr(extra)).encode()


def _load_model(name: str, device: str | None, cache_folder: str | None, backend: str = "torch") -> SentenceTransformer:
    from sentvec.model import SentenceTransformer

    return SentenceTransformer(name, device=device, cache_folder=cache_folder, backend=backend)  # type: ignore[arg-type]


def _build_settings(
    model: SentenceTransformer,
    model_name: str,
    source: Source,
    *,
    precision: Precision,
    normalize: bool,
    truncate_dim: int | None,
    prompt_name: str | None,
    chunk_size: int,
) -> dict[str, Any]:
    """The manifest's settings of a build: what a resumed build must match and a query must be embedded with.

    One function for the single-process and the Ray build, so that both write the same manifest.
    """
    if Path(model_name).expanduser().is_dir():  # a folder: record it so that search finds it from anywhere
        model_name = str(Path(model_name).expanduser().resolve())
    dimension = model.get_embedding_dimension()
    if truncate_dim is not None:
        dimension = min(dimension, truncate_dim) if dimension else truncate_dim
    return {
        "format": FORMAT,
        "version": VERSION,
        "model": {
            "name": model_name,
            "fingerprint": model_fingerprint(model),
            "dimension": dimension,
            "similarity_fn_name": model.similarity_fn_name,
            "truncate_dim": truncate_dim,
            "prompt_name": prompt_name,
            "max_seq_length": getattr(model, "max_seq_length", None),
            "backend": getattr(model, "backend", "torch"),
        },
        "precision": precision,
        "normalize": normalize,
        "chunk_size": chunk_size,
        "source": source.identity(),
    }


def check_build_inputs(
    corpus: str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    text_field: str = "text",
    id_field: str | None = "id",
    overwrite: bool = False,
    filesystem: Any = None,
) -> Source:
    """What a build can check before it loads a model: the corpus (readable, not empty, a good first record)
    and the index path (its folder exists; no complete index there unless ``overwrite``).

    :meth:`Index.build` and :func:`sentvec.distributed.build_index` call it first; so does the command line,
    which loads the model itself. Returns the corpus as a :class:`Source`.
    """
    source = Source.of(corpus, format, text_field, id_field, filesystem=filesystem)
    folder = Path(path).expanduser()
    if not folder.parent.is_dir():
        raise FileNotFoundError(f"the folder {str(folder.parent)!r} for index {str(path)!r} does not exist")
    source.check()
    if not overwrite and (folder / MANIFEST).is_file() and _read_manifest(folder)["complete"]:
        raise FileExistsError(
            f"index {folder} already exists and is complete; pass --overwrite (overwrite=True) to rebuild it"
        )
    return source


def _chunk_name(number: int) -> str:
    return f"{number:06d}"


# --------------------------------------------------------------------------- the index


class Index:
    """An embedding index folder. Build one with :meth:`build`, open it with :meth:`open`, query with :meth:`search`.

    >>> index = Index.build("docs.jsonl", "all-MiniLM-L6-v2", "docs.index")   # doctest: +SKIP
    >>> Index.open("docs.index").search("how do I install it?", k=5)          # doctest: +SKIP
    [{'id': 'install', 'score': 0.71, 'text': '...', 'corpus_id': 12}, ...]
    """

    def __init__(self, path: Path, manifest: dict[str, Any]) -> None:
        self.path = path
        self.manifest = manifest
        self._model: SentenceTransformer | None = None
        self._ranges: np.ndarray | None = None
        self._ann: Any = None
        self._texts_cache: tuple[int, list[Any]] | None = None
        self._bm25: Any = None
        self._checked: set[int] = set()  # chunks whose every vector was checked (see _check_vectors)
        self._sparse: Any = None
        self._starts = np.cumsum([0] + [c["rows"] for c in manifest["chunks"]])

    # ------------------------------------------------------------------ properties

    @property
    def count(self) -> int:
        """Number of documents stored."""
        return int(self.manifest["count"])

    @property
    def complete(self) -> bool:
        """False while a build is unfinished (it can be resumed; searching covers what is stored)."""
        return bool(self.manifest["complete"])

    @property
    def dimension(self) -> int:
        return int(self.manifest["model"]["dimension"])

    @property
    def precision(self) -> Precision:
        return self.manifest["precision"]

    def __len__(self) -> int:
        return self.count

    def __repr__(self) -> str:
        m = self.manifest
        return (
            f"Index({str(self.path)!r}, count={self.count}, model={m['model']['name']!r}, dim={self.dimension}, "
            f"precision={self.precision!r}, complete={self.complete}, ann={bool(m.get('ann'))})"
        )

    # ------------------------------------------------------------------ open

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, verify: bool = False) -> Index:
        """Open an index folder, checking its manifest, that every listed file is there with the right size and,
        for float32 indexes, that the vectors are finite and (normalized index) of length 1: all of them up to
        ``OPEN_CHECK_BYTES``, else a sample (exact search then checks each chunk whole when it first reads it).
        Temporary files a killed build left are removed once stale.

        Args:
            verify: also re-hash every chunk file against the manifest's sha256 (reads the whole index; the only
                check that sees a damaged byte which leaves a plausible vector, or any in a quantized index).

        Raises:
            FileNotFoundError: no index at ``path``.
            ValueError: a corrupt or unreadable index, with what is wrong and how to fix it.
        """
        folder = Path(path).expanduser()
        manifest = _read_manifest(folder)
        for chunk in manifest["chunks"]:
            # a chunk is a .npy + .jsonl pair, or one Parquet shard of a distributed build (sentvec.distributed)
            for kind in ("shard",) if "shard" in chunk else ("vectors", "documents"):
                file = folder / "chunks" / chunk[kind]["file"]
                if not file.is_file():
                    raise InvalidIndexError(
                        f"index {folder} is corrupt: {file.name} is missing; rebuild it with --overwrite"
                    )
                if file.stat().st_size != chunk[kind]["bytes"]:
                    raise InvalidIndexError(
                        f"index {folder} is corrupt: {file.name} has {file.stat().st_size} bytes, "
                        f"the manifest says {chunk[kind]['bytes']}; rebuild it with --overwrite"
                    )
                if verify and _sha256(file) != chunk[kind]["sha256"]:
                    raise InvalidIndexError(
                        f"index {folder} is corrupt: {file.name} does not match its checksum; "
                        "rebuild it with --overwrite"
                    )
        if manifest["precision"] in ("int8", "uint8") and manifest["count"] and not (folder / "ranges.npy").is_file():
            raise InvalidIndexError(f"index {folder} is corrupt: ranges.npy is missing; rebuild it with --overwrite")
        _sweep_temporaries(folder)
        index = cls(folder, manifest)
        index._check_on_open()
        return index

    def _check_on_open(self) -> None:
        """Vectors that cannot be right: every one up to OPEN_CHECK_BYTES of them, else a sample of each chunk."""
        if self.precision != "float32" or not self.count:
            return
        whole = self.count * self.dimension * 4 <= OPEN_CHECK_BYTES
        chunks = self.manifest["chunks"]
        sampled = set(np.linspace(0, len(chunks) - 1, min(len(chunks), OPEN_SAMPLE_CHUNKS)).astype(int).tolist())
        for number, chunk in enumerate(chunks):
            # a Parquet shard is read whole: left to the first search, as are the chunks not sampled
            if not whole and ("shard" in chunk or number not in sampled):
                continue
            file, vectors = self._chunk_vectors(number)
            rows = None if whole else np.unique(np.linspace(0, len(vectors) - 1, OPEN_SAMPLE_ROWS).astype(np.int64))
            self._check_vectors(number, file, vectors, rows)

    # ------------------------------------------------------------------ build

    @classmethod
    def build(
        cls,
        corpus: str | os.PathLike[str],
        model: str | SentenceTransformer,
        path: str | os.PathLike[str],
        *,
        format: str | None = None,
        text_field: str = "text",
        id_field: str | None = "id",
        precision: Precision = "float32",
        normalize: bool = True,
        truncate_dim: int | None = None,
        prompt_name: str | None = None,
        chunk_size: int = 10_000,
        batch_size: int = 32,
        ann: str | None = None,
        overwrite: bool = False,
        show_progress_bar: bool = True,
        device: str | None = None,
        cache_folder: str | None = None,
        backend: str = "torch",
        stop_after_chunks: int | None = None,
        filesystem: Any = None,
        bm25: str | None = None,
        sparse: Any = None,
        search_mode: str | None = None,
    ) -> Index:
        """Embed a corpus file into an index folder at ``path``, or resume an interrupted build there.

        Args:
            corpus: a text file (one document per line), JSON lines, CSV/TSV or Parquet (see :mod:`sentvec.index.sources`):
                a local path or a URI (``s3://...``, ``gs://``, ``abfs://``, ``hdfs://``, ``file://``).
            model: a model name or folder, or a loaded SentenceTransformer.
            path: the index folder (created; its parent must exist).
            format, text_field, id_field: how to read ``corpus`` (format from the extension by default).
            precision: how vectors are stored: float32, or int8/uint8 (ranges calibrated on the first chunk),
                binary/ubinary (1 bit per dimension).
            normalize: store unit vectors, so that scores are cosine similarities (else dot products).
            truncate_dim: keep the first dimensions only (Matryoshka models).
            prompt_name: the model's prompt for documents (e.g. ``"document"``), if it has one.
            chunk_size: documents embedded and written per chunk: the unit of memory and of resuming.
            ann: ``"faiss"`` to also build an approximate HNSW index when the build completes.
            overwrite: replace an existing index (complete or not) instead of refusing / resuming.
            device, cache_folder, backend: how to load ``model`` when it is a name (see
                :class:`~sentvec.SentenceTransformer`); the backend is recorded and :meth:`model` loads it again.
            stop_after_chunks: stop (as if interrupted) after writing this many new chunks; for tests.
            filesystem: a ``pyarrow.fs.FileSystem`` that holds ``corpus`` (as in Ray Data's readers).
            bm25: also build a BM25 keyword index when the build completes, with this tokenisation
                (``"en"`` or ``"zh"``; see :mod:`sentvec.index.bm25`); a complete index without one gets it.
            sparse: also encode every document with this SparseEncoder (or model name) into an inverted index
                when the build completes (see :mod:`sentvec.index.sparse`); a complete index without one gets it.
            search_mode: what :meth:`search` does by default: ``"dense"``, or ``"bm25"``/``"hybrid"`` (need ``bm25``).

        Returns:
            The opened index.

        Raises:
            ValueError: a corpus that is empty, binary or malformed at its start (found before the model is
                loaded), or malformed further on. A build that fails before storing a document removes
                what it made; one that fails later keeps the chunks stored, and running it again resumes
                after them (a warning on the ``sentvec.index`` logger says which).
        """
        if precision not in PRECISIONS:
            raise ValueError(f"precision {precision!r} is not supported; choose from {', '.join(PRECISIONS)}")
        if chunk_size < 1 or batch_size < 1:
            raise ValueError(f"chunk_size={chunk_size} and batch_size={batch_size} must be at least 1")
        if ann is not None and ann not in ANN_BACKENDS:
            raise ValueError(
                f"ann={ann!r} is not supported; choose from {', '.join(ANN_BACKENDS)} (or None for exact only)"
            )
        # a complete index may stay when only its missing BM25 is asked for (below)
        source = check_build_inputs(
            corpus,
            path,
            format=format,
            text_field=text_field,
            id_field=id_field,
            overwrite=overwrite or bool(bm25),
            filesystem=filesystem,
        )
        folder = Path(path).expanduser()
        if isinstance(model, str):
            model_name = model
            model = _load_model(model, device, cache_folder, backend)
        else:
            model_name = model.model_name_or_path or "<in-memory model>"
        settings = _build_settings(
            model,
            model_name,
            source,
            precision=precision,
            normalize=normalize,
            truncate_dim=truncate_dim,
            prompt_name=prompt_name,
            chunk_size=chunk_size,
        )
        if search_mode not in (None, "dense", "bm25", "hybrid", "sparse") or (
            search_mode in ("bm25", "hybrid") and not bm25
        ):
            raise ValueError(
                f"search_mode={search_mode!r}; choose dense, or bm25/hybrid together with bm25='en' or 'zh'"
            )
        if (bm25 or sparse) and not overwrite and (folder / MANIFEST).is_file():  # a complete index gets what it lacks
            existing = cls.open(folder)
            if existing.complete and all(existing.manifest.get(key) == value for key, value in settings.items()):
                existing._add_bm25(bm25, search_mode, show_progress_bar)
                existing._add_sparse(sparse, batch_size, show_progress_bar)
                return existing
        existed = folder.exists()
        manifest = _start_or_resume(folder, settings, overwrite, source)
        try:
            _Builder(folder, manifest, model, source, batch_size).run(show_progress_bar, stop_after_chunks)
        except BaseException:
            _after_failed_build(folder, manifest["count"], existed)
            raise
        index = cls.open(folder)
        if ann and index.complete:
            index.build_ann(ann)
        if index.complete:
            index._add_bm25(bm25, search_mode, show_progress_bar)
            index._add_sparse(sparse, batch_size, show_progress_bar)
        return index

    def _add_sparse(self, model: Any, batch_size: int, show_progress_bar: bool) -> None:
        if model is not None and (not self.manifest.get("sparse") or self.manifest["sparse"]["count"] != self.count):
            from sentvec.index.sparse import build_index_sparse

            build_index_sparse(self, model, batch_size, show_progress_bar)

    def _add_bm25(self, language: str | None, search_mode: str | None, show_progress_bar: bool) -> None:
        from sentvec.index.bm25 import build_index_bm25

        entry = self.manifest.get("bm25")
        if language and (not entry or entry.get("language") != language or entry.get("count") != self.count):
            build_index_bm25(self, language, show_progress_bar)  # type: ignore[arg-type]
        if search_mode and self.manifest.get("search_mode") != search_mode:
            self.manifest["search_mode"] = search_mode
            _write_manifest(self.path, self.manifest)
        self._bm25 = None

    def _bm25_index(self) -> Any:
        if self._bm25 is None:
            from sentvec.index.bm25 import load_index_bm25

            self._bm25 = load_index_bm25(self)
        return self._bm25

    # ------------------------------------------------------------------ approximate search

    def build_ann(self, backend: str = "faiss", m: int = HNSW_M, ef_construction: int = HNSW_EF_CONSTRUCTION) -> None:
        """Build (or rebuild) the approximate HNSW index over every stored vector and record it in the manifest.

        Needs ``faiss`` (the ``sentvec[ann]`` extra). Holds all vectors as float32 in memory while building.
        """
        if backend not in ANN_BACKENDS:
            raise ValueError(f"ann backend {backend!r} is not supported; choose from {', '.join(ANN_BACKENDS)}")
        if not self.complete:
            raise InvalidIndexError(f"index {self.path} is not complete; finish the build before adding an ANN index")
        faiss = _faiss()
        hnsw = faiss.IndexHNSWFlat(self.dimension, m, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = ef_construction
        for _, chunk in self._chunks():
            hnsw.add(np.ascontiguousarray(self._floats(chunk)))
        with atomic_file(self.path / ANN_FILE) as fh:
            fh.write(faiss.serialize_index(hnsw).tobytes())
        self.manifest["ann"] = {
            "backend": backend,
            "file": ANN_FILE,
            "kind": "hnsw-flat",
            "m": m,
            "ef_construction": ef_construction,
            "count": self.count,
            "bytes": (self.path / ANN_FILE).stat().st_size,
        }
        _write_manifest(self.path, self.manifest)
        self._ann = None

    # ------------------------------------------------------------------ search

    def model(self, device: str | None = None, cache_folder: str | None = None) -> SentenceTransformer:
        """The model the index was built with, loaded by its recorded name and backend and checked against
        the fingerprint."""
        if self._model is None:
            recorded = self.manifest["model"]
            loaded = _load_model(recorded["name"], device, cache_folder, recorded.get("backend", "torch"))
            self._check_model(loaded)
            self._model = loaded
        return self._model

    def _check_model(self, model: SentenceTransformer) -> None:
        recorded = self.manifest["model"]
        found = model_fingerprint(model)
        if found != recorded["fingerprint"]:
            raise InvalidIndexError(
                f"index {self.path} was built with model {recorded['name']!r} (fingerprint {recorded['fingerprint']}); "
                f"the query model {model.model_name_or_path or '<in-memory model>'!r} has fingerprint {found}. "
                "Query with the model the index was built with, or rebuild the index with this one."
            )

    def search(
        self,
        query: str | list[str],
        k: int = 10,
        *,
        model: SentenceTransformer | None = None,
        exact: bool = True,
        rescore_multiplier: int = 4,
        ef_search: int | None = None,
        reranker: Any = None,
        rerank_top: int | None = None,
        rerank_batch_size: int = 32,
        mode: str | None = None,
        **fusion: Any,
    ) -> list[dict[str, Any]] | list[list[dict[str, Any]]]:
        """Embed ``query`` with the index's model and return the ``k`` best documents.

        Args:
            query: one text or a list of texts.
            model: the model to embed with; it must be the one the index was built with (checked by
                fingerprint). Default: load the recorded model.
            exact: False to use the approximate (HNSW) index, which must have been built.
            rescore_multiplier: for quantized indexes, candidates re-ranked per hit with the float query.
            reranker: a :class:`~sentvec.CrossEncoder` (one label): retrieve ``rerank_top`` candidates from
                the index, score each (query, text) pair with :meth:`CrossEncoder.rank` and keep the ``k`` best.
            rerank_top: candidates to rerank per query (default ``4 * k``; at least ``k``).
            rerank_batch_size: pairs per cross-encoder batch.
            mode: ``"dense"`` (embeddings), ``"bm25"`` (keywords), ``"hybrid"`` (both, fused), the last two with
                the index's BM25 (``bm25=`` at build); or ``"sparse"`` (SPLADE vectors, ``sparse=`` at build). Default: the ``search_mode`` it was built with, else dense.
            fusion: for hybrid: ``fusion`` (``"rrf"`` or ``"convex"``), ``alpha`` (weight of the dense side),
                ``rrf_k``, ``candidates`` (hits taken from each side); see :mod:`sentvec.index.hybrid`.

        Returns:
            For one text, a list of hits ``{"id", "score", "text", "corpus_id"}`` by decreasing score; for a
            list, one such list per text. With a ``reranker``, each hit also has ``rerank_score`` (the
            cross-encoder's) and the list is ordered by it; ``score`` stays the index's similarity.
        """
        if reranker is None and rerank_top is not None:
            raise ValueError("rerank_top is only used with a reranker; pass reranker=CrossEncoder(...) too")
        if reranker is not None:
            if k < 1:
                raise ValueError(f"k={k}; it must be at least 1")
            rerank_top = 4 * k if rerank_top is None else rerank_top
            if rerank_top < k:
                raise ValueError(
                    f"rerank_top={rerank_top} is smaller than k={k}; rerank at least the k hits you ask for"
                )
            if getattr(reranker, "num_labels", 1) != 1:
                raise ValueError(
                    f"the reranker has {reranker.num_labels} labels; reranking needs a cross-encoder "
                    "with one output (a relevance score)"
                )
            found = self.search(
                query,
                rerank_top,
                model=model,
                exact=exact,
                rescore_multiplier=rescore_multiplier,
                ef_search=ef_search,
                mode=mode,
                **fusion,
            )
            queries = [query] if isinstance(query, str) else list(query)
            per_query = [found] if isinstance(query, str) else found
            reranked = [_rerank(reranker, text, hits, k, rerank_batch_size) for text, hits in zip(queries, per_query)]
            return reranked[0] if isinstance(query, str) else reranked
        mode = mode or self.manifest.get("search_mode") or "dense"
        if mode != "dense":
            from sentvec.index.hybrid import search_index

            return search_index(
                self,
                query,
                k,
                mode=mode,
                model=model,
                exact=exact,
                **fusion,
                rescore_multiplier=rescore_multiplier,
                ef_search=ef_search,
            )
        if fusion:
            raise TypeError(f"search() got {', '.join(fusion)}: fusion settings need mode='hybrid'")
        if model is not None:
            self._check_model(model)
        else:
            model = self.model()
        settings = self.manifest["model"]
        texts = [query] if isinstance(query, str) else list(query)
        vectors = model.encode(
            texts,
            prompt_name=_query_prompt(model, settings),
            normalize_embeddings=self.manifest["normalize"],
            truncate_dim=settings["truncate_dim"],
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        hits = self.search_embeddings(
            vectors,
            k,
            exact=exact,
            rescore_multiplier=rescore_multiplier,
            ef_search=ef_search,
            fingerprint=settings["fingerprint"],
        )
        return hits[0] if isinstance(query, str) else hits

    def search_embeddings(
        self,
        embeddings: np.ndarray,
        k: int = 10,
        *,
        fingerprint: str | None = None,
        exact: bool = True,
        rescore_multiplier: int = 4,
        ef_search: int | None = None,
    ) -> list[list[dict[str, Any]]]:
        """Search with float query embeddings made by the index's model (as :meth:`search` makes them).

        Args:
            embeddings: (Q, D) float32 queries (normalized if the index is).
            fingerprint: :func:`model_fingerprint` of the model that made them; checked when given.
        """
        if k < 1:
            raise ValueError(f"k={k}; it must be at least 1")
        if fingerprint is not None and fingerprint != self.manifest["model"]["fingerprint"]:
            raise InvalidIndexError(
                f"query embeddings come from a model with fingerprint {fingerprint}, but index "
                f"{self.path} was built with {self.manifest['model']['name']!r} "
                f"(fingerprint {self.manifest['model']['fingerprint']}); use that model"
            )
        queries = np.atleast_2d(np.asarray(embeddings, dtype=np.float32))
        if queries.shape[1] != self.dimension:
            raise InvalidIndexError(
                f"query embeddings have dimension {queries.shape[1]}, index {self.path} holds "
                f"{self.dimension}: they come from another model (or truncate_dim)"
            )
        if self.count == 0:
            return [[] for _ in queries]
        if exact:
            searcher = QuantizedSearcher(
                queries, self.precision, k, self._load_ranges(), rescore_multiplier=rescore_multiplier
            )
            for start, chunk in self._chunks():
                searcher.add(chunk, start)
            raw = searcher.results()
        else:
            raw = self._ann_search(queries, k, ef_search)
        return [[self._hit(h["corpus_id"], h["score"]) for h in hits] for hits in raw]

    def _ann_search(self, queries: np.ndarray, k: int, ef_search: int | None) -> list[list[dict[str, Any]]]:
        ann = self.manifest.get("ann")
        if not ann:
            raise InvalidIndexError(
                f"index {self.path} has no approximate index; build it with "
                "`Index.open(path).build_ann()` or `sentvec index build ... --ann faiss`, or search exactly"
            )
        if ann["count"] != self.count:
            raise InvalidIndexError(
                f"the approximate index of {self.path} covers {ann['count']} of {self.count} documents; "
                "rebuild it with build_ann()"
            )
        if self._ann is None:
            faiss = _faiss()
            file = self.path / ANN_FILE
            if not file.is_file() or file.stat().st_size != ann["bytes"]:
                raise InvalidIndexError(
                    f"index {self.path} is corrupt: {ANN_FILE} is missing or truncated; rebuild it with build_ann()"
                )
            if ann.get("data_file"):  # inverted lists on disk (sentvec.index.ivf), memory-mapped
                from sentvec.index.ivf import load_ivf

                self._ann = load_ivf(self.path, ann)
            else:
                self._ann = faiss.deserialize_index(np.fromfile(file, dtype=np.uint8))
        if ann.get("kind", "hnsw-flat").startswith("ivf"):  # built by sentvec.index.ivf.build_ivf
            faiss = _faiss()
            faiss.extract_index_ivf(self._ann).nprobe = ann["nprobe"]
        else:
            self._ann.hnsw.efSearch = ef_search or hnsw_ef_search(k)
        scores, ids = self._ann.search(np.ascontiguousarray(queries), k)
        return [
            [{"corpus_id": int(i), "score": float(s)} for s, i in zip(row_s, row_i) if i >= 0]
            for row_s, row_i in zip(scores, ids)
        ]

    # ------------------------------------------------------------------ reading stored data

    def _load_ranges(self) -> np.ndarray | None:
        if self.precision in ("int8", "uint8") and self._ranges is None and self.count:
            self._ranges = np.load(self.path / "ranges.npy")
        return self._ranges

    def _chunks(self) -> Iterator[tuple[int, np.ndarray]]:
        """``(first row id, vectors)`` per chunk, memory-mapped: one chunk is read at a time.

        Each chunk's vectors are checked whole the first time they are read (a vectorised pass, once per
        chunk for the life of this object).
        """
        for number, start in enumerate(self._starts[:-1]):
            file, vectors = self._chunk_vectors(number)
            if number not in self._checked:
                self._check_vectors(number, file, vectors, None)
            yield int(start), vectors

    def _chunk_vectors(self, number: int) -> tuple[Path, np.ndarray]:
        chunk = self.manifest["chunks"][number]
        file = self.path / "chunks" / (chunk["shard"] if "shard" in chunk else chunk["vectors"])["file"]
        try:
            vectors = _read_shard_vectors(file) if "shard" in chunk else np.load(file, mmap_mode="r")
        except (ValueError, OSError) as err:
            raise InvalidIndexError(
                f"index {self.path} is corrupt: {file.name} cannot be read ({err}); rebuild it with --overwrite"
            ) from None
        width = vectors.shape[1] if vectors.ndim == 2 else -1
        expected = self.dimension if self.precision in ("float32", "int8", "uint8") else (self.dimension + 7) // 8
        if len(vectors) != chunk["rows"] or width != expected:
            raise InvalidIndexError(
                f"index {self.path} is corrupt: {file.name} holds {len(vectors)} rows of width "
                f"{width}, the manifest says {chunk['rows']} of {expected}; rebuild it with --overwrite"
            )
        return file, vectors

    def _check_vectors(self, number: int, file: Path, vectors: np.ndarray, rows: np.ndarray | None) -> None:
        """Refuse float32 vectors that no model makes: values that are not finite (or overflow when squared),
        and in a normalized index a length other than 1 (or 0). ``rows``: a sample; None checks them all."""
        if self.precision != "float32":  # every quantized code is a valid vector: only --verify sees a flip
            return
        sample = np.asarray(vectors if rows is None else vectors[rows], dtype=np.float32)
        with np.errstate(over="ignore", invalid="ignore"):
            squared = np.einsum("ij,ij->i", sample, sample)
        bad = ~np.isfinite(squared)
        if self.manifest["normalize"]:
            bad |= (np.abs(squared - 1) > NORM_TOLERANCE) & (squared != 0)
        if bad.any():
            first = int(np.argmax(bad))
            row = first if rows is None else int(rows[first])
            what = (
                "a value that is not finite (or too large)"
                if not np.isfinite(squared[first])
                else f"a vector of length {np.sqrt(squared[first]):.4g} in a normalized index"
            )
            raise InvalidIndexError(
                f"index {self.path} is corrupt: {file.name} row {row} holds {what}: the file "
                "was damaged after it was written; rebuild the index with --overwrite"
            )
        if rows is None:
            self._checked.add(number)

    def _floats(self, chunk: np.ndarray) -> np.ndarray:
        if self.precision == "float32":
            return np.asarray(chunk, dtype=np.float32)
        return dequantize_embeddings(np.asarray(chunk), self.precision, self._load_ranges())[:, : self.dimension]

    def _hit(self, corpus_id: int, score: float) -> dict[str, Any]:
        number = int(np.searchsorted(self._starts, corpus_id, side="right") - 1)
        if self._texts_cache is None or self._texts_cache[0] != number:
            chunk = self.manifest["chunks"][number]
            if "shard" in chunk:
                file = self.path / "chunks" / chunk["shard"]["file"]
                documents = _read_shard_documents(file)
            else:
                file = self.path / "chunks" / chunk["documents"]["file"]
                documents = _read_documents(self.path, file)
            if len(documents) != chunk["rows"]:
                raise InvalidIndexError(
                    f"index {self.path} is corrupt: {file.name} holds {len(documents)} documents, "
                    f"the manifest says {chunk['rows']}; rebuild it with --overwrite"
                )
            self._texts_cache = (number, documents)
        doc_id, text = self._texts_cache[1][corpus_id - int(self._starts[number])]
        return {"id": doc_id, "score": float(score), "text": text, "corpus_id": int(corpus_id)}


def _read_documents(folder: Path, file: Path) -> list[Any]:
    """A chunk's ``[id, text]`` lines; a damaged line is named with its file and line number."""
    documents = []
    try:
        with open(file, encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                try:
                    document = json.loads(line)
                except json.JSONDecodeError as err:
                    raise InvalidIndexError(
                        f"index {folder} is corrupt: {file.name} line {number} is not valid JSON "
                        f"({err.msg}); rebuild the index with --overwrite"
                    ) from None
                if not (isinstance(document, list) and len(document) == 2 and isinstance(document[1], str)):
                    raise InvalidIndexError(
                        f"index {folder} is corrupt: {file.name} line {number} is not an [id, text] "
                        "pair; rebuild the index with --overwrite"
                    )
                documents.append(document)
    except UnicodeDecodeError:
        raise InvalidIndexError(
            f"index {folder} is corrupt: {file.name} is not UTF-8 text; rebuild the index with --overwrite"
        ) from None
    return documents


def _rerank(reranker: Any, query: str, hits: list[dict[str, Any]], k: int, batch_size: int) -> list[dict[str, Any]]:
    """The ``k`` best of ``hits`` by the cross-encoder's score of (query, hit text), each with ``rerank_score``."""
    if not hits:
        return []
    ranked = reranker.rank(query, [h["text"] for h in hits], top_k=k, batch_size=batch_size, show_progress_bar=False)
    return [{**hits[r["corpus_id"]], "rerank_score": float(r["score"])} for r in ranked]


def _query_prompt(model: SentenceTransformer, settings: dict[str, Any]) -> str | None:
    """The prompt for queries: the model's ``query`` prompt when documents were embedded with a prompt."""
    if settings.get("prompt_name") and "query" in (getattr(model, "prompts", None) or {}):
        return "query"
    return None


# --------------------------------------------------------------------------- manifest


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def _read_manifest(folder: Path) -> dict[str, Any]:
    file = folder / MANIFEST
    if not folder.exists():
        raise FileNotFoundError(f"index {str(folder)!r} does not exist; build it with `sentvec index build`")
    if not file.is_file():
        raise InvalidIndexError(
            f"{folder} is not a sentvec index (no {MANIFEST}); build one with `sentvec index build`"
        )
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InvalidIndexError(
            f"index {folder} is corrupt: {MANIFEST} is not valid JSON ({err}); rebuild it with --overwrite"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InvalidIndexError(f"{file} is not a sentvec index manifest; rebuild the index with --overwrite")
    if manifest.get("version") != VERSION:
        raise InvalidIndexError(
            f"index {folder} has format version {manifest.get('version')}; this sentvec reads "
            f"version {VERSION}: rebuild it with --overwrite"
        )
    required = ("model", "precision", "normalize", "chunk_size", "source", "chunks", "count", "complete")
    missing = [key for key in required if key not in manifest]
    if missing or sum(c["rows"] for c in manifest["chunks"]) != manifest["count"]:
        raise InvalidIndexError(
            f"index {folder} is corrupt: {MANIFEST} lacks {missing or 'a consistent count'}; "
            "rebuild it with --overwrite"
        )
    return manifest


def _write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    with atomic_file(folder / MANIFEST, "w") as fh:
        fh.write(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")


def _start_or_resume(
    folder: Path, settings: dict[str, Any], overwrite: bool, source: Source | None = None
) -> dict[str, Any]:
    """The manifest to build on: a fresh one, or the interrupted build's own when its settings match.

    With ``source`` (single-process builds), a corpus file that changed since is accepted when the documents
    already stored are still its first ones (a bad line after them fixed, documents appended).
    """
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"{folder} exists and is not a folder; choose another index path")
    if folder.is_dir() and any(folder.iterdir()):
        if not (folder / MANIFEST).is_file():
            raise FileExistsError(f"{folder} exists and is not a sentvec index; choose an empty or new folder")
        _sweep_temporaries(folder)
        if overwrite:
            _clear(folder)
        else:
            manifest = _read_manifest(folder)
            if manifest["complete"]:
                raise FileExistsError(
                    f"index {folder} already exists and is complete; pass --overwrite (overwrite=True) to rebuild it"
                )
            differences = [key for key in settings if manifest.get(key) != settings[key]]
            if differences == ["source"] and source is not None and _same_stored_prefix(folder, manifest, source):
                logger.info(
                    "the corpus %s changed after the %d documents stored in %s; resuming after them",
                    source.name,
                    manifest["count"],
                    folder,
                )
                manifest["source"] = settings["source"]
                _write_manifest(folder, manifest)
                differences = []
            if differences:
                raise InvalidIndexError(
                    f"index {folder} holds an unfinished build with other settings ({', '.join(differences)} "
                    "differ, e.g. the corpus file changed); pass --overwrite (overwrite=True) to start again"
                )
            logger.info("resuming the build of %s after %d documents", folder, manifest["count"])
            return manifest
    folder.mkdir(exist_ok=True)
    (folder / "chunks").mkdir(exist_ok=True)
    manifest = {
        **settings,
        "chunks": [],
        "count": 0,
        "complete": False,
        "ann": None,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    _write_manifest(folder, manifest)
    return manifest


def _sweep_temporaries(folder: Path, stale_seconds: float = STALE_SECONDS) -> None:
    """Remove the temporary files a killed build left in an index folder: only names index writers make
    (``.NAME.RANDOM.tmp``, an IVF build's ``ann.parts`` folder and data files the manifest does not name),
    and only those untouched for ``stale_seconds`` (a running writer keeps its files fresh).

    Best effort: a read-only index (or a file another process removes first) is left as it is.
    """
    now = time.time()
    removed, freed = 0, 0

    def stale(path: Path) -> bool:
        try:
            return now - path.lstat().st_mtime > stale_seconds
        except OSError:
            return False

    candidates = [
        p
        for where in (folder, folder / "chunks")
        if where.is_dir()
        for p in where.iterdir()
        if _TEMPORARY.match(p.name) and p.is_file() and not p.is_symlink()
    ]
    manifest_ann = None
    with contextlib.suppress(OSError, ValueError):
        manifest_ann = (json.loads((folder / MANIFEST).read_text(encoding="utf-8")).get("ann") or {}).get("data_file")
    candidates += [
        p for p in folder.glob("ann.*.ivfdata") if p.name != manifest_ann and p.is_file() and not p.is_symlink()
    ]
    for path in candidates:
        if stale(path):
            with contextlib.suppress(OSError):
                size = path.stat().st_size
                path.unlink()
                removed, freed = removed + 1, freed + size
    parts = folder / "ann.parts"  # sentvec.index.ivf.PARTS_FOLDER: an IVF build's parts, removed when it ends
    if parts.is_dir() and not parts.is_symlink() and stale(parts) and all(stale(p) for p in parts.iterdir()):
        size = sum(p.stat().st_size for p in parts.iterdir() if p.is_file())
        shutil.rmtree(parts, ignore_errors=True)
        if not parts.exists():
            removed, freed = removed + 1, freed + size
    if removed:
        logger.info(
            "removed %d temporary file(s) of %.1f MiB that an interrupted build left in %s",
            removed,
            freed / (1 << 20),
            folder,
        )


def _same_stored_prefix(folder: Path, manifest: dict[str, Any], source: Source) -> bool:
    """Whether ``source``'s first documents are exactly the ones the manifest's chunks hold (same path and
    reading settings, each chunk's documents file rebuilt from the corpus byte for byte). Reads, never embeds."""
    recorded = manifest["source"]
    wanted = source.identity()
    if any(recorded.get(key) != wanted[key] for key in ("path", "format", "text_field", "id_field")):
        return False
    if any("documents" not in chunk for chunk in manifest["chunks"]):  # a distributed build's shards
        return False
    records = source.records()
    try:
        for chunk in manifest["chunks"]:
            digest = hashlib.sha256()
            for _ in range(chunk["rows"]):
                doc_id, text = next(records)
                digest.update((json.dumps([doc_id, text], ensure_ascii=False) + "\n").encode())
            if digest.hexdigest() != chunk["documents"]["sha256"]:
                return False
    except (StopIteration, ValueError):  # shorter now, or unreadable within the stored part
        return False
    return True


def _after_failed_build(folder: Path, stored: int, existed: bool, unit: str = "documents") -> None:
    """After a build failed (or was interrupted): keep what it stored, or remove what it made when that is
    nothing, so that no empty, unfinished index is left to block the next build. Says which on the log."""
    if stored:
        if unit == "documents":
            logger.warning(
                "%s keeps the %d documents stored before the build stopped (unfinished, searchable): "
                "run the same build again to resume after them (also once the corpus is fixed past "
                "them), or pass --overwrite (overwrite=True) to start again",
                folder,
                stored,
            )
        else:
            logger.warning(
                "%s keeps the %d %s finished before the build stopped: run the same build again to "
                "resume after them, or pass --overwrite (overwrite=True) to start again",
                folder,
                stored,
                unit,
            )
        return
    with contextlib.suppress(OSError):
        (folder / MANIFEST).unlink(missing_ok=True)
        (folder / "ranges.npy").unlink(missing_ok=True)
        _sweep_temporaries(folder, stale_seconds=-1)  # this process was the writer: none is in use now
        chunks = folder / "chunks"
        if chunks.is_dir():
            for file in chunks.iterdir():  # a chunk or shard the manifest does not list yet
                if re.match(r"^\d{6,}\.(npy|jsonl|parquet|json)$", file.name):
                    file.unlink()
            chunks.rmdir()
        if not existed:
            folder.rmdir()
    logger.warning(
        "the build stopped before any document was stored: removed the unfinished index %s%s",
        folder,
        "" if existed else " (the folder too)",
    )


def _clear(folder: Path) -> None:
    """Remove an old index's files (only the names an index uses), keeping the folder."""
    (folder / MANIFEST).unlink()  # first: a crash from here on leaves no index that looks valid
    for file in [
        folder / "ranges.npy",
        folder / ANN_FILE,
        *folder.glob("ann.*.ivfdata"),
        *(folder / "chunks").glob("*"),
    ]:
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            file.unlink()
    shutil.rmtree(folder / "bm25", ignore_errors=True)
    shutil.rmtree(folder / "sparse", ignore_errors=True)


class _Builder:
    """Streams the source into chunks after the ones the manifest already lists."""

    def __init__(
        self, folder: Path, manifest: dict[str, Any], model: SentenceTransformer, source: Source, batch_size: int
    ) -> None:
        self.folder, self.manifest, self.model, self.source, self.batch_size = (
            folder,
            manifest,
            model,
            source,
            batch_size,
        )
        self.ranges: np.ndarray | None = np.load(folder / "ranges.npy") if (folder / "ranges.npy").is_file() else None

    def run(self, show_progress_bar: bool, stop_after_chunks: int | None) -> None:
        from tqdm.auto import tqdm

        done = self.manifest["count"]
        total = self.source.count() if show_progress_bar else None
        written = 0
        with (
            _without_onednn(),
            tqdm(
                total=total,
                initial=done,
                unit="doc",
                desc="Embedding",
                disable=not show_progress_bar,
                dynamic_ncols=True,
            ) as bar,
        ):
            for batch in _batched(self.source.records(skip=done), self.manifest["chunk_size"]):
                if stop_after_chunks is not None and written >= stop_after_chunks:
                    return
                self._write_chunk(batch)
                _release_memory()
                written += 1
                bar.update(len(batch))
        self.manifest["complete"] = True
        self.manifest["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        _write_manifest(self.folder, self.manifest)

    def _write_chunk(self, batch: list[tuple[Any, str]]) -> None:
        m = self.manifest
        texts = [text for _, text in batch]
        pieces = []
        # A piece at a time, the heap given back after each: glibc reuses freed blocks of one size badly
        # for tensors of another, so one encode() over a whole chunk grows the heap a little more with
        # every batch (and chunk), while a piece's allocations stay small enough to be returned whole.
        for start in range(0, len(texts), ENCODE_PIECE):
            pieces.append(
                np.asarray(
                    self.model.encode(
                        texts[start : start + ENCODE_PIECE],
                        prompt_name=m["model"]["prompt_name"],
                        batch_size=self.batch_size,
                        normalize_embeddings=m["normalize"],
                        truncate_dim=m["model"]["truncate_dim"],
                        convert_to_numpy=True,
                        show_progress_bar=False,
                    ),
                    dtype=np.float32,
                )
            )
            _release_memory()
        vectors = np.concatenate(pieces)
        del pieces, texts
        if m["precision"] in ("int8", "uint8") and self.ranges is None:
            # the first chunk calibrates the buckets for the whole index
            self.ranges = np.vstack([vectors.min(axis=0), vectors.max(axis=0)])
            with atomic_file(self.folder / "ranges.npy") as fh:
                np.save(fh, self.ranges)
        stored = (
            vectors if m["precision"] == "float32" else quantize_embeddings(vectors, m["precision"], ranges=self.ranges)
        )
        name = _chunk_name(len(m["chunks"]))
        entry: dict[str, Any] = {"rows": len(batch)}
        for kind, suffix, write in (
            ("vectors", ".npy", lambda fh: np.save(fh, stored)),
            (
                "documents",
                ".jsonl",
                lambda fh: fh.write(
                    "".join(json.dumps([doc_id, text], ensure_ascii=False) + "\n" for doc_id, text in batch).encode()
                ),
            ),
        ):
            file = self.folder / "chunks" / (name + suffix)
            with atomic_file(file) as fh:
                write(fh)
            entry[kind] = {"file": file.name, "bytes": file.stat().st_size, "sha256": _sha256(file)}
        m["chunks"].append(entry)
        m["count"] += len(batch)
        _write_manifest(self.folder, m)


@contextlib.contextmanager
def _without_onednn() -> Iterator[None]:
    """Run torch's CPU kernels without oneDNN (restored afterwards, also on error).

    oneDNN, which torch uses for GELU on CPU, compiles one kernel per tensor shape and caches up to 1024
    of them. The encoder works on packed tokens, so almost every batch has a new shape and the cache grows
    chunk after chunk (measured: +31 MiB over 100 chunks of 10,000 lines with the tiny test model, still
    growing). ATen's own kernels give the same embeddings (within 2e-7 on all-MiniLM-L6-v2) as fast.
    """
    import torch

    enabled = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = enabled


def _release_memory() -> None:
    """Give freed heap pages back to the OS after a piece of a chunk (glibc only; elsewhere nothing happens).

    Each piece of a chunk allocates and frees tensors of new shapes; glibc keeps the freed pages,
    fragmented, so without this the resident size creeps up chunk after chunk (measured: +65 MiB over 24
    chunks of 10,000 with the tiny test model, flat with it).
    """
    global _malloc_trim
    if _malloc_trim is None:
        try:
            import ctypes

            _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim: Any = None


def _batched(records: Iterator[tuple[Any, str]], size: int) -> Iterator[list[tuple[Any, str]]]:
    batch: list[tuple[Any, str]] = []
    for record in records:
        batch.append(record)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _read_shard_vectors(file: Path) -> np.ndarray:
    from sentvec.distributed import read_shard_vectors

    return read_shard_vectors(file)


def _read_shard_documents(file: Path) -> list[tuple[Any, str]]:
    from sentvec.distributed import read_shard_documents

    return read_shard_documents(file)


def _faiss() -> Any:
    try:
        import faiss
    except ImportError:
        raise ImportError(
            "the approximate index needs FAISS: pip install -e '.[ann]' in the sentvec checkout (faiss-cpu)"
        ) from None
    return faiss
