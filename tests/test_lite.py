"""The torch-free runtime (sentvec.lite) against our torch pipeline: same embeddings, and no torch needed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import tiny_sentence_model_folder

pytest.importorskip("onnxruntime")

from sentvec import SentenceTransformer  # noqa: E402
from sentvec.lite import SentenceTransformer as LiteSentenceTransformer  # noqa: E402

TEXTS = [
    "the weather is lovely today",
    "a man is eating food.",
    "cat",
    "",
    "two men pushed carts through the woods and the dog sat on the mat , happy , not sad",
]


@pytest.mark.parametrize("family", ["bert", "roberta", "xlm-roberta", "mpnet", "distilbert"])
@pytest.mark.parametrize("pooling", ["mean_tokens", "cls_token", "max_tokens"])
def test_lite_matches_torch_on_every_family(tmp_path: Path, family: str, pooling: str) -> None:
    folder = tiny_sentence_model_folder(
        tmp_path / family, family=family, pooling=pooling.rsplit("_", 1)[0], normalize=True
    )
    expected = SentenceTransformer(str(folder), device="cpu").encode(TEXTS, batch_size=2)
    got = LiteSentenceTransformer(str(folder)).encode(TEXTS, batch_size=2)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_lite_dense_prompts_and_truncation(tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    folder = tiny_sentence_model_folder(tmp_path / "dense", max_seq_length=6)
    dense = folder / "2_Dense"
    dense.mkdir()
    rng = np.random.default_rng(0)
    save_file(
        {
            "linear.weight": rng.normal(size=(8, 32)).astype(np.float32),
            "linear.bias": rng.normal(size=8).astype(np.float32),
        },
        str(dense / "model.safetensors"),
    )
    (dense / "config.json").write_text(
        json.dumps(
            {
                "in_features": 32,
                "out_features": 8,
                "bias": True,
                "activation_function": "torch.nn.modules.activation.Tanh",
            }
        )
    )
    modules = json.loads((folder / "modules.json").read_text())
    modules.append({"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
    (folder / "modules.json").write_text(json.dumps(modules))
    prompts = {"query": "the cat ", "document": "a dog "}

    torch_model = SentenceTransformer(str(folder), device="cpu", prompts=prompts)
    lite = LiteSentenceTransformer(str(folder), prompts=prompts)
    assert lite.get_sentence_embedding_dimension() == 8
    assert lite.max_seq_length == 6
    np.testing.assert_allclose(lite.encode_query(TEXTS), torch_model.encode_query(TEXTS), atol=1e-5)
    np.testing.assert_allclose(lite.encode_document(TEXTS[0]), torch_model.encode_document(TEXTS[0]), atol=1e-5)
    np.testing.assert_allclose(
        lite.encode(TEXTS, normalize_embeddings=True, truncate_dim=4),
        torch_model.encode(TEXTS, normalize_embeddings=True, truncate_dim=4),
        atol=1e-5,
    )


@pytest.mark.parametrize("name", ["cosine", "dot", "euclidean", "manhattan"])
def test_lite_similarity_matches_torch(tiny_folder: Path, name: str) -> None:
    torch_model = SentenceTransformer(str(tiny_folder), device="cpu", similarity_fn_name=name)
    lite = LiteSentenceTransformer(str(tiny_folder), similarity_fn_name=name)
    a = lite.encode(TEXTS)
    np.testing.assert_allclose(lite.similarity(a, a[:2]), torch_model.similarity(a, a[:2]).numpy(), atol=1e-4)


def test_lite_refuses_what_it_cannot_run(tiny_folder: Path) -> None:
    modules = json.loads((tiny_folder / "modules.json").read_text())
    modules.append({"idx": 2, "name": "2", "path": "", "type": "sentence_transformers.models.LayerNorm"})
    (tiny_folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ValueError, match="LayerNorm.*torch-free runtime"):
        LiteSentenceTransformer(str(tiny_folder))
    with pytest.raises(TypeError, match="input 1 is None"):
        LiteSentenceTransformer.encode(object.__new__(LiteSentenceTransformer), ["a", None])  # type: ignore[list-item]


def test_lite_real_minilm_agrees_with_torch(minilm_folder: Path, minilm) -> None:
    texts = [f"{t} number {i}" for i, t in enumerate(TEXTS * 8)]
    got = LiteSentenceTransformer(str(minilm_folder)).encode(texts)
    expected = minilm.encode(texts)
    cosine = (got * expected).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(expected, axis=1)
    assert cosine.min() >= 0.9999


def test_sentvec_without_torch_uses_the_lite_runtime(tiny_folder: Path) -> None:
    """In a process where torch cannot be imported, ``from sentvec import SentenceTransformer`` still encodes."""
    script = f"""
import sys
class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError("No module named 'torch'")
        return None
sys.meta_path.insert(0, NoTorch())
import importlib.util
importlib.util.find_spec = (lambda f: lambda name, *a: None if name == "torch" else f(name, *a))(importlib.util.find_spec)
from sentvec import SentenceTransformer
model = SentenceTransformer({str(tiny_folder)!r})
vectors = model.encode(["the cat sat on the mat", "a dog"])
assert type(model).__module__ == "sentvec.lite.model", type(model).__module__
assert vectors.shape == (2, 32), vectors.shape
from sentvec.cli import main
assert main(["encode", "-q", "-m", {str(tiny_folder)!r}, "-i", {str(tiny_folder / "texts.txt")!r}, "-o", {str(tiny_folder / "out.npy")!r}]) == 0
assert main(["similarity", "-q", "-m", {str(tiny_folder)!r}, "the cat", "a dog"]) == 0
assert "torch" not in sys.modules
print("ok")
"""
    (tiny_folder / "texts.txt").write_text("the cat sat\na dog\n")
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"), "PATH": ""},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split()
    assert lines[-1] == "ok" and -1.0 <= float(lines[-2]) <= 1.0
    assert np.load(tiny_folder / "out.npy").shape == (2, 32)


def test_graph_file_is_valid_onnx(tmp_path: Path) -> None:
    """Our hand-written protobuf parses with the onnx package and passes its checker."""
    onnx = pytest.importorskip("onnx")
    from safetensors.numpy import load_file

    from sentvec.config import EncoderConfig
    from sentvec.lite.graph import encoder_graph

    folder = tiny_sentence_model_folder(tmp_path / "m", family="mpnet")
    graph = encoder_graph(
        EncoderConfig.from_dict(json.loads((folder / "config.json").read_text())),
        load_file(str(folder / "model.safetensors")),
    )
    model = onnx.load_from_string(graph)
    onnx.checker.check_model(model)
    assert [i.name for i in model.graph.input] == ["input_ids", "position_ids", "score_bias"]
    assert [o.name for o in model.graph.output] == ["token_embeddings"]
    ln = next(n for n in model.graph.node if n.op_type == "LayerNormalization")
    assert {a.name: a for a in ln.attribute}["axis"].i == -1


def test_smoothing_keeps_the_function(tmp_path: Path) -> None:
    """(x / s) @ (s * W) is x @ W: a smoothed graph gives the same token embeddings."""
    import onnxruntime as ort
    from safetensors.numpy import load_file

    from sentvec.config import EncoderConfig
    from sentvec.lite.graph import encoder_graph, graph_feeds
    from sentvec.lite.quantize import input_ranges, smoothing_factors
    from sentvec.tokenizer import Tokenizer

    folder = tiny_sentence_model_folder(tmp_path / "m", family="roberta")
    config = EncoderConfig.from_dict(json.loads((folder / "config.json").read_text()))
    weights = load_file(str(folder / "model.safetensors"))
    tokenizer = Tokenizer.from_folder(folder, max_length=16)
    factors = smoothing_factors(config, weights, input_ranges(config, weights, tokenizer, tuple(TEXTS)), alpha=0.65)
    assert len(factors) == 5 * config.num_layers  # q, k, v, attention output, feed-forward input
    assert all(f.shape == (32,) and np.all(f > 0) for f in factors.values())
    assert any(not np.allclose(f, 1) for f in factors.values())
    batch = tokenizer.collate_numpy(tokenizer.encode(TEXTS))
    outputs = []
    for smooth in (None, factors):
        session = ort.InferenceSession(
            encoder_graph(config, weights, smooth=smooth), providers=["CPUExecutionProvider"]
        )
        feeds = graph_feeds(config, batch, None, {i.name for i in session.get_inputs()})
        outputs.append(session.run(["token_embeddings"], feeds)[0][batch["attention_mask"].astype(bool)])
    np.testing.assert_allclose(outputs[1], outputs[0], atol=1e-4)


def test_lite_int8_stays_close_and_is_cached(minilm_folder: Path, minilm, tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    texts = [f"{t} number {i}" for i, t in enumerate(TEXTS * 8)]
    int8 = LiteSentenceTransformer(str(minilm_folder), backend="int8", cache_folder=str(tmp_path))
    cached = list((tmp_path / "onnx").glob("*.int8.onnx"))
    assert len(cached) == 1
    got, expected = int8.encode(texts), minilm.encode(texts)
    cosine = (got * expected).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(expected, axis=1)
    assert cosine.mean() >= 0.995 and cosine.min() >= 0.97
    stamp = cached[0].stat().st_mtime_ns
    again = LiteSentenceTransformer(str(minilm_folder), backend="int8", cache_folder=str(tmp_path))
    assert cached[0].stat().st_mtime_ns == stamp  # read from the cache, not quantized again
    np.testing.assert_array_equal(again.encode(texts), got)  # same batches (int8 scales are per batch)


@pytest.mark.parametrize("family", ["bert", "roberta", "mpnet"])
def test_session_runs_rows_in_length_groups_without_changing_them(tmp_path: Path, family: str) -> None:
    """A batch of very different lengths runs in several groups, each cut to its longest row; every row's
    token embeddings equal those of the row run alone (no padding) and those of the whole batch run padded."""
    from safetensors.numpy import load_file

    from sentvec.config import EncoderConfig
    from sentvec.lite.session import EncoderSession, length_groups

    folder = tiny_sentence_model_folder(tmp_path / family, family=family)
    config = EncoderConfig.from_dict(json.loads((folder / "config.json").read_text()))
    session = EncoderSession(config, load_file(str(folder / "model.safetensors")))
    lengths = np.array([9, 60, 3, 58, 30, 12, 28])
    assert len(length_groups(lengths)) == 4  # [60, 58], [30, 28], [12, 9], [3]
    rng = np.random.default_rng(0)
    ids = np.full((len(lengths), 64), config.pad_token_id, np.int64)
    mask = np.zeros_like(ids)
    for row, n in enumerate(lengths):
        ids[row, :n] = rng.integers(5, config.vocab_size, n)
        mask[row, :n] = 1
    batch = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    grouped = session(batch)
    padded = session._run(batch)
    assert grouped.shape == padded.shape == (len(lengths), 64, config.hidden_size)
    for row, n in enumerate(lengths):
        alone = session._run({k: v[row : row + 1, :n] for k, v in batch.items()})[0]
        np.testing.assert_allclose(grouped[row, :n], alone, atol=1e-5)
        np.testing.assert_allclose(grouped[row, :n], padded[row, :n], atol=1e-5)
    for rows in length_groups(lengths):
        assert not grouped[rows, lengths[rows].max() :].any()  # nothing computed beyond each group's width
