"""ONNX export of the whole pipeline and the onnxruntime backend: the same numbers as the torch pipeline,
for any batch size and length, written atomically; the int8 backend cached once per model."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")

from conftest import tiny_sentence_model_folder  # noqa: E402
from sentvec import SentenceTransformer  # noqa: E402
from sentvec import onnx as sv_onnx  # noqa: E402
from sentvec.modules import Dense, Normalize, Pooling, Transformer  # noqa: E402
from sentvec.onnx import OnnxPipeline, export_onnx, quantize_onnx  # noqa: E402

TINY_TEXTS = [
    "the cat sat on the mat",
    "a",
    "two men pushed carts through the woods and a white monkey was playing drums behind its prey",
    "happy dog!",
    "",
]
REAL_TEXTS = [
    "The weather is lovely today.",
    "Hi",
    "Return the first n texts of a JSON list of strings, or of a text file with one text per line, "
    "skipping blank lines; raise SystemExit when the file holds no texts at all.",
    "It's so sunny outside!",
]
ATOL = 1e-4


def both(model: SentenceTransformer, pipeline: OnnxPipeline, texts: list[str], **extra) -> tuple[dict, dict]:
    """The torch pipeline's and the ONNX pipeline's features for one padded batch of ``texts``."""
    features = {**model.tokenize(texts), **extra}
    with torch.inference_mode():
        expected = model(dict(features))
    return expected, pipeline(dict(features))


def assert_same(expected: dict, actual: dict) -> None:
    for key in ("sentence_embedding", "token_embeddings"):
        assert actual[key].shape == expected[key].shape, key
        assert (actual[key] - expected[key]).abs().max().item() <= ATOL, key


@pytest.mark.parametrize(
    ("family", "pooling", "normalize"),
    [
        ("bert", "mean_tokens", False),
        ("mpnet", "max_tokens", True),
        ("distilbert", "cls_token", True),
        ("roberta", "mean_sqrt_len_tokens", False),
    ],
)
def test_tiny_models_match_torch(tmp_path: Path, family: str, pooling: str, normalize: bool) -> None:
    folder = tiny_sentence_model_folder(tmp_path / family, family=family, pooling=pooling, normalize=normalize)
    model = SentenceTransformer(str(folder), device="cpu")
    pipeline = OnnxPipeline(export_onnx(model, tmp_path / "model.onnx"))
    has_types = family in ("bert", "roberta")
    assert pipeline.input_names == ["input_ids", "attention_mask"] + (["token_type_ids"] if has_types else [])
    # Batch sizes and lengths other than the trace example's (2 x 8): dynamic axes.
    for texts in (TINY_TEXTS, TINY_TEXTS[:1], TINY_TEXTS[1:2], TINY_TEXTS[2:4]):
        assert_same(*both(model, pipeline, texts))


def test_dense_and_normalize_are_in_the_graph(tmp_path: Path) -> None:
    folder = tiny_sentence_model_folder(tmp_path / "tiny")
    torch.manual_seed(0)
    model = SentenceTransformer(
        modules=[Transformer.load(folder), Pooling(32, "mean"), Dense(32, 8), Normalize()], device="cpu"
    )
    pipeline = OnnxPipeline(export_onnx(model, tmp_path / "model.onnx"))
    expected, actual = both(model, pipeline, TINY_TEXTS)
    assert actual["sentence_embedding"].shape == (len(TINY_TEXTS), 8)
    assert torch.linalg.norm(actual["sentence_embedding"], dim=1) == pytest.approx(1.0, abs=1e-5)
    assert_same(expected, actual)


def test_weighted_layer_pooling_is_in_the_graph(tmp_path: Path) -> None:
    """The graph gives every layer's output to a WeightedLayerPooling, as the torch Transformer does."""
    from sentvec.modules import WeightedLayerPooling

    folder = tiny_sentence_model_folder(tmp_path / "tiny")
    weights = torch.nn.Parameter(torch.tensor([0.2, 0.5, 2.0]))  # the embeddings' output and both layers
    weighted = WeightedLayerPooling(32, num_hidden_layers=2, layer_start=0, layer_weights=weights)
    model = SentenceTransformer(modules=[Transformer.load(folder), weighted, Pooling(32, "mean")], device="cpu")
    pipeline = OnnxPipeline(export_onnx(model, tmp_path / "model.onnx"))
    expected, actual = both(model, pipeline, TINY_TEXTS)
    assert_same(expected, actual)
    last_layer_only = SentenceTransformer(modules=[model[0], Pooling(32, "mean")], device="cpu")
    plain = last_layer_only.encode(TINY_TEXTS, convert_to_tensor=True)
    assert not torch.allclose(plain, actual["sentence_embedding"], atol=1e-3)  # the weighting is in the graph
    # The onnx / int8 backends run the encoder alone, last layer only: such a model is refused when it loads.
    model.save(tmp_path / "weighted")
    for backend in ("onnx", "int8"):
        with pytest.raises(ValueError, match="output_hidden_states.*backend='torch'"):
            SentenceTransformer(str(tmp_path / "weighted"), device="cpu", backend=backend)


@pytest.fixture(scope="module")
def minilm_onnx(tmp_path_factory: pytest.TempPathFactory, minilm: SentenceTransformer) -> Path:
    return export_onnx(minilm, tmp_path_factory.mktemp("minilm") / "minilm.onnx")


def test_minilm_matches_torch(minilm: SentenceTransformer, minilm_onnx: Path) -> None:
    pipeline = OnnxPipeline(minilm_onnx)
    assert pipeline.input_names == ["input_ids", "attention_mask", "token_type_ids"]
    expected, actual = both(minilm, pipeline, REAL_TEXTS)
    assert expected["attention_mask"].min() == 0  # the batch is padded
    assert_same(expected, actual)
    assert actual["truncated"] is not None  # entries the graph does not use are passed through


def test_prompt_left_out_of_pooling_is_a_graph_input(tmp_path: Path) -> None:
    model = SentenceTransformer(str(tiny_sentence_model_folder(tmp_path / "tiny")), device="cpu")
    model[1].include_prompt = False
    pipeline = OnnxPipeline(export_onnx(model, tmp_path / "model.onnx"))
    assert pipeline.input_names[-1] == "prompt_length"
    texts = ["the cat sat on the mat", "the a", "the two men pushed carts"]
    for prompt_length in (None, 0, 2, 3):
        assert_same(*both(model, pipeline, texts, prompt_length=prompt_length))


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("SENTVEC_SLOW") != "1", reason="the dynamo exporter takes ~10 s; SENTVEC_SLOW=1")
def test_dynamo_exporter_matches_torch(tmp_path: Path) -> None:
    pytest.importorskip("onnxscript")
    model = SentenceTransformer(str(tiny_sentence_model_folder(tmp_path / "tiny", family="mpnet")), device="cpu")
    pipeline = OnnxPipeline(export_onnx(model, tmp_path / "model.onnx", exporter="dynamo"))
    for texts in (TINY_TEXTS, TINY_TEXTS[:1]):
        assert_same(*both(model, pipeline, texts))


def test_missing_token_type_ids_are_zeros(tmp_path: Path) -> None:
    model = SentenceTransformer(str(tiny_sentence_model_folder(tmp_path / "tiny")), device="cpu")
    pipeline = OnnxPipeline(export_onnx(model, tmp_path / "model.onnx"))
    features = model.tokenize(TINY_TEXTS)
    with_types = pipeline(dict(features))["sentence_embedding"]
    del features["token_type_ids"]
    assert torch.equal(pipeline(features)["sentence_embedding"], with_types)
    with pytest.raises(ValueError, match="needs input_ids and attention_mask"):
        pipeline({"input_ids": features["input_ids"]})


def test_export_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = SentenceTransformer(str(tiny_sentence_model_folder(tmp_path / "tiny")), device="cpu")
    out = tmp_path / "out"
    out.mkdir()
    target = export_onnx(model, out / "model.onnx")
    assert sorted(os.listdir(out)) == ["model.onnx"]  # no temporary file left behind
    before = target.read_bytes()

    def crash(graph, example, path, opset):
        Path(path).write_bytes(b"half a graph")
        raise RuntimeError("disk full")

    monkeypatch.setattr(sv_onnx, "_export_torchscript", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        export_onnx(model, target)
    assert sorted(os.listdir(out)) == ["model.onnx"] and target.read_bytes() == before  # the old file is intact


def test_unwritable_targets_fail_early_and_clearly(tmp_path: Path) -> None:
    model = SentenceTransformer(str(tiny_sentence_model_folder(tmp_path / "tiny")), device="cpu")
    with pytest.raises(FileNotFoundError, match="does not exist; create it first"):
        export_onnx(model, tmp_path / "missing" / "model.onnx")
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        export_onnx(model, tmp_path / "file" / "model.onnx")
    with pytest.raises(IsADirectoryError, match="give a file name"):
        export_onnx(model, tmp_path)
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(PermissionError, match="not writable"):
            export_onnx(model, locked / "model.onnx")


def test_int8_backend_caches_one_graph_per_weights(tmp_path: Path) -> None:
    """The int8 encoder is calibrated and quantized once per model: a second load reuses the cached graph,
    and other weights (another model, or a fine-tuned one) get their own."""
    pytest.importorskip("onnx")
    cache = tmp_path / "cache"
    first = tiny_sentence_model_folder(tmp_path / "first")
    model = SentenceTransformer(str(first), device="cpu", backend="int8", cache_folder=str(cache))
    graphs = sorted((cache / "onnx").glob("*.int8.onnx"))
    assert len(graphs) == 1
    stamp = graphs[0].stat().st_mtime_ns
    again = SentenceTransformer(str(first), device="cpu", backend="int8", cache_folder=str(cache))
    assert graphs[0].stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(again.encode(REAL_TEXTS), model.encode(REAL_TEXTS))
    tuned = SentenceTransformer(str(first), device="cpu")
    with torch.no_grad():
        tuned[0].encoder.layers[0].feed_forward.up.weight[0, 0] += 1e-2
    tuned.save(str(tmp_path / "tuned"))
    SentenceTransformer(str(tmp_path / "tuned"), device="cpu", backend="int8", cache_folder=str(cache))
    assert len(list((cache / "onnx").glob("*.int8.onnx"))) == 2


def test_pipeline_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="export_onnx"):
        OnnxPipeline(tmp_path / "nothing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a graph")
    with pytest.raises(ValueError, match="delete it and export again"):
        OnnxPipeline(tmp_path / "junk.onnx")


@pytest.mark.long
def test_quantized_graph_stays_close(tmp_path: Path, minilm: SentenceTransformer, minilm_onnx: Path) -> None:
    pytest.importorskip("onnx")
    import onnx

    keep = ["/encoder/layers.0/feed_forward/down/", "/encoder/layers.1/feed_forward/down/"]
    layers = 4 * len(minilm[0].encoder.layers)
    int8 = quantize_onnx(minilm_onnx, tmp_path / "minilm-int8.onnx", keep)
    assert os.listdir(tmp_path) == ["minilm-int8.onnx"]  # no temporary file left behind
    ops = [node.op_type for node in onnx.load(str(int8)).graph.node]
    assert ops.count("MatMulInteger") == layers - len(keep)
    assert int8.stat().st_size < 0.8 * minilm_onnx.stat().st_size  # the word embeddings (46 MB of 90) stay float
    expected, actual = both(minilm, OnnxPipeline(int8), REAL_TEXTS)
    cosines = torch.nn.functional.cosine_similarity(expected["sentence_embedding"], actual["sentence_embedding"])
    assert cosines.min().item() >= 0.98
    assert np.isfinite(actual["token_embeddings"].numpy()).all()


@pytest.mark.long
def test_backends_are_one_argument_away(minilm: SentenceTransformer, tmp_path: Path) -> None:
    """backend="onnx" gives the torch embeddings; backend="int8" stays close on real prose (the CPU issue's
    bar: mean cosine >= 0.995 to fp32), and both keep encode()'s contract."""
    import json

    from conftest import shared_data

    texts = json.loads(shared_data("bench/docstrings.json").read_text())[:200]
    expected = minilm.encode(texts, convert_to_tensor=True)
    folder = str(minilm.model_name_or_path)
    for backend, mean_floor, min_floor in (("onnx", 0.99999, 0.9999), ("int8", 0.995, 0.97)):
        model = SentenceTransformer(folder, device="cpu", backend=backend, cache_folder=str(tmp_path))
        assert model.backend == backend
        actual = model.encode(texts, convert_to_tensor=True)
        cosines = torch.nn.functional.cosine_similarity(expected, actual)
        assert cosines.mean().item() >= mean_floor, backend
        assert cosines.min().item() >= min_floor, backend
        single = model.encode("Hi", normalize_embeddings=True)
        assert single.shape == (384,) and abs(float(np.linalg.norm(single)) - 1) < 1e-5


def test_backend_errors_name_the_choices(tmp_path: Path) -> None:
    folder = str(tiny_sentence_model_folder(tmp_path / "tiny"))
    with pytest.raises(ValueError, match="choose from"):
        SentenceTransformer(folder, device="cpu", backend="openvino")
    with pytest.raises(ValueError, match="file_name"):
        SentenceTransformer(folder, device="cpu", backend="onnx", model_kwargs={"file_name": "onnx/model.onnx"})


def test_cli_backend_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sentvec import cli
    from sentvec import model as sv_model

    assert cli.BACKENDS is sv_model.BACKENDS  # one spelling, in sentvec.types (torch-free, for the CLI's help)
    folder = str(tiny_sentence_model_folder(tmp_path / "tiny"))
    scores = []
    for backend in ("torch", "onnx"):
        assert (
            cli.main(
                [
                    "similarity",
                    "the cat sat",
                    "a happy dog",
                    "-m",
                    folder,
                    "--device",
                    "cpu",
                    "--cache-folder",
                    str(tmp_path / "cache"),
                    "--backend",
                    backend,
                ]
            )
            == 0
        )
        scores.append(float(capsys.readouterr().out))
    assert scores[0] == pytest.approx(scores[1], abs=1e-4)
