"""Re-ranking: order each query's candidate documents by similarity and score the order."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from torch import Tensor
from tqdm import tqdm

from sentvec.evaluation.evaluator import SentenceEvaluator
from sentvec.evaluation.metrics import scored_ranking_metrics
from sentvec.similarity import cos_sim
from sentvec.types import TextEncoder

logger = logging.getLogger(__name__)


class RerankingEvaluator(SentenceEvaluator[TextEncoder]):
    """For each query, score its positive and negative documents by embedding similarity, sort them,
    and measure MAP, MRR@k and NDCG@k of that order.

    Documents with equal scores keep their listed order (positives first) for MRR; AP and NDCG treat
    equal scores as one group.

    Args:
        samples: a list (or a dict's values) of ``{"query": str, "positive": [str, ...],
            "negative": [str, ...]}``; ``positive``/``negative`` may also be a single string.
            Samples without a positive or without a negative are left out.
        at_k: the cut-off of MRR and NDCG.
        name: prefix of the metric keys.
        write_csv: append a row to ``RerankingEvaluator_<name>_results_@<k>.csv`` when called with
            an ``output_path``.
        similarity_fct: ``(queries, documents) -> scores``; cosine similarity by default.
        batch_size: texts per forward pass.
        show_progress_bar: show the encoding progress.
        use_batched_encoding: embed all queries and all documents at once (fast), rather than sample
            by sample (less memory). The metrics are the same.
        truncate_dim: keep only the first dimensions of each embedding.
        mrr_at_k: the former name of ``at_k``.

    Returns (when called) ``{name}_map``, ``{name}_mrr@k`` and ``{name}_ndcg@k`` (primary).
    """

    def __init__(
        self,
        samples: list[dict[str, Any]] | dict[Any, dict[str, Any]],
        at_k: int = 10,
        name: str = "",
        write_csv: bool = True,
        similarity_fct: Callable[[Tensor, Tensor], Tensor] = cos_sim,
        batch_size: int = 64,
        show_progress_bar: bool = False,
        use_batched_encoding: bool = True,
        truncate_dim: int | None = None,
        mrr_at_k: int | None = None,
    ) -> None:
        super().__init__()
        if mrr_at_k is not None:
            logger.warning("mrr_at_k is deprecated; use at_k=%d", mrr_at_k)
            at_k = mrr_at_k
        rows = list(samples.values()) if isinstance(samples, dict) else list(samples)
        for i, sample in enumerate(rows):
            missing = [key for key in ("query", "positive", "negative") if key not in sample]
            if missing:
                raise ValueError(f"sample {i} has no {missing}; each sample needs 'query', 'positive' and 'negative'")
        self.samples = [
            {**sample, "positive": _as_list(sample["positive"]), "negative": _as_list(sample["negative"])}
            for sample in rows
        ]
        self.samples = [sample for sample in self.samples if sample["positive"] and sample["negative"]]
        self.at_k = at_k
        self.name = name
        self.write_csv = write_csv
        self.similarity_fct = similarity_fct
        self.batch_size = batch_size
        self.show_progress_bar = show_progress_bar
        self.use_batched_encoding = use_batched_encoding
        self.truncate_dim = truncate_dim
        self.csv_file = f"RerankingEvaluator{'_' + name if name else ''}_results_@{at_k}.csv"
        self.csv_headers = ["epoch", "steps", "MAP", f"MRR@{at_k}", f"NDCG@{at_k}"]
        self.primary_metric = f"ndcg@{at_k}"

    def __call__(
        self, model: TextEncoder, output_path: str | None = None, epoch: int = -1, steps: int = -1
    ) -> dict[str, float]:
        """Score ``model`` and return the metrics named in the class docstring, prefixed with ``name``.

        Args:
            model: the model to score.
            output_path: a folder to append this evaluation's CSV row to; None writes nothing.
            epoch, steps: where in training the evaluation happens (-1: after training or the epoch)."""
        logger.info(
            "RerankingEvaluator: evaluating the model on the %s dataset%s:", self.name, self._when(epoch, steps)
        )
        scores = self.compute_metrics(model)
        logger.info(
            "Queries: %d\tMAP: %.2f\tMRR@%d: %.2f\tNDCG@%d: %.2f",
            len(self.samples),
            scores["map"] * 100,
            self.at_k,
            scores["mrr"] * 100,
            self.at_k,
            scores["ndcg"] * 100,
        )
        self._write_csv_row(output_path, [epoch, steps, scores["map"], scores["mrr"], scores["ndcg"]])
        metrics = {"map": scores["map"], f"mrr@{self.at_k}": scores["mrr"], f"ndcg@{self.at_k}": scores["ndcg"]}
        metrics = self.prefix_name_to_metrics(metrics, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics

    def compute_metrics(self, model: TextEncoder) -> dict[str, float]:
        """Mean ``map``, ``mrr`` and ``ndcg`` over the samples."""
        if not self.samples:
            raise ValueError("no sample has both a positive and a negative document; nothing to evaluate")
        options = dict(batch_size=self.batch_size, convert_to_tensor=True, truncate_dim=self.truncate_dim)
        if self.use_batched_encoding:
            queries = self.embed_inputs(
                model, [s["query"] for s in self.samples], "query", show_progress_bar=self.show_progress_bar, **options
            )
            documents = self.embed_inputs(
                model,
                [d for s in self.samples for d in s["positive"] + s["negative"]],
                "document",
                show_progress_bar=self.show_progress_bar,
                **options,
            )
            starts = np.cumsum([0] + [len(s["positive"]) + len(s["negative"]) for s in self.samples])
            pairs: Iterable[tuple[Any, Any]] = [
                (queries[i], documents[starts[i] : starts[i + 1]]) for i in range(len(self.samples))
            ]
        else:
            pairs = (
                (
                    self.embed_inputs(model, [s["query"]], "query", show_progress_bar=False, **options)[0],
                    self.embed_inputs(
                        model, s["positive"] + s["negative"], "document", show_progress_bar=False, **options
                    ),
                )
                for s in tqdm(self.samples, desc="Samples", disable=not self.show_progress_bar)
            )
        ap, rr, ndcg = [], [], []
        for sample, (query, docs) in zip(self.samples, pairs):
            row = self.similarity_fct(query, docs)
            scores = (row[0] if row.dim() > 1 else row).detach().float().cpu().numpy()
            relevant = np.array([1] * len(sample["positive"]) + [0] * len(sample["negative"]))
            sample_ap, sample_rr, sample_ndcg = scored_ranking_metrics(relevant, scores, self.at_k)
            ap.append(sample_ap)
            rr.append(sample_rr)
            ndcg.append(sample_ndcg)
        return {"map": float(np.mean(ap)), "mrr": float(np.mean(rr)), "ndcg": float(np.mean(ndcg))}

    def get_config_dict(self) -> dict[str, Any]:
        """The settings worth recording next to the metrics (e.g. in a model card)."""
        config: dict[str, Any] = {"at_k": self.at_k}
        if self.truncate_dim is not None:
            config["truncate_dim"] = self.truncate_dim
        return config


def _as_list(documents: str | list[str]) -> list[str]:
    return [documents] if isinstance(documents, str) else list(documents)
