"""The index: open an index folder, build one, and search it (exact, approximate, keyword, sparse or hybrid).

>>> index = Index.build("docs.jsonl", "all-MiniLM-L6-v2", "docs.index")   # doctest: +SKIP
>>> Index.open("docs.index").search("how do I install it?", k=5)          # doctest: +SKIP

The folder's layout is in :mod:`sentvec.index.manifest`, how a build resumes in :mod:`sentvec.index.folder`,
what opening checks in :mod:`sentvec.index.storage`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from sentvec.index.ann import HNSW_EF_CONSTRUCTION, HNSW_M, build_hnsw, check_ann, load_hnsw, search_ann
from sentvec.index.bm25 import BM25, build_index_bm25, load_index_bm25
from sentvec.index.builder import check_build_inputs, embed_corpus, load_model, model_and_settings
from sentvec.index.folder import sweep_temporaries
from sentvec.index.hybrid import search_index
from sentvec.index.ivf import load_ivf
from sentvec.index.manifest import MANIFEST, InvalidIndexError, model_fingerprint, read_manifest, write_manifest
from sentvec.index.options import ANN_BACKENDS, BuildOptions
from sentvec.index.sparse import build_index_sparse, search_sparse
from sentvec.index.storage import StoredIndex, check_files
from sentvec.model import SentenceTransformer
from sentvec.quantization import QuantizedSearcher


class Index(StoredIndex):
    """An embedding index folder. Build one with :meth:`build`, open it with :meth:`open`, query with :meth:`search`.

    >>> index = Index.build("docs.jsonl", "all-MiniLM-L6-v2", "docs.index")   # doctest: +SKIP
    >>> Index.open("docs.index").search("how do I install it?", k=5)          # doctest: +SKIP
    [{'id': 'install', 'score': 0.71, 'text': '...', 'corpus_id': 12}, ...]
    """

    def __init__(self, path: Path, manifest: dict[str, Any]) -> None:
        super().__init__(path, manifest)
        self._model: SentenceTransformer | None = None
        self._ann: tuple[dict[str, Any], Any] | None = None  # (the manifest entry it was loaded for, the index)
        self._bm25: BM25 | None = None

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
        manifest = read_manifest(folder)
        check_files(folder, manifest, verify)
        sweep_temporaries(folder)
        index = cls(folder, manifest)
        index._check_on_open()
        return index

    # ------------------------------------------------------------------ build

    @classmethod
    def build(
        cls,
        corpus: str | os.PathLike[str],
        model: str | SentenceTransformer,
        path: str | os.PathLike[str],
        options: BuildOptions | None = None,
        **settings: Any,
    ) -> Index:
        """Embed a corpus file into an index folder at ``path``, or resume an interrupted build there.

        Args:
            corpus: a text file (one document per line), JSON lines, CSV/TSV or Parquet (see
                :mod:`sentvec.index.sources`): a local path or a URI (``s3://...``, ``gs://``, ``abfs://``,
                ``hdfs://``, ``file://``).
            model: a model name or folder, or a loaded SentenceTransformer.
            path: the index folder (created; its parent must exist).
            options: the build's settings (:class:`~sentvec.index.BuildOptions`; default: its defaults).
            settings: any :class:`~sentvec.index.BuildOptions` field as a keyword (``precision="int8"``,
                ``chunk_size=5_000``, ``bm25="en"``...), in place of the one in ``options``.

        Returns:
            The opened index.

        Raises:
            ValueError: a setting no build can use, or a corpus that is empty, binary or malformed at its
                start (found before the model is loaded), or malformed further on. A build that fails
                before storing a document removes what it made; one that fails later keeps the chunks
                stored, and running it again resumes after them (a warning on the ``sentvec.index`` logger
                says which).
        """
        options = BuildOptions.of(options, **settings)
        options.check()
        # a complete index may stay when only its missing BM25 or sparse vectors are asked for (below)
        source = check_build_inputs(
            corpus,
            path,
            format=options.format,
            text_field=options.text_field,
            id_field=options.id_field,
            overwrite=options.overwrite or bool(options.bm25),
            filesystem=options.filesystem,
        )
        folder = Path(path).expanduser()
        loaded, manifest_settings = model_and_settings(model, source, options)
        if (options.bm25 or options.sparse) and not options.overwrite and (folder / MANIFEST).is_file():
            existing = cls.open(folder)
            if existing.complete and all(existing.manifest.get(k) == v for k, v in manifest_settings.items()):
                existing.add_retrievers(options)
                return existing
        embed_corpus(folder, loaded, source, manifest_settings, options)
        index = cls.open(folder)
        if options.ann and index.complete:
            index.build_ann(options.ann)
        index.add_retrievers(options)
        return index

    def add_retrievers(self, options: BuildOptions) -> None:
        """Give a complete index what ``options`` asks for beside the vectors and lacks: its BM25 index
        (``bm25``), its sparse vectors (``sparse``), its default ``search_mode``. An unfinished index is left."""
        if not self.complete:
            return
        self._add_bm25(options.bm25, options.search_mode, options.show_progress_bar)
        self._add_sparse(options.sparse, options.batch_size, options.show_progress_bar)

    def _add_sparse(self, model: Any, batch_size: int, show_progress_bar: bool) -> None:
        """Encode every document with ``model`` into the index's sparse vectors, unless they are there."""
        if model is not None and (not self.manifest.get("sparse") or self.manifest["sparse"]["count"] != self.count):
            build_index_sparse(self, model, batch_size, show_progress_bar)

    def _add_bm25(self, language: str | None, search_mode: str | None, show_progress_bar: bool) -> None:
        """Build the BM25 index in ``language`` unless it is there; record ``search_mode`` as the default."""
        entry = self.manifest.get("bm25")
        if language and (not entry or entry.get("language") != language or entry.get("count") != self.count):
            build_index_bm25(self, language, show_progress_bar)  # type: ignore[arg-type]
        if search_mode and self.manifest.get("search_mode") != search_mode:
            self.manifest["search_mode"] = search_mode
            write_manifest(self.path, self.manifest)
        self._bm25 = None

    def bm25(self) -> BM25:
        """The index's BM25 keyword index (loaded once, memory-mapped), checked against the manifest.

        Raises:
            InvalidIndexError: the index has none, or it is unreadable or stale.
        """
        if self._bm25 is None:
            self._bm25 = load_index_bm25(self)
        return self._bm25

    _bm25_index = bm25

    def sparse_hits(self, texts: list[str], k: int) -> list[list[tuple[int, float]]]:
        """Each text's ``k`` best ``(row, dot product)`` through the index's sparse (SPLADE) vectors.

        Raises:
            InvalidIndexError: the index has none, or they are unreadable or stale.
        """
        return search_sparse(self, texts, k)

    # ------------------------------------------------------------------ approximate search

    def build_ann(self, backend: str = "faiss", m: int = HNSW_M, ef_construction: int = HNSW_EF_CONSTRUCTION) -> None:
        """Build (or rebuild) the approximate HNSW index over every stored vector and record it in the manifest.

        Needs ``faiss`` (the ``sentvec[ann]`` extra). Holds all vectors as float32 in memory while building.
        """
        if backend not in ANN_BACKENDS:
            raise ValueError(f"ann backend {backend!r} is not supported; choose from {', '.join(ANN_BACKENDS)}")
        if not self.complete:
            raise InvalidIndexError(f"index {self.path} is not complete; finish the build before adding an ANN index")
        chunks = (self.as_float32(chunk) for _, chunk in self.vector_chunks())
        entry = build_hnsw(self.path, self.dimension, chunks, self.count, m, ef_construction)
        self.manifest["ann"] = {**entry, "backend": backend}
        write_manifest(self.path, self.manifest)
        self._ann = None

    # ------------------------------------------------------------------ search

    def model(self, device: str | None = None, cache_folder: str | None = None) -> SentenceTransformer:
        """The model the index was built with, loaded by its recorded name and backend and checked against
        the fingerprint."""
        if self._model is None:
            recorded = self.manifest["model"]
            loaded = load_model(recorded["name"], device, cache_folder, recorded.get("backend", "torch"))
            self._check_model(loaded)
            self._model = loaded
        return self._model

    def _check_model(self, model: SentenceTransformer) -> None:
        """Refuse a model other than the one the index was built with (by fingerprint)."""
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
            mode: ``"dense"`` (embeddings), ``"bm25"`` (keywords, with the index's BM25: ``bm25=`` at build),
                ``"sparse"`` (SPLADE vectors, ``sparse=`` at build) or ``"hybrid"`` (dense fused with BM25 or the
                sparse vectors). Default: the ``search_mode`` it was built with, else dense.
            fusion: for hybrid: ``lexical`` (the dense side's partner, ``"bm25"`` or ``"sparse"``; default: BM25
                when the index has it, else its sparse vectors), ``fusion`` (``"rrf"`` or ``"convex"``),
                ``alpha`` (weight of the dense side), ``rrf_k``, ``candidates`` (hits taken from each side); see
                :mod:`sentvec.index.hybrid`.

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
            per_query: list[Any] = [found] if isinstance(query, str) else list(found)
            reranked = [_rerank(reranker, text, hits, k, rerank_batch_size) for text, hits in zip(queries, per_query)]
            return reranked[0] if isinstance(query, str) else reranked
        mode = mode or self.manifest.get("search_mode") or "dense"
        if mode != "dense":
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
            prompt_name=query_prompt(model, settings),
            normalize_embeddings=self.manifest["normalize"],
            truncate_dim=settings["truncate_dim"],
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        hits = self.search_embeddings(
            np.asarray(vectors, dtype=np.float32),
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
            for start, chunk in self.vector_chunks():
                searcher.add(chunk, start)
            raw = searcher.results()
        else:
            raw = self._ann_search(queries, k, ef_search)
        return [[self.document(int(h["corpus_id"]), h["score"]) for h in hits] for hits in raw]

    def _ann_search(self, queries: np.ndarray, k: int, ef_search: int | None) -> list[list[dict[str, Any]]]:
        """Search the approximate index (HNSW, or the on-disk IVF), loaded once per manifest entry."""
        entry = check_ann(self.path, self.manifest.get("ann"), self.count)
        if self._ann is None or self._ann[0] is not entry:  # a rebuilt ANN index is a new entry
            loaded = load_ivf(self.path, entry) if entry.get("data_file") else load_hnsw(self.path)
            self._ann = (entry, loaded)
        return search_ann(self._ann[1], entry, queries, k, ef_search)


def _rerank(reranker: Any, query: str, hits: list[dict[str, Any]], k: int, batch_size: int) -> list[dict[str, Any]]:
    """The ``k`` best of ``hits`` by the cross-encoder's score of (query, hit text), each with ``rerank_score``."""
    if not hits:
        return []
    ranked = reranker.rank(query, [h["text"] for h in hits], top_k=k, batch_size=batch_size, show_progress_bar=False)
    return [{**hits[r["corpus_id"]], "rerank_score": float(r["score"])} for r in ranked]


def query_prompt(model: SentenceTransformer, settings: dict[str, Any]) -> str | None:
    """The prompt for queries: the model's ``query`` prompt when documents were embedded with a prompt.

    Args:
        model: the query model.
        settings: the manifest's ``model`` settings.
    """
    if settings.get("prompt_name") and "query" in (getattr(model, "prompts", None) or {}):
        return "query"
    return None


_query_prompt = query_prompt  # the name sentvec.server uses
