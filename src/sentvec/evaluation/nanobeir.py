"""NanoBEIR: retrieval quality on 13 small BEIR subsets (50 queries, a few thousand documents each), averaged."""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Sequence
from typing import Any, cast

import numpy as np

from sentvec.evaluation.evaluator import SentenceEvaluator, SimilarityEncoder
from sentvec.evaluation.information_retrieval import InformationRetrievalEvaluator

logger = logging.getLogger(__name__)

# the name a user passes (any case) -> the data set's split name in the NanoBEIR repositories
DATASETS: dict[str, str] = {
    "climatefever": "NanoClimateFEVER",
    "dbpedia": "NanoDBPedia",
    "fever": "NanoFEVER",
    "fiqa2018": "NanoFiQA2018",
    "hotpotqa": "NanoHotpotQA",
    "msmarco": "NanoMSMARCO",
    "nfcorpus": "NanoNFCorpus",
    "nq": "NanoNQ",
    "quoraretrieval": "NanoQuoraRetrieval",
    "scidocs": "NanoSCIDOCS",
    "arguana": "NanoArguAna",
    "scifact": "NanoSciFact",
    "touche2020": "NanoTouche2020",
}


class NanoBEIREvaluator(SentenceEvaluator[SimilarityEncoder]):
    """Run an :class:`InformationRetrievalEvaluator` on each chosen NanoBEIR data set and report every
    data set's metrics plus their aggregate (default: the mean) under ``NanoBEIR_<aggregate_key>``.

    The data sets are read with ``datasets.load_dataset(dataset_id, "corpus" | "queries" | "qrels",
    split="Nano<Name>")`` (columns ``_id``/``text`` and ``query-id``/``corpus-id``), so they come from the
    Hugging Face Hub or its cache; ``dataset_id`` may name another repository in that layout (e.g. a
    translation).

    Args:
        dataset_names: which data sets, by name in any case (``"MSMARCO"``, ``"nq"``); None for all 13.
        mrr_at_k, ndcg_at_k, accuracy_at_k, precision_recall_at_k, map_at_k: the metric cut-offs.
        show_progress_bar, batch_size, write_csv, truncate_dim, score_functions, main_score_function:
            as :class:`InformationRetrievalEvaluator`.
        aggregate_fn: combines one metric over the data sets (default ``np.mean``).
        aggregate_key: the aggregate's name in the metric keys.
        query_prompts, corpus_prompts: one prompt for every data set, or ``{name: prompt}``.
        dataset_id: the Hub repository holding the data sets.
    """

    def __init__(
        self,
        dataset_names: Sequence[str] | None = None,
        mrr_at_k: Sequence[int] = (10,),
        ndcg_at_k: Sequence[int] = (10,),
        accuracy_at_k: Sequence[int] = (1, 3, 5, 10),
        precision_recall_at_k: Sequence[int] = (1, 3, 5, 10),
        map_at_k: Sequence[int] = (100,),
        show_progress_bar: bool = False,
        batch_size: int = 32,
        write_csv: bool = True,
        truncate_dim: int | None = None,
        score_functions: dict[str, Callable[..., Any]] | None = None,
        main_score_function: str | None = None,
        aggregate_fn: Callable[[list[float]], float] = np.mean,
        aggregate_key: str = "mean",
        query_prompts: str | dict[str, str] | None = None,
        corpus_prompts: str | dict[str, str] | None = None,
        write_predictions: bool = False,
        dataset_id: str = "sentence-transformers/NanoBEIR-en",
    ) -> None:
        super().__init__()
        if dataset_names is None:
            dataset_names = list(DATASETS)
        if len(dataset_names) == 0:
            raise ValueError("dataset_names cannot be empty. Use None to evaluate on all datasets.")
        invalid = [name for name in dataset_names if name.lower() not in DATASETS]
        if invalid:
            raise ValueError(
                f"Dataset(s) {invalid} are not valid NanoBEIR datasets. Valid dataset names are: {list(DATASETS)}"
            )
        self.dataset_names = list(dataset_names)
        self.dataset_id = dataset_id
        self.aggregate_fn = aggregate_fn
        self.aggregate_key = aggregate_key
        self.name = f"NanoBEIR_{aggregate_key}"
        self.write_csv = write_csv
        self.query_prompts = self._per_dataset(query_prompts, "query_prompts")
        self.corpus_prompts = self._per_dataset(corpus_prompts, "corpus_prompts")
        self.ir_options: dict[str, Any] = dict(
            mrr_at_k=mrr_at_k,
            ndcg_at_k=ndcg_at_k,
            accuracy_at_k=accuracy_at_k,
            precision_recall_at_k=precision_recall_at_k,
            map_at_k=map_at_k,
            show_progress_bar=show_progress_bar,
            batch_size=batch_size,
            write_csv=write_csv,
            truncate_dim=truncate_dim,
            score_functions=score_functions,
            main_score_function=main_score_function,
            write_predictions=write_predictions,
        )
        self.main_score_function = main_score_function
        self.csv_file = f"NanoBEIR_evaluation_{aggregate_key}_results.csv"
        self.csv_headers = ["epoch", "steps"]
        self.evaluators: list[InformationRetrievalEvaluator] | None = None  # built (and data loaded) on first call

    def _per_dataset(self, prompts: str | dict[str, str] | None, argument: str) -> dict[str, str | None]:
        if prompts is None or isinstance(prompts, str):
            return {name: prompts for name in self.dataset_names}
        unknown = [key for key in prompts if key.lower() not in {n.lower() for n in self.dataset_names}]
        if unknown:
            raise ValueError(f"{argument} names {unknown}, which are not among dataset_names {self.dataset_names}")
        lowered = {key.lower(): value for key, value in prompts.items()}
        return {name: lowered.get(name.lower()) for name in self.dataset_names}

    def _load(self, name: str) -> InformationRetrievalEvaluator:
        try:
            from datasets import load_dataset
        except ImportError as err:
            raise ImportError(
                "NanoBEIREvaluator reads its data with the datasets library: pip install datasets "
                "(or pip install -e '.[datasets]' in the sentvec checkout)"
            ) from err
        split = DATASETS[name.lower()]
        corpus = load_dataset(self.dataset_id, "corpus", split=split)
        queries = load_dataset(self.dataset_id, "queries", split=split)
        qrels = load_dataset(self.dataset_id, "qrels", split=split)
        relevant: dict[Hashable, set[Hashable]] = {}
        for query_id, corpus_id in zip(qrels["query-id"], qrels["corpus-id"]):
            relevant.setdefault(str(query_id), set()).add(str(corpus_id))
        return self.retrieval_evaluator(
            queries=dict(zip(map(str, queries["_id"]), queries["text"])),
            corpus=dict(zip(map(str, corpus["_id"]), corpus["text"])),
            relevant_docs=relevant,
            name=split,
            query_prompt=self.query_prompts[name],
            corpus_prompt=self.corpus_prompts[name],
        )

    def retrieval_evaluator(self, **arguments: Any) -> InformationRetrievalEvaluator:
        """The evaluator of one data set, from its ``queries``, ``corpus``, ``relevant_docs``, ``name`` and
        prompts, with this evaluator's metric options (a subclass may build another kind)."""
        return InformationRetrievalEvaluator(**arguments, **self.ir_options)

    def __call__(
        self, model: SimilarityEncoder, output_path: str | None = None, epoch: int = -1, steps: int = -1
    ) -> dict[str, float]:
        """Score ``model`` and return the metrics named in the class docstring, prefixed with ``name``.

        Args:
            model: the model to score.
            output_path: a folder to append this evaluation's CSV row to; None writes nothing.
            epoch, steps: where in training the evaluation happens (-1: after training or the epoch)."""
        logger.info("NanoBEIR evaluation of the model on %s%s:", self.dataset_names, self._when(epoch, steps))
        if self.evaluators is None:
            self.evaluators = [self._load(name) for name in self.dataset_names]
        per_dataset: list[dict[str, float]] = []
        results: dict[str, float] = {}
        for evaluator in self.evaluators:
            metrics = evaluator(model, output_path=output_path, epoch=epoch, steps=steps)
            results.update(metrics)
            per_dataset.append({key[len(evaluator.name) + 1 :]: value for key, value in metrics.items()})
        shared = [key for key in per_dataset[0] if all(key in m for m in per_dataset)]
        aggregated = {key: float(self.aggregate_fn([m[key] for m in per_dataset])) for key in shared}
        main = self.main_score_function or cast(str, self.evaluators[0].primary_metric).split("_")[-2]
        self.primary_metric = f"{main}_ndcg@{max(self.ir_options['ndcg_at_k'])}"
        if len(self.csv_headers) == 2:
            self.csv_headers += list(aggregated)
        self._write_csv_row(output_path, [epoch, steps, *aggregated.values()])
        results.update(self.prefix_name_to_metrics(aggregated, self.name))
        self.store_metrics_in_model_card_data(model, results, epoch, steps)
        return results
