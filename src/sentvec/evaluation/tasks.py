"""Named evaluation tasks for the command line and scripts: the STS Benchmark, or a file of scored pairs.

The STS Benchmark comes from the first of: a folder you name (``data_folder=``, ``sentvec eval --data``),
``$SENTVEC_DATA`` or the nearest ``shared/data`` folder, the sentvec cache, and, when online, the
Hugging Face dataset ``sentence-transformers/stsb`` (fetched once into the cache).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from sentvec.evaluation.embedding_similarity import EmbeddingSimilarityEvaluator
from sentvec.evaluation.evaluator import SimilarityEncoder
from sentvec.evaluation.plot import plot_similarity
from sentvec.paths import atomic_file
from sentvec.readers import STS_SPLITS, Pairs, data_folder, read_pairs, read_sts_benchmark
from sentvec.store import default_cache_folder, offline_reason
from sentvec.types import SIMILARITY_NAMES

logger = logging.getLogger(__name__)

TASKS = ("stsb",)

#: The Hugging Face dataset the STS Benchmark is fetched from: the same pairs as the original release,
#: scores already divided by 5, as Parquet files ``data/{train,validation,test}-*.parquet``.
STSB_HUB_DATASET = "sentence-transformers/stsb"
_HUB_SPLITS = {"train": "train", "dev": "validation", "test": "test"}
_NO_STSB_HINT = (
    "To get it: online, install huggingface_hub and pyarrow (pip install -e '.[hub,parquet]' in the sentvec checkout) and "
    f"sentvec fetches the Hugging Face dataset {STSB_HUB_DATASET} into its cache; offline, pass the folder that "
    "holds sts-*.csv (the Stsbenchmark.tar.gz release) or the dataset's data/*.parquet files with "
    "--data DIR (data_folder= in Python), or set SENTVEC_DATA to a folder that holds stsbenchmark/"
)


def _stsb_cache(cache_folder: str | os.PathLike[str] | None) -> Path:
    base = Path(cache_folder).expanduser() if cache_folder is not None else default_cache_folder()
    return base / "datasets" / STSB_HUB_DATASET.replace("/", "--")


def _read_parquet_pairs(path: Path) -> Pairs:
    """sentence1, sentence2 and score (0-1) from one of the hub dataset's Parquet files."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError(
            f"reading {path} needs pyarrow: pip install -e '.[parquet]' in the sentvec checkout"
        ) from None

    table = pq.read_table(path)
    missing = {"sentence1", "sentence2", "score"} - set(table.column_names)
    if missing:
        raise ValueError(f"{path} has no column {sorted(missing)[0]!r}; its columns are {table.column_names}")
    scores = [float(x) for x in table.column("score").to_pylist()]
    if not scores or not all(0.0 <= x <= 1.0 for x in scores):
        raise ValueError(f"{path}: expected STS Benchmark scores between 0 and 1 (the hub dataset's scale)")
    return (
        [str(x) for x in table.column("sentence1").to_pylist()],
        [str(x) for x in table.column("sentence2").to_pylist()],
        scores,
    )


def _read_stsb_folder(folder: Path, split: str) -> Pairs | None:
    """The split from a folder in any of the layouts we know, or None when none is there: the original
    release (``sts-test.csv``, also under ``stsbenchmark/``), the hub dataset (``data/test-*.parquet``)
    or the sentvec cache's (``test.jsonl``)."""
    if any((folder / sub / f"sts-{split}.csv").is_file() for sub in (".", "stsbenchmark")):
        return read_sts_benchmark(split, folder)  # type: ignore[arg-type]
    hub_split = _HUB_SPLITS[split]
    parquet = sorted(folder.glob(f"{hub_split}-*.parquet")) or sorted(folder.glob(f"data/{hub_split}-*.parquet"))
    if parquet:
        pairs = [_read_parquet_pairs(path) for path in parquet]
        return [s for p in pairs for s in p[0]], [s for p in pairs for s in p[1]], [x for p in pairs for x in p[2]]
    if (folder / f"{split}.jsonl").is_file():
        return read_pairs(folder / f"{split}.jsonl")
    return None


def _fetch_stsb(cache: Path) -> None:
    """Download the hub dataset's Parquet files and keep every split as JSON lines in ``cache``.

    Raises:
        ImportError: huggingface_hub or pyarrow is not installed.
        Exception: whatever the hub client raises when the dataset cannot be reached.
    """
    import pyarrow.parquet  # noqa: F401  (fail before the download when it is missing)
    from huggingface_hub import snapshot_download

    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=cache) as tmp:
        logger.info("Fetching the STS Benchmark from the Hugging Face dataset %s", STSB_HUB_DATASET)
        snapshot_download(STSB_HUB_DATASET, repo_type="dataset", allow_patterns=["data/*.parquet"], local_dir=tmp)
        for split in STS_SPLITS:
            pairs = _read_stsb_folder(Path(tmp), split)
            if pairs is None:
                raise FileNotFoundError(
                    f"the hub dataset {STSB_HUB_DATASET} has no data/{_HUB_SPLITS[split]}-*.parquet"
                )
            with atomic_file(cache / f"{split}.jsonl", "w") as handle:
                for first, second, score in zip(*pairs):
                    handle.write(
                        json.dumps({"sentence1": first, "sentence2": second, "score": score}, ensure_ascii=False) + "\n"
                    )


def load_sts_benchmark(
    split: str = "test",
    folder: str | os.PathLike[str] | None = None,
    *,
    cache_folder: str | os.PathLike[str] | None = None,
) -> Pairs:
    """One split of the STS Benchmark, from wherever it is, fetching it when it is nowhere.

    Looks, in order: ``folder`` when given (and only there); ``$SENTVEC_DATA`` or the nearest
    ``shared/data`` (:func:`sentvec.readers.data_folder`); the sentvec cache (``cache_folder``,
    default ``$SENTVEC_HOME`` or ``~/.cache/sentvec``); then, unless ``SENTVEC_OFFLINE`` /
    ``HF_HUB_OFFLINE`` is set, the Hugging Face dataset ``sentence-transformers/stsb``, whose
    three splits are then kept in the cache.

    Args:
        split: ``train``, ``dev`` or ``test``.
        folder: a folder with the original release (``sts-test.csv``, or ``stsbenchmark/sts-test.csv``)
            or with the hub dataset's ``data/test-*.parquet`` files.
        cache_folder: the sentvec cache.

    Returns:
        ``(sentences1, sentences2, scores)``, scores from 0 to 1.

    Raises:
        FileNotFoundError: the split is in none of those places; the message says what was tried,
            how to fetch it online and where to point sentvec offline.
    """
    if split not in STS_SPLITS:
        raise ValueError(f"split={split!r}; the STS Benchmark has {list(STS_SPLITS)}")
    if folder is not None:
        given = Path(folder).expanduser()
        pairs = _read_stsb_folder(given, split) if given.is_dir() else None
        if pairs is None:
            raise FileNotFoundError(
                f"no STS Benchmark {split} split in {str(given)!r}: it should hold sts-{split}.csv (also under "
                f"stsbenchmark/) or data/{_HUB_SPLITS[split]}-*.parquet. {_NO_STSB_HINT}"
            )
        return pairs
    tried = []
    try:
        shared = data_folder()
    except FileNotFoundError as err:
        tried.append(str(err).split(";")[0])
    else:
        pairs = _read_stsb_folder(shared, split)
        if pairs is not None:
            return pairs
        tried.append(f"no stsbenchmark/sts-{split}.csv in {shared}")
    cache = _stsb_cache(cache_folder)
    if (cache / f"{split}.jsonl").is_file():
        return read_pairs(cache / f"{split}.jsonl")
    tried.append(f"not in the sentvec cache ({cache})")

    offline = offline_reason(False)
    if offline is not None:
        tried.append(f"no download: {offline}")
    else:
        try:
            _fetch_stsb(cache)
        except ImportError as err:
            tried.append(f"cannot fetch it: {err.name or err} is not installed")
        except Exception as err:  # the hub client's many network and HTTP errors: all mean "not fetched"
            first_line = (str(err).strip().splitlines() or [""])[0]
            tried.append(f"fetching {STSB_HUB_DATASET} failed ({type(err).__name__}: {first_line})")
            with contextlib.suppress(OSError):
                cache.rmdir()  # only when empty: a failed first fetch leaves no trace
        else:
            return read_pairs(cache / f"{split}.jsonl")
    raise FileNotFoundError(f"the STS Benchmark ({split} split) is not here ({'; '.join(tried)}). {_NO_STSB_HINT}")


def task_evaluator(
    task: str | os.PathLike[str] = "stsb",
    split: str = "test",
    *,
    data_folder: str | os.PathLike[str] | None = None,
    cache_folder: str | os.PathLike[str] | None = None,
    columns: tuple[str | int, str | int, str | int] = ("sentence1", "sentence2", "score"),
    header: bool = True,
    batch_size: int = 32,
    show_progress_bar: bool = False,
) -> EmbeddingSimilarityEvaluator:
    """The evaluator of a task, with every similarity function and cosine Spearman as primary metric.

    Args:
        task: ``"stsb"`` (the STS Benchmark), or the path of a CSV/TSV/JSON lines file of scored pairs
            (see :func:`sentvec.readers.read_pairs`).
        split: for ``stsb``: ``train``, ``dev`` or ``test``.
        data_folder: for ``stsb``: the folder that holds it (default: looked for, then fetched; see
            :func:`load_sts_benchmark`).
        cache_folder: for ``stsb``: the sentvec cache a fetched copy is kept in.
        columns: for a file: the sentence1, sentence2 and score columns (names, or positions with
            ``header=False``).
        header: for a CSV/TSV file: whether it starts with column names.
        batch_size, show_progress_bar: encoding options.
    """
    if str(task) == "stsb":
        sentences1, sentences2, scores = load_sts_benchmark(split, data_folder, cache_folder=cache_folder)
        name = f"sts-{split}"
    elif Path(task).suffix:
        sentences1, sentences2, scores = read_pairs(task, *columns, header=header)
        name = re.sub(r"[^\w.-]+", "-", Path(task).stem)
    else:
        raise ValueError(f"unknown task {str(task)!r}; choose from {list(TASKS)}, or give a .csv/.tsv/.jsonl file")
    return EmbeddingSimilarityEvaluator(
        sentences1,
        sentences2,
        scores,
        batch_size=batch_size,
        main_similarity="cosine",
        similarity_fn_names=list(SIMILARITY_NAMES),
        name=name,
        show_progress_bar=show_progress_bar,
    )


def run_task(
    model: SimilarityEncoder,
    task: str | os.PathLike[str] = "stsb",
    split: str = "test",
    *,
    plot: str | os.PathLike[str] | None = None,
    **options: Any,
) -> dict[str, float]:
    """Evaluate ``model`` on a task (see :func:`task_evaluator` for ``task``, ``split`` and ``options``).

    Returns the metrics, e.g. ``{"sts-test_pearson_cosine": ..., "sts-test_spearman_cosine": 0.8203, ...}``
    (Pearson and Spearman for each similarity function; the primary metric is
    ``{name}_spearman_cosine``). With ``plot``, also saves a scatter of gold score against predicted
    cosine similarity to that PNG path (needs matplotlib).
    """
    evaluator = task_evaluator(task, split, **options)
    metrics = evaluator(model)
    if plot is not None:
        spearman = metrics[f"{evaluator.name}_spearman_cosine"]
        plot_similarity(
            evaluator.scores,
            evaluator.predictions["cosine"],
            plot,
            title=f"{evaluator.name}: Spearman {spearman:.4f} ({len(evaluator.scores)} pairs)",
        )
    return metrics


def format_table(metrics: dict[str, float], primary_metric: str | None = None, digits: int = 5) -> str:
    """The metrics as a text table: a function x (pearson, spearman) grid for similarity metrics,
    else one ``metric value`` line each. The primary metric is marked with ``*``."""
    pattern = re.compile(r"^(?:(.*)_)?(pearson|spearman)_(cosine|dot|euclidean|manhattan|max)$")
    matches = {key: pattern.match(key) for key in metrics}
    cell = digits + 3  # "0." and the digits; negatives take one more

    def value(key: str) -> str:
        return f"{metrics[key]:>{cell}.{digits}f}{'*' if key == primary_metric else ' '}"

    if metrics and all(matches.values()):
        grid: dict[str, dict[str, str]] = {}
        prefixes = set()
        for key, match in matches.items():
            assert match is not None
            prefixes.add(match.group(1))
            grid.setdefault(match.group(3), {})[match.group(2)] = value(key)
        width = max(len("function"), *(len(fn) for fn in grid))
        lines = [f"{'function':<{width}}  {'pearson':>{cell}}   {'spearman':>{cell}}"]
        lines += [
            f"{fn:<{width}}  {row.get('pearson', '-' * cell + ' ')}  {row.get('spearman', '-' * cell + ' ')}".rstrip()
            for fn, row in grid.items()
        ]
        if len(prefixes) == 1 and None not in prefixes:
            lines.insert(0, str(next(iter(prefixes))))
        return "\n".join(lines)
    width = max((len(key) for key in metrics), default=0)
    return "\n".join(f"{key:<{width}}  {value(key)}".rstrip() for key in metrics)
