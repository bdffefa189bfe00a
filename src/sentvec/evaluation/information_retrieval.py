"""Search quality: for each query, rank a corpus and score the ranking against the relevant documents."""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Sequence
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor
from tqdm import trange

from sentvec.evaluation.evaluator import SentenceEvaluator, SimilarityEncoder
from sentvec.evaluation.metrics import retrieval_metrics
from sentvec.similarity import SimilarityFunction

logger = logging.getLogger(__name__)


class InformationRetrievalEvaluator(SentenceEvaluator[SimilarityEncoder]):
    """Retrieve the top documents of a corpus for each query and measure accuracy@k, precision@k,
    recall@k, MRR@k, NDCG@k and MAP@k (binary relevance).

    Documents are ranked by decreasing score, equal scores by increasing corpus id, so the result
    does not depend on ``corpus_chunk_size``. Queries with no relevant document are left out.

    Args:
        queries: query id -> query text.
        corpus: document id -> document text.
        relevant_docs: query id -> set of relevant document ids.
        corpus_chunk_size: documents embedded and scored at a time (memory).
        mrr_at_k, ndcg_at_k, accuracy_at_k, precision_recall_at_k, map_at_k: the cut-offs of each metric.
        show_progress_bar: show progress over the corpus chunks and the encoding.
        batch_size: texts per forward pass.
        name: prefix of the metric keys.
        write_csv: append a row to ``Information-Retrieval_evaluation_<name>_results.csv`` when
            called with an ``output_path``.
        truncate_dim: keep only the first dimensions of each embedding.
        score_functions: name -> ``(queries (Q, D), documents (N, D)) -> (Q, N)`` score; default:
            the called model's own ``similarity`` under its ``similarity_fn_name``.
        main_score_function: the function whose NDCG is the primary metric (default: the best one).
        query_prompt, query_prompt_name, corpus_prompt, corpus_prompt_name: prompts for either side
            (by default the model's ``query`` and ``document`` prompts, where it has them).
        write_predictions: also write each query's ranked hits to a JSON lines file (not supported
            yet; accepted for compatibility and must stay False).

    Returns (when called) ``{name}_{fn}_accuracy@k``, ``_precision@k``, ``_recall@k``, ``_ndcg@k``,
    ``_mrr@k`` and ``_map@k`` for each score function and cut-off; primary metric ``{fn}_ndcg@10``.
    """

    def __init__(
        self,
        queries: dict[Hashable, str],
        corpus: dict[Hashable, str],
        relevant_docs: dict[Hashable, set[Hashable]],
        corpus_chunk_size: int = 50000,
        mrr_at_k: Sequence[int] = (10,),
        ndcg_at_k: Sequence[int] = (10,),
        accuracy_at_k: Sequence[int] = (1, 3, 5, 10),
        precision_recall_at_k: Sequence[int] = (1, 3, 5, 10),
        map_at_k: Sequence[int] = (100,),
        show_progress_bar: bool = False,
        batch_size: int = 32,
        name: str = "",
        write_csv: bool = True,
        truncate_dim: int | None = None,
        score_functions: dict[str, Callable[[Tensor, Tensor], Tensor]] | None = None,
        main_score_function: str | SimilarityFunction | None = None,
        query_prompt: str | None = None,
        query_prompt_name: str | None = None,
        corpus_prompt: str | None = None,
        corpus_prompt_name: str | None = None,
        write_predictions: bool = False,
    ) -> None:
        super().__init__()
        if write_predictions:
            raise NotImplementedError("write_predictions=True is not supported by sentvec yet")
        self.queries_ids = [qid for qid in queries if relevant_docs.get(qid)]
        self.queries = [queries[qid] for qid in self.queries_ids]
        self.corpus_ids = list(corpus)
        self.corpus = [corpus[cid] for cid in self.corpus_ids]
        self.relevant_docs = relevant_docs
        if not self.queries:
            raise ValueError("no query has a relevant document in relevant_docs; nothing to evaluate")
        self.corpus_chunk_size = corpus_chunk_size
        self.mrr_at_k = list(mrr_at_k)
        self.ndcg_at_k = list(ndcg_at_k)
        self.accuracy_at_k = list(accuracy_at_k)
        self.precision_recall_at_k = list(precision_recall_at_k)
        self.map_at_k = list(map_at_k)
        self.show_progress_bar = show_progress_bar
        self.batch_size = batch_size
        self.name = name
        self.write_csv = write_csv
        self.truncate_dim = truncate_dim
        self.score_functions = score_functions
        self.score_function_names = sorted(score_functions) if score_functions else []
        self._score_functions_from_model = score_functions is None
        self.main_score_function = SimilarityFunction(main_score_function) if main_score_function else None
        self.query_prompt = query_prompt
        self.query_prompt_name = query_prompt_name
        self.corpus_prompt = corpus_prompt
        self.corpus_prompt_name = corpus_prompt_name
        self.write_predictions = write_predictions
        self.csv_file = f"Information-Retrieval_evaluation{'_' + name if name else ''}_results.csv"
        self._reset_csv_headers()

    def _reset_csv_headers(self) -> None:
        self.csv_headers = ["epoch", "steps"]
        for fn in self.score_function_names:
            self.csv_headers += [f"{fn}-Accuracy@{k}" for k in self.accuracy_at_k]
            for k in self.precision_recall_at_k:
                self.csv_headers += [f"{fn}-Precision@{k}", f"{fn}-Recall@{k}"]
            self.csv_headers += [f"{fn}-MRR@{k}" for k in self.mrr_at_k]
            self.csv_headers += [f"{fn}-NDCG@{k}" for k in self.ndcg_at_k]
            self.csv_headers += [f"{fn}-MAP@{k}" for k in self.map_at_k]

    def __call__(
        self, model: SimilarityEncoder, output_path: str | None = None, epoch: int = -1, steps: int = -1
    ) -> dict[str, float]:
        """Score ``model`` and return the metrics named in the class docstring, prefixed with ``name``.

        Args:
            model: the model to score.
            output_path: a folder to append this evaluation's CSV row to; None writes nothing.
            epoch, steps: where in training the evaluation happens (-1: after training or the epoch)."""
        logger.info(
            "Information Retrieval Evaluation of the model on the %s dataset%s:", self.name, self._when(epoch, steps)
        )
        if self._score_functions_from_model:
            # resolved per call, so a reused evaluator follows each model's own similarity
            self.score_functions = {model.similarity_fn_name: model.similarity}
            if self.score_function_names != sorted(self.score_functions):
                self.score_function_names = sorted(self.score_functions)
                self._reset_csv_headers()
                self.primary_metric = None

        rankings = self.rank(model)
        scores = {fn: self.compute_metrics(ranked) for fn, ranked in rankings.items()}

        row: list[Any] = [epoch, steps]
        for fn in self.score_function_names:
            row += [scores[fn]["accuracy@k"][k] for k in self.accuracy_at_k]
            for k in self.precision_recall_at_k:
                row += [scores[fn]["precision@k"][k], scores[fn]["recall@k"][k]]
            row += [scores[fn]["mrr@k"][k] for k in self.mrr_at_k]
            row += [scores[fn]["ndcg@k"][k] for k in self.ndcg_at_k]
            row += [scores[fn]["map@k"][k] for k in self.map_at_k]
        self._write_csv_row(output_path, row)

        if not self.primary_metric:
            k = max(self.ndcg_at_k)
            if self.main_score_function is None:
                best = max(self.score_function_names, key=lambda fn: scores[fn]["ndcg@k"][k])
            else:
                best = self.main_score_function.value
            self.primary_metric = f"{best}_ndcg@{k}"
        metrics = {
            f"{fn}_{metric.replace('@k', f'@{k}')}": value
            for fn, by_metric in scores.items()
            for metric, by_k in by_metric.items()
            for k, value in by_k.items()
        }
        metrics = self.prefix_name_to_metrics(metrics, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics

    def rank(self, model: SimilarityEncoder) -> dict[str, list[list[Hashable]]]:
        """For each score function, each query's top corpus ids (as many as the largest cut-off)."""
        score_functions = self.score_functions or {model.similarity_fn_name: model.similarity}
        max_k = max(self.mrr_at_k + self.ndcg_at_k + self.accuracy_at_k + self.precision_recall_at_k + self.map_at_k)
        options = dict(
            batch_size=self.batch_size,
            show_progress_bar=self.show_progress_bar,
            convert_to_tensor=True,
            truncate_dim=self.truncate_dim,
        )
        query_embeddings = self.embed_inputs(
            model, self.queries, "query", prompt_name=self.query_prompt_name, prompt=self.query_prompt, **options
        )
        id_rank = _id_ranks(self.corpus_ids)
        # per function and query: the best (score, id rank, corpus id) so far
        hits: dict[str, list[list[tuple[float, int, Hashable]]]] = {
            fn: [[] for _ in self.queries] for fn in score_functions
        }
        for start in trange(
            0, len(self.corpus), self.corpus_chunk_size, desc="Corpus Chunks", disable=not self.show_progress_bar
        ):
            stop = min(start + self.corpus_chunk_size, len(self.corpus))
            chunk_embeddings = self.embed_inputs(
                model,
                self.corpus[start:stop],
                "document",
                prompt_name=self.corpus_prompt_name,
                prompt=self.corpus_prompt,
                **options,
            )
            for fn, score_function in score_functions.items():
                chunk_scores = score_function(query_embeddings, chunk_embeddings).detach().float().cpu()
                top = _top_k(chunk_scores, min(max_k, stop - start), id_rank[start:stop])
                for query, (indices, values) in enumerate(top):
                    best = hits[fn][query]
                    best += [
                        (value, int(id_rank[start + i]), self.corpus_ids[start + i])
                        for i, value in zip(indices, values)
                    ]
                    best.sort(key=lambda hit: (-hit[0], hit[1]))
                    del best[max_k:]
        return {fn: [[cid for _, _, cid in query_hits] for query_hits in by_query] for fn, by_query in hits.items()}

    def compute_metrics(self, ranked_ids: list[list[Hashable]]) -> dict[str, dict[int, float]]:
        """The metrics of one score function, from each query's ranked corpus ids (in ``queries_ids`` order)."""
        relevant = [self.relevant_docs[qid] for qid in self.queries_ids]
        return retrieval_metrics(
            ranked_ids,
            relevant,
            accuracy_at_k=self.accuracy_at_k,
            precision_recall_at_k=self.precision_recall_at_k,
            mrr_at_k=self.mrr_at_k,
            ndcg_at_k=self.ndcg_at_k,
            map_at_k=self.map_at_k,
        )

    def get_config_dict(self) -> dict[str, Any]:
        """The settings worth recording next to the metrics (e.g. in a model card)."""
        keys = ("truncate_dim", "query_prompt", "query_prompt_name", "corpus_prompt", "corpus_prompt_name")
        return {key: getattr(self, key) for key in keys if getattr(self, key) is not None}


def _id_ranks(ids: list[Hashable]) -> np.ndarray:
    """Position of each id in increasing id order: the tie-break between equal scores."""
    try:
        order = sorted(range(len(ids)), key=cast(Callable[[int], Any], ids.__getitem__))
    except TypeError:
        raise TypeError("corpus ids must be comparable with each other (all strings or all numbers)") from None
    ranks = np.empty(len(ids), dtype=np.int64)
    ranks[order] = np.arange(len(ids))
    return ranks


def _top_k(scores: Tensor, k: int, id_rank: np.ndarray) -> list[tuple[list[int], list[float]]]:
    """Each row's k best column indices and scores, by decreasing score then increasing id rank."""
    values, indices = torch.topk(scores, k, dim=1, largest=True, sorted=False)
    kth = values.min(dim=1, keepdim=True).values
    tied = ((scores >= kth).sum(dim=1) > k).tolist()
    out = []
    for row, has_ties in enumerate(tied):
        if not has_ties:
            out.append((indices[row].tolist(), values[row].tolist()))
            continue
        # more candidates than k share the k-th score: keep the ones with the smallest ids
        candidates = torch.nonzero(scores[row] >= kth[row]).flatten().numpy()
        row_scores = scores[row, candidates].numpy()
        keep = candidates[np.lexsort((id_rank[candidates], -row_scores))[:k]]
        out.append((keep.tolist(), scores[row, keep].tolist()))
    return out
