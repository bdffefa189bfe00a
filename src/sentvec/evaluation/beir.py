"""Retrieval quality on a BEIR-format collection: dense, BM25, sparse or hybrid search, scored on judged queries.

A BEIR folder holds ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl`` (``_id``, ``text``) and
``qrels/SPLIT.tsv`` (a header, then ``query-id corpus-id score``; score > 0 is relevant). Documents are
searched as ``title + " " + text``, as BEIR does.

>>> from sentvec.evaluation.beir import evaluate_beir
>>> evaluate_beir(model, "data/ir/scifact", split="train", mode="hybrid")     # doctest: +SKIP
{'scifact-train-hybrid_ndcg@10': 0.71..., 'scifact-train-hybrid_mrr@10': ..., ...}

The metrics are the :class:`~sentvec.evaluation.InformationRetrievalEvaluator`'s (binary relevance; see
:func:`~sentvec.evaluation.metrics.retrieval_metrics`): nDCG@10, MRR@10, Recall@100 and MAP@100
(average precision over the first 100, divided by ``min(100, relevant)``). Graded judgments (Cranfield's
1-4) count as relevant when above 0. Queries without a relevant judgment are skipped. Judgments naming a
document missing from the corpus are kept (they count as relevant and can never be found, as in trec_eval)
with a warning, so a broken collection never gives a silently better score.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sentvec.evaluation.evaluator import RetrievalEncoder
from sentvec.evaluation.metrics import retrieval_metrics
from sentvec.index.bm25 import BM25
from sentvec.index.hybrid import ALPHA, CANDIDATES, FUSION, MODES, RRF_K, check_fusion, fuse
from sentvec.sparse_encoder.inverted import InvertedIndex

logger = logging.getLogger(__name__)

#: The cut-offs of the reported metrics.
NDCG_AT, MRR_AT, RECALL_AT, MAP_AT = 10, 10, 100, 100


@dataclass
class BeirData:
    """One split of a BEIR collection, read and checked by :func:`load_beir`.

    Attributes:
        name: ``{folder name}-{split}``.
        corpus_ids, corpus: document ids and texts (``title + " " + text``), in file order.
        query_ids, queries: the judged queries (those with a relevant document), in file order.
        relevant: query id -> ids of its relevant documents (score > 0).
        qrels: query id -> document id -> judged score, for every judged query (also score 0).
    """

    name: str
    corpus_ids: list[str]
    corpus: list[str]
    query_ids: list[str]
    queries: list[str]
    relevant: dict[str, set[str]]
    qrels: dict[str, dict[str, int]] = field(default_factory=dict)


def _read_jsonl(path: Path, kind: str) -> list[dict[str, Any]]:
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing; a BEIR folder holds corpus.jsonl, queries.jsonl and qrels/SPLIT.tsv"
        )
    records = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{number} is not valid JSON ({err.msg})") from None
            if not isinstance(record, dict) or "_id" not in record:
                raise ValueError(f'{path}:{number}: each {kind} line needs an "_id" field')
            records.append(record)
    return records


def _unique_ids(records: list[dict[str, Any]], path: Path) -> list[str]:
    ids = [str(r["_id"]) for r in records]
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        duplicates = [i for i in ids if i in seen or seen.add(i)]  # type: ignore[func-returns-value]
        raise ValueError(
            f"{path} has {len(duplicates)} duplicate ids (first: {duplicates[0]!r}); every _id must be "
            "unique, or scores would mix up the documents that share one"
        )
    return ids


def load_beir(folder: str | os.PathLike[str], split: str = "test") -> BeirData:
    """Read and check one split of a BEIR folder (see the module docstring).

    Raises:
        FileNotFoundError: a missing file (the error lists the qrels splits there are).
        ValueError: an empty corpus, duplicate ids, a malformed line, or no judged query.
    """
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"BEIR folder {str(root)!r} does not exist")
    qrels_file = root / "qrels" / f"{split}.tsv"
    if not qrels_file.is_file():
        splits = sorted(p.stem for p in (root / "qrels").glob("*.tsv"))
        raise FileNotFoundError(f"{qrels_file} is missing; the splits there are: {', '.join(splits) or 'none'}")
    documents = _read_jsonl(root / "corpus.jsonl", "corpus")
    if not documents:
        raise ValueError(f"{root / 'corpus.jsonl'} holds no documents; there is nothing to search")
    corpus_ids = _unique_ids(documents, root / "corpus.jsonl")
    corpus = [f"{d.get('title') or ''} {d.get('text') or ''}".strip() for d in documents]
    query_records = _read_jsonl(root / "queries.jsonl", "query")
    query_text = dict(
        zip(_unique_ids(query_records, root / "queries.jsonl"), (str(q.get("text") or "") for q in query_records))
    )

    qrels: dict[str, dict[str, int]] = {}
    with open(qrels_file, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t"))
    for number, row in enumerate(rows, start=1):
        if number == 1 and row and not _is_number(row[-1]):  # the header line
            continue
        if not row or not "".join(row).strip():
            continue
        if len(row) != 3 or not _is_number(row[2]):
            raise ValueError(f"{qrels_file}:{number}: expected 'query-id<TAB>corpus-id<TAB>score', got {row!r}")
        qrels.setdefault(row[0], {})[row[1]] = int(float(row[2]))

    unknown_queries = [q for q in qrels if q not in query_text]
    if unknown_queries:
        logger.warning(
            "%s: %d judged queries are not in queries.jsonl (first: %r); they are skipped",
            qrels_file,
            len(unknown_queries),
            unknown_queries[0],
        )
    known = set(corpus_ids)
    unknown_docs = [(q, d) for q, judged in qrels.items() for d, s in judged.items() if s > 0 and d not in known]
    if unknown_docs:
        logger.warning(
            "%s: %d relevance judgments name documents that are not in corpus.jsonl (first: query %r, "
            "document %r); they count as relevant but can never be retrieved, so scores are lower than "
            "on the complete corpus",
            qrels_file,
            len(unknown_docs),
            *unknown_docs[0],
        )
    relevant = {q: {d for d, s in judged.items() if s > 0} for q, judged in qrels.items() if q in query_text}
    query_ids = [q for q in query_text if relevant.get(q)]
    if not query_ids:
        raise ValueError(
            f"{qrels_file} judges no query of {root / 'queries.jsonl'} relevant to any document; nothing to evaluate"
        )
    return BeirData(
        name=f"{root.name}-{split}",
        corpus_ids=corpus_ids,
        corpus=corpus,
        query_ids=query_ids,
        queries=[query_text[q] for q in query_ids],
        relevant={q: relevant[q] for q in query_ids},
        qrels={q: qrels[q] for q in query_ids},
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- retrieval


def dense_hits(
    model: RetrievalEncoder,
    queries: list[str],
    corpus: list[str],
    k: int,
    *,
    batch_size: int = 32,
    show_progress_bar: bool = False,
) -> list[list[tuple[int, float]]]:
    """Each query's ``k`` best ``(row, cosine)`` over ``corpus`` by exact search, ties by increasing row."""
    _warn_truncated(model, queries, "queries")
    options = dict(batch_size=batch_size, convert_to_tensor=True, normalize_embeddings=True)
    docs = model.encode_document(corpus, show_progress_bar=show_progress_bar, **options)
    found = []
    for start in range(0, len(queries), 256):
        q = model.encode_query(queries[start : start + 256], show_progress_bar=False, **options)
        scores = (q @ docs.T).float().cpu().numpy()
        found += [_best(row, k) for row in scores]
    return found


def sparse_hits(
    model: RetrievalEncoder,
    queries: list[str],
    corpus: list[str],
    k: int,
    *,
    batch_size: int = 32,
    show_progress_bar: bool = False,
) -> list[list[tuple[int, float]]]:
    """Each query's ``k`` best ``(row, dot product)`` of a SparseEncoder's sparse vectors, ties by increasing row."""
    _warn_truncated(model, queries, "queries")
    docs = model.encode_document(
        corpus, batch_size=batch_size, show_progress_bar=show_progress_bar, convert_to_sparse_tensor=True
    )
    inverted = InvertedIndex.from_sparse(docs)
    q = model.encode_query(queries, batch_size=batch_size, show_progress_bar=False, convert_to_sparse_tensor=True)
    return inverted.search(q, k)


def _best(scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    k = min(k, len(scores))
    candidates = np.argpartition(-scores, k - 1)[:k]
    kth = scores[candidates].min()
    candidates = np.flatnonzero(scores >= kth)
    order = np.lexsort((candidates, -scores[candidates]))[:k]
    return [(int(candidates[i]), float(scores[candidates[i]])) for i in order]


def _warn_truncated(model: object, texts: list[str], what: str) -> None:
    limit = getattr(model, "max_seq_length", None)
    tokenize = getattr(model, "preprocess", None) or getattr(model, "tokenize", None)
    if not limit or tokenize is None:
        return
    try:  # as queries are cut: a model with a Router has a query route of its own
        features = tokenize(texts, task="query")
    except TypeError:  # a first step that takes no routing hint
        features = tokenize(texts)
    if "truncated" not in features:
        return
    truncated = int(np.asarray(features["truncated"]).sum())
    if truncated:
        logger.warning(
            "%d of %d %s are longer than the model's limit of %d tokens; the model sees only their "
            "start (BM25 sees them whole)",
            truncated,
            len(texts),
            what,
            limit,
        )


def retrieve(
    data: BeirData,
    mode: str = "dense",
    model: RetrievalEncoder | None = None,
    *,
    k: int = RECALL_AT,
    fusion: str = FUSION,
    alpha: float = ALPHA,
    rrf_k: float = RRF_K,
    candidates: int = CANDIDATES,
    bm25_language: str = "en",
    sparse_model: RetrievalEncoder | None = None,
    batch_size: int = 32,
    show_progress_bar: bool = False,
) -> list[list[str]]:
    """Each judged query's ``k`` best document ids under ``mode`` (see :func:`evaluate_beir`); hybrid fuses the
    dense side with BM25, or with ``sparse_model``'s sparse vectors when one is given."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not supported; choose from {', '.join(MODES)}")
    check_fusion(fusion, alpha, rrf_k)
    if mode != "bm25" and model is None:
        raise ValueError(f"mode {mode!r} needs a model")
    if sparse_model is not None and mode != "hybrid":
        raise ValueError(f"sparse_model is hybrid search's lexical side; mode {mode!r} does not use it")
    depth = max(k, candidates)
    options = dict(batch_size=batch_size, show_progress_bar=show_progress_bar)
    if mode == "sparse":
        hits = sparse_hits(model, data.queries, data.corpus, k, **options)  # type: ignore[arg-type]
    elif mode == "dense":
        hits = dense_hits(model, data.queries, data.corpus, k, **options)  # type: ignore[arg-type]
    elif mode == "hybrid" and sparse_model is not None:
        other = sparse_hits(sparse_model, data.queries, data.corpus, depth, **options)  # type: ignore[arg-type]
        dense = dense_hits(model, data.queries, data.corpus, depth, **options)  # type: ignore[arg-type]
        hits = [fuse(d, o, k, fusion=fusion, alpha=alpha, rrf_k=rrf_k) for d, o in zip(dense, other)]  # type: ignore[misc, arg-type]
    else:
        keyword = BM25(bm25_language).fit(data.corpus).search(data.queries, depth)  # type: ignore[arg-type]
        if mode == "bm25":
            hits = [h[:k] for h in keyword]
        else:
            dense = dense_hits(model, data.queries, data.corpus, depth, **options)  # type: ignore[arg-type]
            hits = [
                fuse(d, b, k, fusion=fusion, alpha=alpha, rrf_k=rrf_k)  # type: ignore[misc, arg-type]
                for d, b in zip(dense, keyword)
            ]
    return [[data.corpus_ids[int(row)] for row, _ in query_hits] for query_hits in hits]


def beir_metrics(rankings: list[list[str]], data: BeirData) -> dict[str, float]:
    """nDCG@10, MRR@10, Recall@100 and MAP@100 of the rankings (one per judged query, in ``data`` order)."""
    relevant: list[set[Hashable]] = [set(data.relevant[q]) for q in data.query_ids]
    values = retrieval_metrics(
        rankings,
        relevant,
        accuracy_at_k=(),
        precision_recall_at_k=(RECALL_AT,),
        mrr_at_k=(MRR_AT,),
        ndcg_at_k=(NDCG_AT,),
        map_at_k=(MAP_AT,),
    )
    return {
        f"ndcg@{NDCG_AT}": values["ndcg@k"][NDCG_AT],
        f"mrr@{MRR_AT}": values["mrr@k"][MRR_AT],
        f"recall@{RECALL_AT}": values["recall@k"][RECALL_AT],
        f"map@{MAP_AT}": values["map@k"][MAP_AT],
    }


def evaluate_beir(
    model: RetrievalEncoder | None,
    folder: str | os.PathLike[str] | BeirData,
    split: str = "test",
    mode: str = "dense",
    **options: Any,
) -> dict[str, float]:
    """Search a BEIR split with ``model`` and score the rankings.

    Args:
        model: a SentenceTransformer (``dense``, ``hybrid``), a SparseEncoder (``sparse``), or None (``bm25``).
        folder: the BEIR folder, or data already read with :func:`load_beir`.
        split: the qrels file to score against, ``qrels/{split}.tsv``.
        mode: ``dense`` (cosine, exact), ``bm25``, ``sparse`` or ``hybrid`` (dense fused with BM25, or with a
            SparseEncoder given as ``sparse_model``; see :mod:`sentvec.index.hybrid` for ``fusion``, ``alpha``,
            ``rrf_k``, ``candidates``).
        options: passed to :func:`retrieve` (``fusion``, ``alpha``, ``rrf_k``, ``candidates``,
            ``bm25_language``, ``sparse_model``, ``batch_size``, ``show_progress_bar``).

    Returns:
        ``{name}_ndcg@10``, ``_mrr@10``, ``_recall@100``, ``_map@100``, plus ``_queries`` (judged queries
        scored) and ``_seconds`` (the whole retrieval, encoding included), with ``name``
        ``{folder}-{split}-{mode}``.
    """
    data = folder if isinstance(folder, BeirData) else load_beir(folder, split)
    started = time.perf_counter()
    rankings = retrieve(data, mode, model, **options)
    seconds = time.perf_counter() - started
    name = f"{data.name}-{mode}"
    metrics = {f"{name}_{key}": value for key, value in beir_metrics(rankings, data).items()}
    metrics[f"{name}_queries"] = float(len(data.query_ids))
    metrics[f"{name}_seconds"] = seconds
    return metrics
