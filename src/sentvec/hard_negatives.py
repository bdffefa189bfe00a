"""Hard-negative mining: turn (anchor, positive) pairs into training rows with negatives that look similar.

Same name, arguments and results as ``sentence_transformers.util.mine_hard_negatives``. The reference takes
and returns a ``datasets.Dataset``; sentvec also takes a list of ``(anchor, positive)`` pairs (or a dict of
columns) and then returns a list of row dicts, so ``datasets`` is only needed when you use it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch

if TYPE_CHECKING:
    from sentvec.model import SentenceTransformer

logger = logging.getLogger(__name__)

OutputFormat = Literal["triplet", "n-tuple", "labeled-pair", "labeled-list", "n-tuple-scores"]
OUTPUT_FORMATS = ("triplet", "n-tuple", "labeled-pair", "labeled-list")
_NEG_INF = float("-inf")
# FAISS on GPU returns at most this many neighbours per query (its k limit)
_FAISS_GPU_MAX_K = 2048


def _columns(dataset: Any) -> tuple[dict[str, list[Any]], bool]:
    """The data as ``{column: values}``, and whether it was a ``datasets.Dataset``."""
    if type(dataset).__name__ == "Dataset" and hasattr(dataset, "column_names"):
        return {name: list(dataset[name]) for name in dataset.column_names}, True
    if isinstance(dataset, dict):
        return {str(k): list(v) for k, v in dataset.items()}, False
    if isinstance(dataset, (list, tuple)):
        rows = list(dataset)
        for i, row in enumerate(rows):
            if not isinstance(row, (list, tuple)) or len(row) != 2 or not all(isinstance(t, str) for t in row):
                raise ValueError(
                    f"dataset row {i} is {row!r}; pass (anchor, positive) string pairs or a datasets.Dataset"
                )
        return {"anchor": [r[0] for r in rows], "positive": [r[1] for r in rows]}, False
    raise TypeError(
        f"dataset is a {type(dataset).__name__}; pass a datasets.Dataset, a dict of columns or a list of pairs"
    )


def mine_hard_negatives(
    dataset: Any,
    model: SentenceTransformer,
    anchor_column_name: str | None = None,
    positive_column_name: str | None = None,
    corpus: list[str] | None = None,
    cross_encoder: Any | None = None,
    range_min: int = 0,
    range_max: int | None = None,
    max_score: float | None = None,
    min_score: float | None = None,
    absolute_margin: float | None = None,
    relative_margin: float | None = None,
    num_negatives: int = 3,
    sampling_strategy: Literal["random", "top"] = "top",
    query_prompt_name: str | None = None,
    query_prompt: str | None = None,
    corpus_prompt_name: str | None = None,
    corpus_prompt: str | None = None,
    include_positives: bool = False,
    output_format: OutputFormat = "triplet",
    output_scores: bool = False,
    batch_size: int = 32,
    faiss_batch_size: int = 16384,
    use_faiss: bool = False,
    use_multi_process: list[str] | bool = False,
    verbose: bool = True,
    cache_folder: str | None = None,
    as_triplets: bool | None = None,
    margin: float | None = None,
) -> Any:
    """Add hard negatives to a dataset of (anchor, positive) pairs.

    Every anchor is searched against the corpus (the positives, plus ``corpus`` if given); the best
    candidates that are not its positives, within ranks ``[range_min, range_max)`` and passing the score
    filters (``max_score``, ``min_score``, ``absolute_margin``/``relative_margin`` below the anchor's
    weakest positive), become its negatives: the top ``num_negatives`` or a random sample of them.

    Args:
        dataset: a ``datasets.Dataset`` (first two columns, or the named ones), a dict of columns, or a
            list of ``(anchor, positive)`` string pairs.
        model: the embedding model; embeddings are normalized and compared with ``model.similarity``.
        cross_encoder: a :class:`~sentvec.CrossEncoder` (one label) that rescores the ``range_max`` best
            candidates and the positives of each anchor; the score filters, margins and the ranking then
            use its scores instead of the embedding similarities.
        output_format: ``triplet`` (anchor, positive, negative), ``n-tuple`` (anchor, positive,
            negative_1..n), ``labeled-pair`` (anchor, text, label) or ``labeled-list`` (anchor, [texts], [labels]).
            ``n-tuple-scores`` is the deprecated name of ``n-tuple`` with ``output_scores=True``.
        output_scores: add (or, for the labeled formats, use instead of labels) the similarity scores.
        faiss_batch_size: queries scored at once (bounds the score matrix), also without FAISS.
        use_faiss: search with a FAISS flat index (needs ``faiss-cpu``); on GPUs when FAISS sees any, and
            then ``range_max`` is capped so that a query asks for at most 2048 neighbours.
        use_multi_process: encode in worker processes (``True``: the default devices; or a list of devices).
        verbose: log progress, and print a short report of what was mined to stdout (as the reference
            does: a user who asked for it reads it in a notebook or a terminal), including a line naming the
            parameters to loosen when some anchors got fewer than ``num_negatives`` negatives.
        cache_folder: keep the embeddings there as .npy and reuse them on the next call.
        Other arguments are as in sentence-transformers.

    Returns:
        A ``datasets.Dataset`` when ``dataset`` was one, otherwise a list of row dicts with the same columns.
    """
    if cross_encoder is not None and getattr(cross_encoder, "num_labels", 1) != 1:
        raise ValueError(
            f"cross_encoder has num_labels={cross_encoder.num_labels}; rescoring needs a one-label "
            "(relevance) CrossEncoder"
        )
    columns, was_dataset = _columns(dataset)
    names = list(columns)
    if not names or len(columns[names[0]]) == 0:
        raise ValueError("The dataset is empty. Please provide a non-empty dataset.")
    if faiss_batch_size <= 0:
        raise ValueError(f"faiss_batch_size must be a positive integer, got {faiss_batch_size}.")
    if anchor_column_name not in columns:
        anchor_column_name = names[0]
    if positive_column_name not in columns:
        if len(names) < 2:
            raise ValueError("Dataset must contain at least two columns to select the positive column automatically.")
        positive_column_name = names[1]
    assert anchor_column_name is not None and positive_column_name is not None
    if as_triplets is not None:
        output_format = "triplet" if as_triplets else "n-tuple"
        logger.warning("as_triplets is deprecated; use output_format (now %r)", output_format)
    if output_format == "n-tuple-scores":
        logger.warning(
            'output_format="n-tuple-scores" is deprecated; use output_format="n-tuple" with '
            "output_scores=True (which it now means)"
        )
        output_format, output_scores = "n-tuple", True
    if include_positives and output_format != "n-tuple":
        logger.warning('include_positives=True sets output_format to "n-tuple" to keep the ranking order')
        output_format = "n-tuple"
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(
            f"Invalid output_format: {output_format}. Must be one of {', '.join(map(repr, OUTPUT_FORMATS))}."
        )
    if margin is not None:
        absolute_margin = margin
        logger.warning("margin is deprecated; use absolute_margin and/or relative_margin (absolute_margin=%s)", margin)
    if num_negatives < 1:
        raise ValueError(f"num_negatives must be at least 1, got num_negatives={num_negatives}.")

    anchors_all = [str(a) for a in columns[anchor_column_name]]
    positives_all = [str(p) for p in columns[positive_column_name]]
    # Duplicate anchors share one search; each of their positives is excluded from the negatives.
    queries = list(dict.fromkeys(anchors_all))
    query_pos = {q: i for i, q in enumerate(queries)}
    texts = list(dict.fromkeys((list(corpus) if corpus is not None else positives_all) + positives_all))
    text_pos = {t: i for i, t in enumerate(texts)}
    positive_ids: list[list[int]] = [[] for _ in queries]
    for anchor, positive in zip(anchors_all, positives_all):
        ids = positive_ids[query_pos[anchor]]
        if text_pos[positive] not in ids:
            ids.append(text_pos[positive])
    # the reference counts rows per anchor (duplicates included) to size the search
    rows_per_query = [0] * len(queries)
    for anchor in anchors_all:
        rows_per_query[query_pos[anchor]] += 1
    max_positives = max(rows_per_query)

    if range_max is None:
        filtered = absolute_margin is not None or relative_margin is not None or max_score is not None
        range_max = range_min + (num_negatives * 10 if filtered else num_negatives) + max_positives
        if verbose:
            logger.info("Setting range_max to %d based on the provided parameters.", range_max)
    faiss_gpu = use_faiss and _faiss_gpus() > 0
    capped = ""
    if faiss_gpu and range_max + max_positives > _FAISS_GPU_MAX_K:
        range_max = _FAISS_GPU_MAX_K - max_positives
        capped = (
            f" (range_max was capped to {range_max} because FAISS on GPU returns at most {_FAISS_GPU_MAX_K} "
            f"neighbours per query, {max_positives} of them kept for the positives)"
        )
        logger.warning(
            "range_max capped to %d: FAISS on GPU returns at most %d neighbours per query", range_max, _FAISS_GPU_MAX_K
        )
    if range_min < 0:
        raise ValueError(f"range_min must be non-negative, got range_min={range_min}.")
    if range_min >= range_max:
        raise ValueError(
            f"range_min must be smaller than range_max, got range_min={range_min} and range_max={range_max}.{capped}"
        )
    if num_negatives > range_max - range_min:
        raise ValueError(
            f"Cannot mine {num_negatives} negatives per query: only {range_max - range_min} candidates remain after "
            f"skipping the first range_min={range_min} of range_max={range_max}. Decrease num_negatives or range_min, "
            f"or increase range_max.{capped}"
        )

    query_emb, corpus_emb = _embeddings(
        model,
        queries,
        texts,
        batch_size=batch_size,
        cache_folder=cache_folder,
        query_prompt=(query_prompt, query_prompt_name),
        corpus_prompt=(corpus_prompt, corpus_prompt_name),
        use_multi_process=use_multi_process,
    )
    width = range_max + max_positives
    scores, indices = _top_candidates(model, query_emb, corpus_emb, width, faiss_batch_size, use_faiss, faiss_gpu)

    n_pos = [len(p) for p in positive_ids]
    flat_pos = [i for ids in positive_ids for i in ids]
    pos_query = [q for q, ids in enumerate(positive_ids) for _ in ids]
    if cross_encoder is not None:
        scores, positive_scores = _rescore(
            cross_encoder, queries, texts, indices, pos_query, flat_pos, batch_size=batch_size, verbose=verbose
        )
    else:
        positive_scores = (
            model.similarity_pairwise(torch.as_tensor(query_emb[pos_query]), torch.as_tensor(corpus_emb[flat_pos]))
            .float()
            .cpu()
        )

    scores[indices == -1] = _NEG_INF  # FAISS / short-corpus padding is never a negative, whatever it scored
    if not include_positives:
        for q, ids in enumerate(positive_ids):
            scores[q, torch.isin(indices[q], torch.tensor(ids))] = _NEG_INF
    if absolute_margin is not None or relative_margin is not None:
        # the weakest positive of each anchor sets its margin (the safe choice with several positives)
        weakest = torch.stack([chunk.min() for chunk in torch.split(positive_scores, n_pos)])[:, None]
        if absolute_margin is not None:
            scores[scores + absolute_margin > weakest] = _NEG_INF
        if relative_margin is not None:
            scores[scores > weakest - weakest.abs() * relative_margin] = _NEG_INF
    if max_score is not None:
        scores[scores > max_score] = _NEG_INF
    if min_score is not None:
        scores[scores < min_score] = _NEG_INF

    neg_scores, order = torch.topk(scores, k=range_max, dim=1)
    neg_ids = torch.gather(indices, 1, order)[:, range_min:]
    neg_scores = neg_scores[:, range_min:]
    if sampling_strategy == "top":
        neg_ids, neg_scores = neg_ids[:, :num_negatives], neg_scores[:, :num_negatives]
    elif sampling_strategy == "random":
        usable = (neg_ids.shape[1] - neg_scores.isinf().sum(1)).clamp(min=num_negatives)
        picks = torch.tensor([random.sample(range(int(u)), k=num_negatives) for u in usable], dtype=torch.long)
        neg_ids, neg_scores = torch.gather(neg_ids, 1, picks), torch.gather(neg_scores, 1, picks)
        neg_scores, order = neg_scores.sort(dim=1, descending=True)
        neg_ids = torch.gather(neg_ids, 1, order)
    else:
        raise ValueError(f"sampling_strategy={sampling_strategy!r}; choose 'top' or 'random'")

    rows = _rows(
        output_format,
        output_scores,
        anchor_column_name,
        positive_column_name,
        queries,
        texts,
        positive_ids,
        positive_scores,
        neg_ids,
        neg_scores,
    )
    if verbose:
        _report(
            neg_scores,
            num_negatives,
            len(next(iter(rows.values()))),
            range_min=range_min,
            max_score=max_score,
            min_score=min_score,
            absolute_margin=absolute_margin,
            relative_margin=relative_margin,
        )
    if was_dataset:
        from datasets import Dataset

        return Dataset.from_dict(rows)
    keys = list(rows)
    return [dict(zip(keys, values)) for values in zip(*rows.values())]


def _report(neg_scores: torch.Tensor, num_negatives: int, n_rows: int, *, range_min: int, **filters: Any) -> None:
    """What was mined, printed for ``verbose=True``: counts, and which parameters to loosen when some
    anchors got fewer than ``num_negatives`` negatives."""
    found = (neg_scores != _NEG_INF).sum(1)
    lines = [
        f"Mined {int(found.sum())} negatives for {len(found)} anchors ({n_rows} rows); per anchor: "
        f"min {int(found.min())}, mean {float(found.float().mean()):.2f}, max {int(found.max())}."
    ]
    short = int((found < num_negatives).sum())
    if short:
        names = ["range_max"] + (["range_min"] if range_min else []) + [k for k, v in filters.items() if v is not None]
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        noun = "parameter" if len(names) == 1 else "parameters"
        lines.append(
            f"Could not find enough negatives for {short} anchor(s): fewer than num_negatives={num_negatives}. "
            f"Consider adjusting the {listed} {noun} if you'd like to find more valid negatives."
        )
    # stdout, not logging: verbose=True asks for this report (as in the reference, whose users read it there)
    print("\n".join(lines))  # noqa: T201


def _rescore(
    cross_encoder: Any,
    queries: list[str],
    texts: list[str],
    indices: torch.Tensor,
    pos_query: list[int],
    flat_pos: list[int],
    *,
    batch_size: int,
    verbose: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-encoder scores of every retrieved candidate (padding slots get -inf) and of every positive."""
    rows, cols = (indices != -1).nonzero(as_tuple=True)
    pairs = [(queries[int(q)], texts[int(indices[q, c])]) for q, c in zip(rows, cols)]
    pairs += [(queries[q], texts[p]) for q, p in zip(pos_query, flat_pos)]
    predicted = cross_encoder.predict(pairs, batch_size=batch_size, show_progress_bar=verbose, convert_to_tensor=True)
    predicted = torch.as_tensor(predicted).float().cpu().view(-1)
    scores = torch.full(indices.shape, _NEG_INF)
    scores[rows, cols] = predicted[: len(rows)]
    return scores, predicted[len(rows) :]


def _faiss_gpus() -> int:
    """How many GPUs FAISS can use (0 without FAISS or without its GPU build)."""
    try:
        import faiss
    except ImportError:
        return 0
    if not hasattr(faiss, "get_num_gpus") or not hasattr(faiss, "index_cpu_to_all_gpus"):
        return 0
    return int(faiss.get_num_gpus())


def _embeddings(
    model: SentenceTransformer,
    queries: list[str],
    texts: list[str],
    *,
    batch_size: int,
    cache_folder: str | None,
    query_prompt: tuple[str | None, str | None],
    corpus_prompt: tuple[str | None, str | None],
    use_multi_process: list[str] | bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Normalized query and corpus embeddings, read from / written to ``cache_folder`` when given."""

    def embed(kind: str, items: list[str], prompt: tuple[str | None, str | None]) -> np.ndarray:
        path = None
        if cache_folder:
            os.makedirs(cache_folder, exist_ok=True)
            key = repr((getattr(model, "model_name_or_path", None), prompt, items)).encode()
            path = os.path.join(cache_folder, f"{kind}_embeddings_{hashlib.sha256(key).hexdigest()}.npy")
            if os.path.exists(path):
                return np.load(path)
        encode = model.encode_query if kind == "query" else model.encode_document
        extra = {"pool": pool} if pool is not None else {}
        vectors = encode(
            items,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
            prompt=prompt[0],
            prompt_name=prompt[1],
            **extra,
        )
        vectors = np.asarray(vectors, dtype=np.float32)
        if path is not None:
            tmp = f"{path}.{os.getpid()}.tmp.npy"
            np.save(tmp, vectors)
            os.replace(tmp, path)
        return vectors

    pool = None
    if use_multi_process:
        pool = model.start_multi_process_pool(use_multi_process if isinstance(use_multi_process, list) else None)
    try:
        return embed("query", queries, query_prompt), embed("corpus", texts, corpus_prompt)
    finally:
        if pool is not None:
            model.stop_multi_process_pool(pool)


def _top_candidates(
    model: SentenceTransformer,
    queries: np.ndarray,
    corpus: np.ndarray,
    width: int,
    batch: int,
    use_faiss: bool,
    faiss_gpu: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``width`` best-scoring corpus rows per query; short rows are padded with index -1 and score -inf."""
    if use_faiss:
        try:
            import faiss
        except ImportError as err:
            raise ImportError(
                "use_faiss=True needs FAISS: pip install faiss-cpu (or pip install -e '.[ann]' in the sentvec checkout)"
            ) from err
        index: Any = faiss.IndexFlatIP(corpus.shape[1])
        if faiss_gpu:
            index = faiss.index_cpu_to_all_gpus(index)
        index.add(np.ascontiguousarray(corpus, dtype=np.float32))
        parts = [
            index.search(np.ascontiguousarray(queries[i : i + batch]), width) for i in range(0, len(queries), batch)
        ]
        scores = torch.from_numpy(np.concatenate([p[0] for p in parts])).float()
        return scores, torch.from_numpy(np.concatenate([p[1] for p in parts])).long()
    k = min(width, len(corpus))
    corpus_t = torch.as_tensor(corpus)
    score_parts, id_parts = [], []
    for start in range(0, len(queries), batch):
        values, ids = torch.topk(
            model.similarity(torch.as_tensor(queries[start : start + batch]), corpus_t), k=k, dim=1
        )
        score_parts.append(values.float().cpu())
        id_parts.append(ids.cpu())
    scores, indices = torch.cat(score_parts), torch.cat(id_parts)
    if k < width:
        scores = torch.cat([scores, scores.new_full((len(scores), width - k), _NEG_INF)], 1)
        indices = torch.cat([indices, indices.new_full((len(indices), width - k), -1)], 1)
    return scores, indices


def _rows(
    output_format: str,
    output_scores: bool,
    anchor_col: str,
    positive_col: str,
    queries: list[str],
    texts: list[str],
    positive_ids: list[list[int]],
    positive_scores: torch.Tensor,
    neg_ids: torch.Tensor,
    neg_scores: torch.Tensor,
) -> dict[str, list[Any]]:
    """The output columns, one row per (anchor, positive) pair or per (anchor, positive, negative) triplet."""
    found = neg_scores != _NEG_INF
    pairs = [(q, p) for q, ids in enumerate(positive_ids) for p in ids]  # in the order of positive_scores
    pos_score = positive_scores.tolist()
    if output_format == "triplet":
        out: dict[str, list[Any]] = {anchor_col: [], positive_col: [], "negative": []}
        if output_scores:
            out["scores"] = []
        for k, (q, p) in enumerate(pairs):  # one row per (anchor, positive, negative) found
            for n in range(neg_ids.shape[1]):
                if not found[q, n]:
                    continue
                out[anchor_col].append(queries[q])
                out[positive_col].append(texts[p])
                out["negative"].append(texts[int(neg_ids[q, n])])
                if output_scores:
                    out["scores"].append([pos_score[k], float(neg_scores[q, n])])
        return out
    if output_format == "labeled-pair":
        out = {anchor_col: [], positive_col: [], "score" if output_scores else "label": []}
        value_col = "score" if output_scores else "label"
        k = 0
        for q, ids in enumerate(positive_ids):
            for p in ids:
                out[anchor_col].append(queries[q])
                out[positive_col].append(texts[p])
                out[value_col].append(pos_score[k] if output_scores else 1)
                k += 1
            for n in range(neg_ids.shape[1]):
                if found[q, n]:
                    out[anchor_col].append(queries[q])
                    out[positive_col].append(texts[int(neg_ids[q, n])])
                    out[value_col].append(float(neg_scores[q, n]) if output_scores else 0)
        return out
    if output_format == "n-tuple":
        out = {anchor_col: [], positive_col: [], **{f"negative_{i + 1}": [] for i in range(neg_ids.shape[1])}}
        if output_scores:
            out["scores"] = []
        for k, (q, p) in enumerate(pairs):
            if not bool(found[q].all()):
                continue  # an n-tuple needs all its negatives
            out[anchor_col].append(queries[q])
            out[positive_col].append(texts[p])
            for i in range(neg_ids.shape[1]):
                out[f"negative_{i + 1}"].append(texts[int(neg_ids[q, i])])
            if output_scores:
                out["scores"].append([pos_score[k], *neg_scores[q].tolist()])
        return out
    out = {anchor_col: [], positive_col: [], "scores" if output_scores else "labels": []}
    for k, (q, p) in enumerate(pairs):
        keep = [n for n in range(neg_ids.shape[1]) if found[q, n]]
        if not keep:
            continue
        out[anchor_col].append(queries[q])
        out[positive_col].append([texts[p], *(texts[int(neg_ids[q, n])] for n in keep)])
        if output_scores:
            out["scores"].append([pos_score[k], *(float(neg_scores[q, n]) for n in keep)])
        else:
            out["labels"].append([1] + [0] * len(keep))
    return out
