"""Few-shot classification: SetFit-style fine-tuning against a frozen encoder, on MR or zh-sentiment.

Data sets (--dataset): ``mr`` (English movie review snippets, the default, with all-MiniLM-L6-v2) or
``zh-sentiment`` (Chinese product and book reviews, deduplicated, the texts found in both files dropped;
use it with --model use-multilingual-v3).

For each number of examples per class (8, 16) and each seed, draw that many positive and negative
snippets from the training pool, then:
  frozen:   embed them with the unchanged model and fit the logistic head (C=1);
  few-shot: fine-tune the encoder contrastively on pairs made from them (fit(..., finetune=True)),
            then fit the same head on the tuned embeddings.
Both are tested on the same held-apart 2,000 snippets (1,000 per class, fixed). The model is
restored to its original weights before each few-shot run. With --full it also prints the
full-data figure: frozen embeddings + logistic regression (C=1), stratified 10-fold cross-validation.

    python benchmarks/fewshot.py                          # 8 and 16 per class, seeds 0-4, and --full
    python benchmarks/fewshot.py --shots 8 --seeds 0 1 --results fewshot.json   # in pieces, resumable

Settings of the few-shot run (--learning-rate, --batch-size, --epochs, --num-iterations, --hard-negatives)
and of the head (--C, --normalize) are recorded with each run; a run counts as done, and in the table,
only under the same settings. Keep one results file per --test-size (the test size is not recorded).

    python benchmarks/fewshot.py --shots 8 --seeds 0 1 --test-size 500 --no-full --learning-rate 1e-4

With --results, each finished run is added to that JSON file (written atomically) and runs already
there are skipped, so a long benchmark can be run in pieces; the table covers every run in the file.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

try:
    import sentvec  # noqa: F401
except ImportError:  # running from a checkout without PYTHONPATH=src or an editable install
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from sentvec import SentenceTransformer  # noqa: E402
from sentvec.readers import data_folder  # noqa: E402

# shared/data/README.md, frozen encoder + LR (C=1), 10-fold: all-MiniLM-L6-v2 on MR, use-multilingual-v3 on zh-sentiment
REFERENCE_FULL = {"mr": 0.767, "zh-sentiment": 0.805}
REFERENCE_MODEL = {"mr": "all-MiniLM-L6-v2", "zh-sentiment": "use-multilingual-v3"}


def read_mr(folder: Path) -> tuple[list[str], list[str]]:
    pos = [line for line in (folder / "rt-polarity.pos").read_text(encoding="utf-8").splitlines() if line.strip()]
    neg = [line for line in (folder / "rt-polarity.neg").read_text(encoding="utf-8").splitlines() if line.strip()]
    return pos, neg


def read_zh_sentiment(folder: Path) -> tuple[list[str], list[str]]:
    """Unique positive and negative reviews, without the texts that carry both labels."""
    pos = {line.strip() for line in (folder / "pos.txt").read_text(encoding="utf-8").splitlines() if line.strip()}
    neg = {line.strip() for line in (folder / "neg.txt").read_text(encoding="utf-8").splitlines() if line.strip()}
    both = pos & neg
    return sorted(pos - both), sorted(neg - both)


READERS = {"mr": ("rt-polarity.pos", read_mr), "zh-sentiment": ("pos.txt", read_zh_sentiment)}


def split(pos: list[str], neg: list[str], test_size: int) -> tuple[dict[str, list[str]], list[str], list[str]]:
    """A fixed, balanced test set held apart, and the per-class pool the few examples are drawn from."""
    rng = random.Random(1234)
    pos, neg = pos[:], neg[:]
    rng.shuffle(pos)
    rng.shuffle(neg)
    half = test_size // 2
    test_texts = pos[:half] + neg[:half]
    test_labels = ["pos"] * half + ["neg"] * half
    return {"pos": pos[half:], "neg": neg[half:]}, test_texts, test_labels


def sample(pool: dict[str, list[str]], shots: int, seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts, labels = [], []
    for label in ("pos", "neg"):
        texts += rng.sample(pool[label], shots)
        labels += [label] * shots
    return texts, labels


def head_accuracy(classifier, vectors: np.ndarray, labels: list[str]) -> float:
    """Accuracy of a fitted classifier's head on embeddings already computed (the frozen encoder's
    test embeddings do not change between runs, so they are computed once)."""
    predicted = classifier.classes_[classifier.head.proba(vectors).argmax(axis=1)]
    return float(np.mean(predicted == np.array(labels)))


def finetune_hard(model, texts: list[str], labels: list[str], args: argparse.Namespace, seed: int) -> None:
    """Fine-tune as fit(finetune=True) does, but with hard negatives: each text's other-label partner
    is drawn from the half of the other-label texts most similar to it under the frozen encoder
    (positives are drawn as usual)."""
    from sentvec.classification.fewshot import _contrastive_finetune

    rng = random.Random(seed)
    vectors = model.encode(texts, normalize_embeddings=True)
    similarity = vectors @ vectors.T
    label_array = np.array(labels)
    pairs = []
    for _ in range(args.num_iterations):
        for i, text in enumerate(texts):
            same = [j for j in np.flatnonzero(label_array == label_array[i]) if j != i]
            other = np.flatnonzero(label_array != label_array[i])
            hardest = other[np.argsort(-similarity[i, other])][: max(1, len(other) // 2)]
            pairs.append((text, texts[rng.choice(same)], 1.0))
            pairs.append((text, texts[int(rng.choice(list(hardest)))], 0.0))
    _contrastive_finetune(
        model, pairs, num_epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate, seed=seed
    )
    model.eval()


def save_results(path: Path | None, results: list[dict]) -> None:
    if path is None:
        return
    handle = tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False)
    with handle:
        json.dump(results, handle, indent=1)
    os.replace(handle.name, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--dataset", choices=sorted(READERS), default="mr")
    parser.add_argument(
        "--data", default=None, help="the data set's folder (default: mr/ or zh-sentiment/ in the shared data folder)"
    )
    parser.add_argument("--shots", type=int, nargs="*", default=[8, 16], help="examples per class (none: only --full)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--test-size", type=int, default=2000)
    parser.add_argument("--num-iterations", type=int, default=20, help="pair-generation rounds (SetFit's default)")
    parser.add_argument("--learning-rate", type=float, default=2e-5, help="of the encoder (body) fine-tuning")
    parser.add_argument("--batch-size", type=int, default=16, help="pairs per fine-tuning step")
    parser.add_argument("--epochs", type=int, default=1, help="fine-tuning epochs over the pairs")
    parser.add_argument("--C", type=float, default=1.0, help="inverse regularisation of the logistic head")
    parser.add_argument("--normalize", action="store_true", help="unit-length embeddings before the head")
    parser.add_argument(
        "--hard-negatives",
        action="store_true",
        help="negative partners: the other-label texts most similar under the frozen encoder",
    )
    parser.add_argument(
        "--full",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also the full-data 10-fold figure of the frozen encoder",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads (1 is fastest on a busy machine)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--results", default=None, help="JSON file to keep finished runs in and resume from")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    folder = Path(args.data) if args.data else data_folder() / args.dataset
    first_file, reader = READERS[args.dataset]
    if not (folder / first_file).is_file():
        raise SystemExit(f"{folder / first_file} is missing; pass --data with the {args.dataset} folder")
    pos, neg = reader(folder)
    pool, test_texts, test_labels = split(pos, neg, args.test_size)
    results_path = Path(args.results) if args.results else None
    results: list[dict] = json.loads(results_path.read_text()) if results_path and results_path.is_file() else []
    # a run counts as done only with the same settings (runs from before settings were recorded: the defaults)
    head_setting = {"C": args.C, "normalize": args.normalize}
    tune_setting = {
        **head_setting,
        "num_iterations": args.num_iterations,
        "learning_rate": args.learning_rate,
        "batch_size": args.batch_size,
        "epochs": args.epochs,
        "hard_negatives": args.hard_negatives,
    }

    def setting_of(r: dict) -> dict:
        keys = head_setting if r["mode"] == "frozen" else tune_setting
        defaults = {
            "C": 1.0,
            "normalize": False,
            "num_iterations": args.num_iterations,
            "learning_rate": 2e-5,
            "batch_size": 16,
            "epochs": 1,
            "hard_negatives": False,
        }
        return {k: r.get(k, defaults[k]) for k in keys}

    def matches(r: dict) -> bool:
        return setting_of(r) == (head_setting if r["mode"] == "frozen" else tune_setting)

    done = {(r["mode"], r["shots"], r["seed"]) for r in results if r["mode"] != "full-10fold" and matches(r)}

    model = SentenceTransformer(args.model, device=args.device)
    original = {k: v.clone() for k, v in model.state_dict().items()}
    started = time.perf_counter()
    test_vectors = None
    for shots in args.shots:
        for seed in args.seeds:
            texts, labels = sample(pool, shots, seed)
            if ("frozen", shots, seed) not in done:
                if test_vectors is None:
                    test_vectors = model.encode(test_texts, batch_size=64)
                frozen = model.get_classifier(C=args.C, normalize_embeddings=args.normalize).fit(texts, labels)
                vectors = test_vectors
                if args.normalize:
                    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
                results.append(
                    {
                        "mode": "frozen",
                        "shots": shots,
                        "seed": seed,
                        **head_setting,
                        "accuracy": head_accuracy(frozen, vectors, test_labels),
                    }
                )
                save_results(results_path, results)
            if ("few-shot", shots, seed) not in done:
                model.load_state_dict(original)
                t0 = time.perf_counter()
                tuned = model.get_classifier(C=args.C, normalize_embeddings=args.normalize)
                if args.hard_negatives:
                    finetune_hard(model, texts, labels, args, seed)
                    tuned.fit(texts, labels)
                else:
                    tuned.fit(
                        texts,
                        labels,
                        finetune=True,
                        seed=seed,
                        num_iterations=args.num_iterations,
                        learning_rate=args.learning_rate,
                        finetune_batch_size=args.batch_size,
                        num_epochs=args.epochs,
                    )
                tune_s = time.perf_counter() - t0
                accuracy = tuned.score(test_texts, test_labels)
                model.load_state_dict(original)
                results.append(
                    {
                        "mode": "few-shot",
                        "shots": shots,
                        "seed": seed,
                        "accuracy": accuracy,
                        **tune_setting,
                        "finetune_s": round(tune_s, 1),
                    }
                )
                save_results(results_path, results)
            current = {
                r["mode"]: r["accuracy"]
                for r in results
                if r["shots"] == shots and r["seed"] == seed and r["mode"] != "full-10fold" and matches(r)
            }
            print(
                f"{shots:>2} per class, seed {seed}: frozen {current.get('frozen', float('nan')):.4f}  "
                f"few-shot {current.get('few-shot', float('nan')):.4f}  ({time.perf_counter() - started:.0f} s)",
                flush=True,
            )

    if args.full and not any(r["mode"] == "full-10fold" for r in results):
        from sklearn.model_selection import StratifiedKFold

        model.load_state_dict(original)
        texts = pos + neg
        labels = np.array(["pos"] * len(pos) + ["neg"] * len(neg))
        vectors = model.encode(texts, batch_size=64)
        scores = []
        for train, test in StratifiedKFold(n_splits=10, shuffle=True, random_state=0).split(vectors, labels):
            classifier = model.get_classifier(C=1.0)
            classifier.head.fit(vectors[train], np.searchsorted(["neg", "pos"], labels[train]))
            classifier.classes_ = np.array(["neg", "pos"])
            scores.append(head_accuracy(classifier, vectors[test], labels[test].tolist()))
        results.append(
            {"mode": "full-10fold", "shots": len(texts), "seed": 0, "accuracy": float(np.mean(scores)), "folds": scores}
        )
        save_results(results_path, results)

    print(
        f"\n{args.dataset}, {args.model}, test on {args.test_size} held-apart texts, few-shot setting {tune_setting}; "
        "accuracy %, mean ± std over seeds\n"
    )
    print("| examples per class | frozen encoder + LR | few-shot (SetFit-style) + LR | gain | seeds |")
    print("|---:|---:|---:|---:|---:|")
    for shots in sorted({r["shots"] for r in results if r["mode"] != "full-10fold"}):
        row = {}
        for mode in ("frozen", "few-shot"):
            row[mode] = [r["accuracy"] for r in results if r["mode"] == mode and r["shots"] == shots and matches(r)]
        both = min(len(row["frozen"]), len(row["few-shot"]))

        def fmt(values: list[float]) -> str:
            if not values:
                return "-"
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            return f"{100 * statistics.mean(values):.1f} ± {100 * spread:.1f}"

        gain = (100 * (statistics.mean(row["few-shot"]) - statistics.mean(row["frozen"]))) if both else float("nan")
        print(f"| {shots} | {fmt(row['frozen'])} | {fmt(row['few-shot'])} | {gain:+.1f} | {both} |")
    for r in results:
        if r["mode"] == "full-10fold":
            reference = ""
            if args.model == REFERENCE_MODEL[args.dataset]:
                reference = f" (shared/data README: {100 * REFERENCE_FULL[args.dataset]:.1f}%)"
            print(
                f"\nFull data ({r['shots']} texts), frozen encoder + LR (C=1), 10-fold: {100 * r['accuracy']:.1f}%{reference}"
            )


if __name__ == "__main__":
    main()
