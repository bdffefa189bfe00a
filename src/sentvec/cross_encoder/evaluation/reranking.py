"""Reranking with a cross-encoder: score each query's candidates, sort them, and score the order."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from sentvec.evaluation.evaluator import PairScorer, SentenceEvaluator
from sentvec.evaluation.metrics import ranked_list_metrics

logger = logging.getLogger(__name__)


class CrossEncoderRerankingEvaluator(SentenceEvaluator[PairScorer]):
    """For each query, rerank its candidate documents with the cross-encoder and measure MAP, MRR@k
    and NDCG@k of the new order.

    Each sample is ``{"query": str, "positive": [str, ...], and exactly one of "negative": [str, ...]
    or "documents": [str, ...]}`` (``positive``/``negative`` may be single strings). With
    ``negative``, the candidates are the positives and the negatives. With ``documents`` (e.g. the
    top hits of a first-stage retriever, best first), the candidates are those documents, and the
    metrics of their given order are reported too, as ``base_*``: the gain from reranking.

    Args:
        samples: the samples, as a list (or a dict's values).
        at_k: the cut-off of MRR and NDCG.
        always_rerank_positives: with ``documents``, add the positives the list lacks to the
            candidates (measures the reranker alone); ``False`` reranks only the listed documents, so a
            positive the retriever missed counts as not found (measures the whole pipeline).
        name: prefix of the metric keys.
        batch_size: pairs per forward pass.
        show_progress_bar: show the scoring progress.
        write_csv: append a row to ``CrossEncoderRerankingEvaluator_<name>_results_@<k>.csv`` when called
            with an ``output_path``.
        mrr_at_k: the former name of ``at_k``.

    Returns (when called) ``{name}_map``, ``{name}_mrr@k``, ``{name}_ndcg@k`` (primary) and, for
    ``documents`` samples, the same with ``base_``.
    """

    def __init__(
        self,
        samples: list[dict[str, Any]] | dict[Any, dict[str, Any]],
        at_k: int = 10,
        always_rerank_positives: bool = True,
        name: str = "",
        batch_size: int = 64,
        show_progress_bar: bool = False,
        write_csv: bool = True,
        mrr_at_k: int | None = None,
    ) -> None:
        super().__init__()
        if mrr_at_k is not None:
            logger.warning("mrr_at_k is deprecated; use at_k=%d", mrr_at_k)
            at_k = mrr_at_k
        rows = list(samples.values()) if isinstance(samples, dict) else list(samples)
        self.samples = [_checked(i, sample) for i, sample in enumerate(rows)]
        self.at_k = at_k
        self.always_rerank_positives = always_rerank_positives
        self.name = name
        self.batch_size = batch_size
        self.show_progress_bar = show_progress_bar
        self.write_csv = write_csv
        self.uses_documents = any("documents" in sample for sample in self.samples)
        self.csv_file = f"CrossEncoderRerankingEvaluator{'_' + name if name else ''}_results_@{at_k}.csv"
        self.csv_headers = ["epoch", "steps", "MAP", f"MRR@{at_k}", f"NDCG@{at_k}"]
        if self.uses_documents:
            self.csv_headers += ["base_MAP", f"base_MRR@{at_k}", f"base_NDCG@{at_k}"]
        self.primary_metric = f"ndcg@{at_k}"

    def __call__(
        self, model: PairScorer, output_path: str | None = None, epoch: int = -1, steps: int = -1
    ) -> dict[str, float]:
        """Score ``model`` and return the metrics named in the class docstring, prefixed with ``name``.

        Args:
            model: the model to score.
            output_path: a folder to append this evaluation's CSV row to; None writes nothing.
            epoch, steps: where in training the evaluation happens (-1: after training or the epoch)."""
        logger.info(
            "CrossEncoderRerankingEvaluator: evaluating the model on the %s dataset%s:",
            self.name,
            self._when(epoch, steps),
        )
        reranked, base = self.compute_metrics(model)
        metrics = {"map": reranked[0], f"mrr@{self.at_k}": reranked[1], f"ndcg@{self.at_k}": reranked[2]}
        if base is not None:
            metrics.update({"base_map": base[0], f"base_mrr@{self.at_k}": base[1], f"base_ndcg@{self.at_k}": base[2]})
        logger.info(
            "Queries: %d\tMAP: %.2f\tMRR@%d: %.2f\tNDCG@%d: %.2f",
            len(self.samples),
            reranked[0] * 100,
            self.at_k,
            reranked[1] * 100,
            self.at_k,
            reranked[2] * 100,
        )
        self._write_csv_row(output_path, [epoch, steps, *reranked, *(base or ())])
        metrics = self.prefix_name_to_metrics(metrics, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics

    def compute_metrics(
        self, model: PairScorer
    ) -> tuple[tuple[float, float, float], tuple[float, float, float] | None]:
        """Mean (MAP, MRR@k, NDCG@k) of the reranked order, and of the given order for ``documents`` samples."""
        candidates = [self._candidates(sample) for sample in self.samples]
        pairs = [(sample["query"], doc) for sample, docs in zip(self.samples, candidates) for doc in docs]
        scores = np.asarray(
            model.predict(
                pairs, batch_size=self.batch_size, show_progress_bar=self.show_progress_bar, convert_to_numpy=True
            ),
            dtype=np.float64,
        ).reshape(len(pairs), -1)[:, -1]
        reranked, base = [], []
        start = 0
        for sample, docs in zip(self.samples, candidates):
            positives = set(sample["positive"])
            own = scores[start : start + len(docs)]
            start += len(docs)
            order = np.argsort(-own, kind="stable")
            reranked.append(ranked_list_metrics([docs[i] in positives for i in order], len(positives), self.at_k))
            if "documents" in sample:
                base.append(
                    ranked_list_metrics([doc in positives for doc in sample["documents"]], len(positives), self.at_k)
                )
        mean = tuple(float(v) for v in np.mean(reranked, axis=0))
        return mean, (tuple(float(v) for v in np.mean(base, axis=0)) if base else None)  # type: ignore[return-value]

    def _candidates(self, sample: dict[str, Any]) -> list[str]:
        if "negative" in sample:
            return list(dict.fromkeys(sample["positive"] + sample["negative"]))
        documents = list(dict.fromkeys(sample["documents"]))
        if self.always_rerank_positives:
            documents += [p for p in sample["positive"] if p not in documents]
        return documents

    def get_config_dict(self) -> dict[str, Any]:
        """The settings worth recording next to the metrics (e.g. in a model card)."""
        return {"at_k": self.at_k, "always_rerank_positives": self.always_rerank_positives}


def _checked(i: int, sample: dict[str, Any]) -> dict[str, Any]:
    """The sample with list-valued ``positive``/``negative``/``documents``; a clear error when malformed."""
    if "query" not in sample:
        raise ValueError(
            f"sample {i} has no 'query'; each sample needs a 'query', its 'positive' documents and "
            "either 'negative' or 'documents'"
        )
    if "positive" not in sample:
        raise ValueError(f"sample {i} has no 'positive'; give the relevant document(s) of its query")
    if ("negative" in sample) == ("documents" in sample):
        raise ValueError(
            f"sample {i} must have exactly one of 'negative' (documents known to be irrelevant) or "
            "'documents' (candidates to rerank, e.g. a retriever's hits)"
        )
    out = dict(sample)
    for key in ("positive", "negative", "documents"):
        if key in out:
            out[key] = [out[key]] if isinstance(out[key], str) else list(out[key])
    return out
