"""int8 quality of the encoder graph (sentvec.lite.quantize): where int8 loses, and what is left.

For each model:

* **per-layer damage**: 1 - mean cosine (mean-pooled token embeddings, the calibration texts) of the
  float32 graph with ONE linear layer int8, every other float32, in the recipe's graph (smoothed, outlier
  channels split off) and, with ``--raw``, in the plain graph (nothing smoothed or split). ``--roles``
  picks the layer roles (q, k, v, o, up, down), since a run is one graph per layer (72 for
  all-mpnet-base-v2, a few seconds each).
* **held-apart quality**: the int8 encoder ``int8_graph`` builds against the float32 one on the STS
  Benchmark dev sentences (never the calibration texts): mean and min cosine, and STS-B dev Spearman of
  each.

    python benchmarks/int8_quality.py [--models all-MiniLM-L6-v2 all-mpnet-base-v2] [--roles down] [--raw]

Runs on one thread (OMP_NUM_THREADS=1 and onnxruntime's intra-op threads). The data folder is
``../shared/data`` next to the repository root; set ``SENTVEC_DATA`` to use another.
"""

from __future__ import annotations

import argparse
import csv
import os
import shlex
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SENTVEC_DATA") or REPO.parent / "shared" / "data")

import numpy as np  # noqa: E402

try:
    import sentvec  # noqa: E402, F401
except ImportError:  # running from a checkout without PYTHONPATH=src or an editable install
    sys.path.insert(0, str(REPO / "src"))

import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from sentvec.calibration import CALIBRATION_TEXTS  # noqa: E402
from sentvec.config import EncoderConfig  # noqa: E402
from sentvec.layout import encoder_settings  # noqa: E402
from sentvec.lite.graph import _LAYER_NAMES, encoder_graph, graph_feeds, relative_position_table  # noqa: E402
from sentvec.lite.quantize import (  # noqa: E402
    input_ranges,
    int8_graph,
    outlier_channels,
    quantized_graph,
    smoothing_factors,
)
from sentvec.paths import read_json  # noqa: E402
from sentvec.store import resolve_model_folder  # noqa: E402
from sentvec.tokenizer import Tokenizer  # noqa: E402

ROLES = ("q", "k", "v", "o", "up", "down")


class Encoder:
    """One model's config, weights and tokenizer, and the embeddings of a graph for a list of texts."""

    def __init__(self, name: str) -> None:
        from safetensors.numpy import load_file

        folder = resolve_model_folder(name)
        self.config = EncoderConfig.from_dict(read_json(folder / "config.json"))
        max_length, lowercase = encoder_settings(folder, self.config.max_positions)
        self.tokenizer = Tokenizer.from_folder(folder, max_length=max_length, lowercase=lowercase)
        self.weights = load_file(str(folder / "model.safetensors"))
        self.table = relative_position_table(self.weights)

    def embed(self, graph: bytes, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Unit-length mean-pooled token embeddings of ``texts`` (batched by length), in input order."""
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        inputs = {i.name for i in session.get_inputs()}
        order = np.argsort([len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), self.config.hidden_size), np.float32)
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            batch = self.tokenizer.collate_numpy(self.tokenizer.encode([texts[i] for i in rows]))
            tokens = session.run(["token_embeddings"], graph_feeds(self.config, batch, self.table, inputs))[0]
            mask = batch["attention_mask"][:, :, None]
            pooled = (tokens * mask).sum(1) / np.maximum(mask.sum(1), 1)
            out[rows] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out


def per_layer_damage(model: Encoder, roles: list[str], raw: bool) -> dict[str, list[float]]:
    """Role -> calibration damage with only that role's layer of each block int8, block by block."""
    ranges = input_ranges(model.config, model.weights, model.tokenizer)
    factors = {} if raw else smoothing_factors(model.config, model.weights, ranges)
    outliers = {p: np.zeros(0, np.int64) for p in ranges} if raw else outlier_channels(ranges, factors)
    fp32 = encoder_graph(model.config, model.weights, smooth=factors)
    texts = list(CALIBRATION_TEXTS)
    expected, parsed = model.embed(fp32, texts), onnx.load_from_string(fp32)
    names = _LAYER_NAMES[model.config.family if model.config.family in ("mpnet", "distilbert") else "bert"]
    damage: dict[str, list[float]] = {}
    for role in roles:
        for block in range(model.config.num_layers):
            prefix = names[role].format(i=block)
            got = model.embed(quantized_graph(parsed, {prefix: outliers[prefix]}), texts)
            damage.setdefault(role, []).append(1.0 - float(np.mean(np.sum(expected * got, axis=1))))
    return damage


def held_apart(model: Encoder) -> dict[str, float]:
    """int8 against float32 on the STS-B dev sentences: cosines, and each one's dev Spearman."""
    with (DATA / "stsbenchmark" / "sts-dev.csv").open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    texts = sorted({s for row in rows for s in row[5:7]})
    index = {t: i for i, t in enumerate(texts)}
    fp32 = model.embed(encoder_graph(model.config, model.weights), texts)
    int8 = model.embed(int8_graph(model.config, model.weights, model.tokenizer), texts)
    cosine = np.sum(fp32 * int8, axis=1)
    result = {"sentences": float(len(texts)), "mean cosine": float(cosine.mean()), "min cosine": float(cosine.min())}
    gold = [float(row[4]) for row in rows]
    for label, emb in (("fp32", fp32), ("int8", int8)):
        scores = [float(emb[index[row[5]]] @ emb[index[row[6]]]) for row in rows]
        result[f"STS-B dev Spearman {label}"] = float(spearmanr(scores, gold).statistic)
    return result


def main() -> None:
    """Print the per-layer damage table and the held-apart figures for each model."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["all-MiniLM-L6-v2", "all-mpnet-base-v2"])
    parser.add_argument("--roles", nargs="*", default=list(ROLES), choices=ROLES)
    parser.add_argument("--raw", action="store_true", help="per-layer damage without smoothing or splitting")
    args = parser.parse_args()
    for name in args.models:
        model = Encoder(name)
        print(f"\n## {name}\n")
        if args.roles:
            damage = per_layer_damage(model, args.roles, args.raw)
            blocks = model.config.num_layers
            print("| role | " + " | ".join(f"block {b}" for b in range(blocks)) + " |")
            print("|---" * (blocks + 1) + "|")
            for role, values in damage.items():
                print(f"| {role} | " + " | ".join(f"{v:.5f}" for v in values) + " |")
            print()
        for key, value in held_apart(model).items():
            print(f"- {key}: {value:.5f}")
    print(f"\n`{shlex.join([Path(sys.executable).name, *sys.argv])}`")


if __name__ == "__main__":
    main()
