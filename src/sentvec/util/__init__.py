"""Helpers under the names of ``sentence_transformers.util``: similarity functions and semantic search."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from sentvec.hard_negatives import mine_hard_negatives as _mine_hard_negatives
from sentvec.modules import MODULE_TYPES
from sentvec.modules.registry import import_from_string as import_from_string  # noqa: F401 - re-exported
from sentvec.quantization import quantize_embeddings as quantize_embeddings  # noqa: F401 - re-exported
from sentvec.similarity import (
    ArrayLike,
    cos_sim,
    dot_score,
    euclidean_sim,
    manhattan_sim,
    pairwise_cos_sim,
    pairwise_dot_score,
    pairwise_euclidean_sim,
    pairwise_manhattan_sim,
    to_tensor,
)
from sentvec.similarity import SimilarityFunction as SimilarityFunction  # noqa: F401 - re-exported
from sentvec.similarity import maxsim as maxsim  # noqa: F401 - re-exported
from sentvec.similarity import maxsim_pairwise as maxsim_pairwise  # noqa: F401 - re-exported
from sentvec.similarity import mean_maxsim as mean_maxsim  # noqa: F401 - re-exported
from sentvec.similarity import mean_maxsim_pairwise as mean_maxsim_pairwise  # noqa: F401 - re-exported
from sentvec.similarity import pairwise_angle_sim as pairwise_angle_sim  # noqa: F401 - re-exported

if TYPE_CHECKING:
    from sentvec.model import SentenceTransformer

__all__ = [
    "append_to_last_row",
    "batch_to_device",
    "community_detection",
    "fullname",
    "http_get",
    "import_from_string",
    "import_module_class",
    "is_datasets_available",
    "is_training_available",
    "select_max_active_dims",
    "similarity_fct_name",
    "cos_sim",
    "dot_score",
    "euclidean_sim",
    "manhattan_sim",
    "mine_hard_negatives",
    "normalize_embeddings",
    "pairwise_cos_sim",
    "pairwise_dot_score",
    "pairwise_euclidean_sim",
    "pairwise_manhattan_sim",
    "paraphrase_mining",
    "paraphrase_mining_embeddings",
    "pytorch_cos_sim",
    "semantic_search",
    "truncate_embeddings",
]

pytorch_cos_sim = cos_sim  # the old name, still used in many tutorials


def normalize_embeddings(embeddings: Tensor) -> Tensor:
    """Scale each row to unit L2 length."""
    return F.normalize(embeddings, p=2, dim=1)


def truncate_embeddings(embeddings: Any, truncate_dim: int | None) -> Any:
    """The first ``truncate_dim`` dimensions of each embedding (Matryoshka truncation); None keeps all.

    Works on numpy arrays and tensors of any batch shape; normalize again afterwards for cosine scores.
    """
    if truncate_dim is not None and truncate_dim < 1:
        raise ValueError(f"truncate_dim={truncate_dim}; it must be at least 1 (or None to keep every dimension)")
    return embeddings[..., :truncate_dim]


def semantic_search(
    query_embeddings: ArrayLike,
    corpus_embeddings: ArrayLike,
    query_chunk_size: int = 100,
    corpus_chunk_size: int = 500_000,
    top_k: int = 10,
    score_function: Callable[[Tensor, Tensor], Tensor] = cos_sim,
) -> list[list[dict[str, int | float]]]:
    """Exact nearest-neighbour search of each query among the corpus embeddings.

    Args:
        query_embeddings: (Q, D) queries, or one (D,) query.
        corpus_embeddings: (N, D) corpus.
        query_chunk_size, corpus_chunk_size: how many queries and corpus rows to score at once (memory).
        top_k: hits to return per query.
        score_function: a ``(Q, D), (N, D) -> (Q, N)`` score, larger is better.

    Returns:
        For each query, a list of ``{"corpus_id": int, "score": float}`` sorted by decreasing score.
    """
    if top_k < 1:
        raise ValueError(f"top_k={top_k}; it must be at least 1")
    queries, corpus = to_tensor(query_embeddings), to_tensor(corpus_embeddings)
    if queries.shape[-1] != corpus.shape[-1]:
        raise ValueError(f"queries have dimension {queries.shape[-1]} but the corpus has {corpus.shape[-1]}")
    corpus = corpus.to(queries.device)
    hits: list[list[tuple[float, int]]] = [[] for _ in range(len(queries))]
    for q_start in range(0, len(queries), query_chunk_size):
        for c_start in range(0, len(corpus), corpus_chunk_size):
            scores = score_function(
                queries[q_start : q_start + query_chunk_size], corpus[c_start : c_start + corpus_chunk_size]
            )
            k = min(top_k, scores.shape[1])
            top_scores, top_ids = torch.topk(scores, k, dim=1, largest=True, sorted=False)
            for row, (row_scores, row_ids) in enumerate(zip(top_scores.tolist(), top_ids.tolist())):
                heap = hits[q_start + row]
                for score, corpus_id in zip(row_scores, row_ids):
                    # a min-heap of size top_k keeps the best hits across corpus chunks
                    item = (score, c_start + corpus_id)
                    if len(heap) < top_k:
                        heapq.heappush(heap, item)
                    else:
                        heapq.heappushpop(heap, item)
    return [
        [{"corpus_id": cid, "score": score} for score, cid in sorted(heap, key=lambda h: (-h[0], h[1]))]
        for heap in hits
    ]


def paraphrase_mining(
    model: SentenceTransformer,
    sentences: list[str],
    show_progress_bar: bool = False,
    batch_size: int = 32,
    query_chunk_size: int = 5000,
    corpus_chunk_size: int = 100000,
    max_pairs: int = 500000,
    top_k: int = 100,
    score_function: Callable[[Tensor, Tensor], Tensor] = cos_sim,
    truncate_dim: int | None = None,
    prompt_name: str | None = None,
    prompt: str | None = None,
) -> list[list[float | int]]:
    """Embed ``sentences`` with ``model`` and return the most similar pairs among them.

    Returns:
        ``[score, i, j]`` triplets with ``i < j``, highest score first (see :func:`paraphrase_mining_embeddings`).
    """
    embeddings = model.encode(
        sentences,
        show_progress_bar=show_progress_bar,
        batch_size=batch_size,
        convert_to_tensor=True,
        truncate_dim=truncate_dim,
        prompt_name=prompt_name,
        prompt=prompt,
    )
    return paraphrase_mining_embeddings(
        embeddings,
        query_chunk_size=query_chunk_size,
        corpus_chunk_size=corpus_chunk_size,
        max_pairs=max_pairs,
        top_k=top_k,
        score_function=score_function,
    )


def paraphrase_mining_embeddings(
    embeddings: ArrayLike,
    query_chunk_size: int = 5000,
    corpus_chunk_size: int = 100000,
    max_pairs: int = 500000,
    top_k: int = 100,
    score_function: Callable[[Tensor, Tensor], Tensor] = cos_sim,
) -> list[list[float | int]]:
    """The ``max_pairs`` most similar pairs of rows of ``embeddings``, each row paired with its ``top_k`` neighbours.

    Args:
        embeddings: (N, D) embeddings.
        query_chunk_size, corpus_chunk_size: rows scored at once (memory); they do not change the result.
        max_pairs: most pairs returned.
        top_k: neighbours considered per row.
        score_function: a symmetric score, larger is more similar; one direction of each pair is kept.

    Returns:
        ``[score, i, j]`` with ``i < j``, sorted by decreasing score.
    """
    if top_k < 1 or max_pairs < 1:
        raise ValueError(f"top_k={top_k} and max_pairs={max_pairs} must both be at least 1")
    embeddings = to_tensor(embeddings)
    n = len(embeddings)
    heap: list[tuple[float, int, int]] = []  # min-heap of the best pairs so far, at most max_pairs long
    seen: set[tuple[int, int]] = set()
    floor = float("-inf")  # score of the last pair pushed out of a full heap
    for q_start in range(0, n, query_chunk_size):
        queries = embeddings[q_start : q_start + query_chunk_size]
        best_scores: Tensor | None = None
        best_ids: Tensor | None = None
        for c_start in range(0, n, corpus_chunk_size):
            scores = score_function(queries, embeddings[c_start : c_start + corpus_chunk_size]).detach()
            # top_k + 1: a row's own entry is usually among its best and is dropped below
            values, ids = torch.topk(scores, min(top_k + 1, scores.shape[1]), dim=1)
            ids = ids + c_start
            if best_scores is not None and best_ids is not None:
                values, ids = torch.cat([best_scores, values], 1), torch.cat([best_ids, ids], 1)
            best_scores, order = torch.topk(values, min(top_k + 1, values.shape[1]), dim=1)
            best_ids = torch.gather(ids, 1, order)
        assert best_scores is not None and best_ids is not None
        for row, (row_scores, row_ids) in enumerate(zip(best_scores.tolist(), best_ids.tolist())):
            i = q_start + row
            neighbours = [(j, s) for j, s in zip(row_ids, row_scores) if j != i][:top_k]
            for j, score in neighbours:
                pair = (min(i, j), max(i, j))
                if score <= floor or pair in seen:
                    continue
                seen.add(pair)
                if len(heap) < max_pairs:
                    heapq.heappush(heap, (score, *pair))
                else:
                    dropped = heapq.heappushpop(heap, (score, *pair))
                    seen.discard(dropped[1:])
                    floor = dropped[0]
    return [[score, i, j] for score, i, j in sorted(heap, key=lambda p: p[0], reverse=True)]


def community_detection(
    embeddings: Tensor | np.ndarray,
    threshold: float = 0.75,
    min_community_size: int = 10,
    batch_size: int = 1024,
    show_progress_bar: bool = False,
) -> list[list[int]]:
    """Groups of embeddings whose cosine similarity to a central one is at least ``threshold``.

    Every row with at least ``min_community_size`` rows (itself included) above the threshold starts a
    candidate community; the largest are kept first and later ones lose the rows already taken.

    Returns:
        Communities, largest first; each is a list of row indices that starts with its central row.
    """
    from tqdm.auto import tqdm

    if len(embeddings) == 0:
        return []
    vectors = normalize_embeddings(to_tensor(embeddings))
    n = len(vectors)
    if n < min_community_size:
        return []
    candidates: list[tuple[int, np.ndarray]] = []
    for start in tqdm(range(0, n, batch_size), desc="Finding clusters", disable=not show_progress_bar):
        scores = vectors[start : start + batch_size] @ vectors.T
        counts = (scores >= threshold).sum(dim=1).tolist()
        for row, count in enumerate(counts):
            if count >= max(min_community_size, 1):
                # topk orders the members by decreasing similarity to the centre
                values, ids = scores[row].topk(count)
                members = ids[values >= threshold].cpu().numpy()
                candidates.append((start + row, members))
    candidates.sort(key=lambda c: len(c[1]), reverse=True)  # stable: ties keep the order of their centres
    taken = np.zeros(n, dtype=bool)
    communities: list[list[int]] = []
    for centre, members in candidates:
        if taken[centre]:
            continue
        free = members[~taken[members]]
        if len(free) >= min_community_size:
            community = [centre, *free[free != centre].tolist()]
            communities.append(community)
            taken[community] = True
    return sorted(communities, key=len, reverse=True)


def mine_hard_negatives(dataset: Any, model: SentenceTransformer, *args: Any, **kwargs: Any) -> Any:
    """Add hard negatives to (anchor, positive) pairs; see :func:`sentvec.hard_negatives.mine_hard_negatives`."""
    return _mine_hard_negatives(dataset, model, *args, **kwargs)


# ---------------------------------------------------------------------- helpers sentence-transformers code imports


def _convert_to_tensor(a: Any) -> Tensor:
    """A tensor view of embeddings: numpy arrays without copying (read-only ones copied, so torch does not
    warn), a list of arrays stacked, tensors as they are."""
    if isinstance(a, list) and a and isinstance(a[0], np.ndarray):
        a = np.stack(a)
    if isinstance(a, np.ndarray):
        return torch.from_numpy(a if a.flags.writeable else a.copy())
    return a if isinstance(a, Tensor) else torch.as_tensor(a)


def batch_to_device(batch: dict[str, Any], target_device: torch.device | str) -> dict[str, Any]:
    """The tensors of a features dict moved to ``target_device`` (other values unchanged)."""
    return {k: v.to(target_device) if isinstance(v, Tensor) else v for k, v in batch.items()}


def http_get(url: str, path: str) -> None:
    """Download ``url`` to the file ``path`` (written beside it first, then moved into place)."""
    import os
    import urllib.request

    partial = f"{path}_part"
    with urllib.request.urlopen(url) as response, open(partial, "wb") as out:  # noqa: S310 - the caller's URL
        while chunk := response.read(1 << 20):
            out.write(chunk)
    os.replace(partial, path)


def is_datasets_available() -> bool:
    """Whether the ``datasets`` package can be imported."""
    import importlib.util

    return importlib.util.find_spec("datasets") is not None


def is_training_available() -> bool:
    """Whether the training extras (``datasets``, ``accelerate``) are installed."""
    import importlib.util

    return is_datasets_available() and importlib.util.find_spec("accelerate") is not None


def fullname(o: Any) -> str:
    """The import path of an object's class (or of a class), e.g. ``"sentvec.modules.pooling.Pooling"``."""
    cls = o if isinstance(o, type) else type(o)
    module = cls.__module__
    return cls.__qualname__ if module in (None, "builtins") else f"{module}.{cls.__qualname__}"


def import_module_class(
    class_ref: str, model_name_or_path: str | None = None, trust_remote_code: bool | None = False, **hub_kwargs: Any
) -> type:
    """The class a model's config names, behind a trust gate.

    Names of sentvec's own (or sentence-transformers') steps resolve to sentvec classes. Any other
    import path named by a model (``model_name_or_path`` given) needs ``trust_remote_code=True``, since
    importing it runs that package's code; sentvec never downloads code from a model repository. With
    no model involved the caller's own code chose the class, and it is imported directly.
    """
    if class_ref in MODULE_TYPES:
        return MODULE_TYPES[class_ref]
    if class_ref.startswith(("sentence_transformers.", "sentvec.")):
        return import_from_string("sentvec." + class_ref.split(".", 1)[1])
    if model_name_or_path is not None and not trust_remote_code:
        raise ValueError(
            f"{model_name_or_path} names the class {class_ref!r}; importing it runs code outside "
            "sentvec, so pass trust_remote_code=True if you trust it"
        )
    return import_from_string(class_ref)


def append_to_last_row(csv_path: str, additional_data: Iterable[Any]) -> bool:
    """Append values to the last data row of a CSV file (an evaluator's results); False when the file
    has no data row (nothing written)."""
    with open(csv_path, "rb") as f:
        content = f.read()
    newline = b"\r\n" if b"\r\n" in content else b"\n"
    rows = content.split(newline)
    if rows and rows[-1] == b"":
        rows.pop()
    if len(rows) < 2:
        return False
    rows[-1] += b"".join(b"," + str(value).encode() for value in additional_data)
    with open(csv_path, "wb") as f:
        f.write(newline.join(rows) + newline)
    return True


def select_max_active_dims(embeddings: Any, max_active_dims: int | None = None) -> Any:
    """Keep the ``max_active_dims`` largest-magnitude values of each embedding (signs kept), zero the rest.

    None returns the input itself; otherwise a new tensor (the input is never changed).
    """
    if max_active_dims is None:
        return embeddings
    if max_active_dims <= 0:
        raise ValueError(f"max_active_dims must be a positive integer (or None), got {max_active_dims}")
    tensor = torch.as_tensor(embeddings)
    single = tensor.dim() == 1
    rows = tensor.unsqueeze(0) if single else tensor
    k = min(max_active_dims, rows.shape[-1])
    keep = torch.zeros_like(rows, dtype=torch.bool).scatter_(-1, rows.abs().topk(k, dim=-1).indices, True)
    result = torch.where(keep, rows, torch.zeros((), dtype=rows.dtype))
    return result.squeeze(0) if single else result


def similarity_fct_name(fn: Any) -> str:
    """A readable name of a scoring callable, for model cards: the function's name, a keyword-bound
    partial as a call, an object with ``get_config_dict`` with its settings, else its type name."""
    import functools

    if isinstance(fn, functools.partial):
        base = similarity_fct_name(fn.func)
        if not fn.keywords:
            return base
        return f"{base}({', '.join(f'{k}={v!r}' for k, v in fn.keywords.items())})"
    if hasattr(fn, "get_config_dict"):
        settings = fn.get_config_dict()
        return f"{type(fn).__name__}({', '.join(f'{k}={v!r}' for k, v in settings.items())})"
    return getattr(fn, "__name__", None) or type(fn).__name__


def hf_hub_download(*args: Any, **kwargs: Any) -> str:
    """``huggingface_hub.hf_hub_download``, where sentence-transformers' util offers it (needs the hub extra)."""
    from huggingface_hub import hf_hub_download as download

    return download(*args, **kwargs)


def snapshot_download(*args: Any, **kwargs: Any) -> str:
    """``huggingface_hub.snapshot_download``, where sentence-transformers' util offers it (needs the hub extra)."""
    from huggingface_hub import snapshot_download as download

    return download(*args, **kwargs)
