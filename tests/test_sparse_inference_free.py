"""The inference-free SparseEncoder: a Router whose query route is a SparseStaticEmbedding (a weight per vocabulary
token) and whose document route is MLMTransformer + SpladePooling. Parity with sentence-transformers' on a tiny
random BertForMaskedLM, its folder format both ways, safe loading and the sparse index."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import TINY_VOCAB
from sentvec.modules import Router
from sentvec.sparse_encoder import MLMTransformer, SparseEncoder, SparseStaticEmbedding, SpladePooling
from test_sparse_encoder import TEXTS, tiny_masked_lm

QUERIES = ["the cat sat", "happy dog outside", "weather weather today", "unknownword cat"]


def _random_weights(seed: int = 1) -> torch.Tensor:
    return torch.rand(TINY_VOCAB, generator=torch.Generator().manual_seed(seed)) * 2


@pytest.fixture(scope="module")
def mlm_folder(tmp_path_factory) -> Path:
    return tiny_masked_lm(tmp_path_factory.mktemp("if") / "mlm")


@pytest.fixture(scope="module")
def reference_folder(mlm_folder: Path, tmp_path_factory) -> Path:
    """An inference-free model built and saved by sentence-transformers."""
    from sentence_transformers import SparseEncoder as Reference
    from sentence_transformers.base.modules import Router as RefRouter
    from sentence_transformers.sparse_encoder.modules import MLMTransformer as RefMLM
    from sentence_transformers.sparse_encoder.modules import SparseStaticEmbedding as RefStatic
    from sentence_transformers.sparse_encoder.modules import SpladePooling as RefPooling

    document = RefMLM(str(mlm_folder))
    query = RefStatic(tokenizer=document.tokenizer, weight=_random_weights(), frozen=True)
    router = RefRouter.for_query_document([query], [document, RefPooling("max", embedding_dimension=TINY_VOCAB)])
    folder = tmp_path_factory.mktemp("if") / "reference"
    Reference(modules=[router], similarity_fn_name="dot", device="cpu").save(str(folder))
    return folder


def _ours_in_memory(mlm_folder: Path) -> SparseEncoder:
    mlm = MLMTransformer.load(mlm_folder)
    query = SparseStaticEmbedding(mlm.tokenizer, weight=_random_weights(2))
    pooling = SpladePooling("max", embedding_dimension=mlm.get_word_embedding_dimension())
    return SparseEncoder(modules=[Router.for_query_document([query], [mlm, pooling])], device="cpu")


def _assert_same(ours: SparseEncoder, theirs, texts: list[str] = QUERIES) -> None:  # noqa: ANN001 - theirs
    for method in ("encode_query", "encode_document"):
        a = getattr(ours, method)(texts, batch_size=2)
        b = getattr(theirs, method)(texts, batch_size=2)
        assert a.is_sparse and a.shape == b.shape == (len(texts), TINY_VOCAB)
        torch.testing.assert_close(a.to_dense(), b.to_dense(), atol=1e-5, rtol=1e-5)
        assert ours.decode(a, top_k=4) == [
            [(t, pytest.approx(w, abs=1e-5)) for t, w in row] for row in theirs.decode(b, top_k=4)
        ]


def test_their_folder_loads_in_ours(reference_folder: Path) -> None:
    from sentence_transformers import SparseEncoder as Reference

    layout = json.loads((reference_folder / "router_config.json").read_text())
    assert layout["structure"]["query"] == ["query_0_SparseStaticEmbedding"]
    ours = SparseEncoder(str(reference_folder), device="cpu")
    assert isinstance(ours[0], Router) and isinstance(ours[0].sub_modules["query"][0], SparseStaticEmbedding)
    assert ours.get_embedding_dimension() == TINY_VOCAB and ours.similarity_fn_name == "dot"
    _assert_same(ours, Reference(str(reference_folder), device="cpu"), QUERIES + TEXTS)


def test_our_folder_loads_in_theirs_and_ours(mlm_folder: Path, tmp_path: Path) -> None:
    from sentence_transformers import SparseEncoder as Reference

    ours = _ours_in_memory(mlm_folder)
    ours.save(tmp_path / "ours")
    config = json.loads((tmp_path / "ours" / "router_config.json").read_text())
    assert config["structure"] == {
        "query": ["query_0_SparseStaticEmbedding"],
        "document": ["document_0_MLMTransformer", "document_1_SpladePooling"],
    }
    assert set(config["types"].values()) == {
        f"sentence_transformers.sparse_encoder.models.{name}"
        for name in ("SparseStaticEmbedding", "MLMTransformer", "SpladePooling")
    }
    static = tmp_path / "ours" / "query_0_SparseStaticEmbedding"
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in static.iterdir()}
    _assert_same(ours, Reference(str(tmp_path / "ours"), device="cpu"))
    again = SparseEncoder(str(tmp_path / "ours"), device="cpu")
    _assert_same(again, ours)


def test_query_side_is_a_weight_lookup(mlm_folder: Path) -> None:
    model = _ours_in_memory(mlm_folder)
    static = model[0].sub_modules["query"][0]
    tokenizer = static.tokenizer._tokenizer
    query = model.encode_query("the cat sat the").coalesce()
    ids = sorted({tokenizer.token_to_id(t) for t in ("the", "cat", "sat")})
    assert query.indices()[0].tolist() == ids  # no [CLS]/[SEP]; a repeated word counts once
    torch.testing.assert_close(query.values(), static.weight.detach()[ids])
    # the document route runs the masked LM: a different, denser vector for the same text
    document = model.encode_document("the cat sat the")
    assert model.sparsity(document)["active_dims"] > 3
    # the query side's tokenizer is its own: cutting queries short leaves documents whole
    static.max_seq_length = 2
    first_two = sorted(tokenizer.token_to_id(t) for t in ("the", "cat"))
    assert model.encode_query("the cat sat").coalesce().indices()[0].tolist() == first_two
    assert model[0].sub_modules["document"][0].max_seq_length == 64


def test_sentence_transformers_6_fill_mask_transformer_in_a_router(mlm_folder: Path, tmp_path: Path) -> None:
    """sentence-transformers 6 builds the document side as Transformer(transformer_task='fill-mask') too."""
    from sentence_transformers import SparseEncoder as Reference
    from sentence_transformers.base.modules import Router as RefRouter
    from sentence_transformers.base.modules import Transformer as RefTransformer
    from sentence_transformers.sparse_encoder.modules import SparseStaticEmbedding as RefStatic
    from sentence_transformers.sparse_encoder.modules import SpladePooling as RefPooling

    document = RefTransformer(str(mlm_folder), transformer_task="fill-mask")
    query = RefStatic(tokenizer=document.tokenizer, weight=_random_weights(3))
    router = RefRouter.for_query_document([query], [document, RefPooling("max", embedding_dimension=TINY_VOCAB)])
    reference = Reference(modules=[router], device="cpu")
    reference.save(str(tmp_path / "st6"))
    types = json.loads((tmp_path / "st6" / "router_config.json").read_text())["types"]
    assert "sentence_transformers.base.modules.transformer.Transformer" in types.values()
    ours = SparseEncoder(str(tmp_path / "st6"), device="cpu")
    assert isinstance(ours[0].sub_modules["document"][0], MLMTransformer)
    _assert_same(ours, reference)


def test_unsafe_or_unreadable_static_weights_are_refused(reference_folder: Path, tmp_path: Path) -> None:
    import shutil

    from safetensors.torch import save_file

    folder = tmp_path / "model"
    shutil.copytree(reference_folder, folder)
    static = folder / "query_0_SparseStaticEmbedding"
    (static / "model.safetensors").unlink()
    torch.save({"weight": torch.ones(TINY_VOCAB)}, static / "pytorch_model.bin")
    with pytest.raises(FileNotFoundError, match="no model.safetensors"):
        SparseEncoder(str(folder))
    save_file({"weight": torch.ones(TINY_VOCAB - 5)}, str(static / "model.safetensors"))
    with pytest.raises(ValueError, match="one weight per vocabulary token"):
        SparseEncoder(str(folder))
    save_file({"idf": torch.ones(TINY_VOCAB)}, str(static / "model.safetensors"))
    with pytest.raises(ValueError, match="holds \\['idf'\\]"):
        SparseEncoder(str(folder))
    (static / "config.json").write_text(json.dumps({"frozen": False, "path": "idf.json"}))
    with pytest.raises(ValueError, match="model.safetensors only"):
        SparseEncoder(str(folder))


def test_registry_names_the_sparse_steps_without_importing_them_first() -> None:
    """A folder that names a sparse step loads through sentvec.modules' registry in a fresh process."""
    code = (
        "from sentvec.modules import module_class;"
        "print(module_class('sentence_transformers.sparse_encoder.modules.sparse_static_embedding."
        "SparseStaticEmbedding').__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "SparseStaticEmbedding"
    with pytest.raises(ValueError, match="not one of sentvec's"):
        from sentvec.modules import module_class

        module_class("sentence_transformers.sparse_encoder.modules.Evil")


def test_an_index_searches_with_the_inference_free_model(mlm_folder: Path, tmp_path: Path) -> None:
    """Documents go through the SPLADE route when the index is built, queries through the weight table."""
    from conftest import tiny_sentence_model_folder
    from sentvec import SentenceTransformer
    from sentvec.index import Index
    from sentvec.sparse_encoder import InvertedIndex

    model = _ours_in_memory(mlm_folder)
    model.save(tmp_path / "inference-free")
    dense = SentenceTransformer(str(tiny_sentence_model_folder(tmp_path / "dense")), device="cpu")
    corpus = tmp_path / "docs.txt"
    corpus.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    sparse_name = str(tmp_path / "inference-free")
    Index.build(corpus, dense, tmp_path / "idx", sparse=sparse_name, show_progress_bar=False)
    hits = Index.open(tmp_path / "idx").search(QUERIES, k=3, mode="sparse")
    loaded = SparseEncoder(sparse_name, device="cpu")
    expected = InvertedIndex.from_sparse(loaded.encode_document(TEXTS)).search(loaded.encode_query(QUERIES), 3)
    assert sum(map(len, hits)) >= 6  # random weights: not every query meets a document term, most do
    assert [[h["corpus_id"] for h in q] for q in hits] == [[row for row, _ in q] for q in expected]
    assert [[h["score"] for h in q] for q in hits] == [[pytest.approx(s, rel=1e-5) for _, s in q] for q in expected]
