"""SparseAutoEncoder (CSR): parity with sentence-transformers' SparseEncoder on a tiny random sentence model, the
folder format both ways, a SentenceTransformer folder converted to a SparseEncoder, and bad configs."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from conftest import tiny_sentence_model_folder
from sentvec.modules import Pooling, Transformer, module_class, type_name
from sentvec.sparse_encoder import SparseAutoEncoder, SparseEncoder
from test_sparse_encoder import TEXTS  # the same texts as the SPLADE tests

HIDDEN, K = 64, 6


def _perturb(autoencoder: torch.nn.Module, seed: int) -> None:
    """Random biases (they start at zero) and statistics, so that every saved tensor changes the result."""
    torch.manual_seed(seed)
    with torch.no_grad():
        autoencoder.pre_bias.copy_(torch.randn_like(autoencoder.pre_bias) * 0.1)
        autoencoder.latent_bias.copy_(torch.randn_like(autoencoder.latent_bias) * 0.1 + 0.05)
        autoencoder.stats_last_nonzero.copy_(torch.randint(0, 50, autoencoder.stats_last_nonzero.shape))


def _reference_csr_folder(st_folder: Path, folder: Path, *, normalize: bool) -> Path:
    """A CSR model built and saved by sentence-transformers: the tiny model's steps, then its SparseAutoEncoder."""
    from sentence_transformers import SentenceTransformer as RefSentenceTransformer
    from sentence_transformers import SparseEncoder as Reference
    from sentence_transformers.sparse_encoder.modules import SparseAutoEncoder as RefAutoEncoder

    steps = list(RefSentenceTransformer(str(st_folder), device="cpu"))
    torch.manual_seed(1)
    autoencoder = RefAutoEncoder(input_dim=32, hidden_dim=HIDDEN, k=K, k_aux=20, normalize=normalize)
    _perturb(autoencoder, seed=2)
    Reference(modules=[*steps, autoencoder], device="cpu").save(str(folder))
    return folder


@pytest.fixture(scope="module")
def st_folder(tmp_path_factory) -> Path:
    return tiny_sentence_model_folder(tmp_path_factory.mktemp("csr") / "st")


def _dense(embeddings: torch.Tensor) -> torch.Tensor:
    return embeddings.to_dense() if embeddings.is_sparse else embeddings


@pytest.mark.parametrize("normalize", [False, True])
def test_encode_matches_sentence_transformers(st_folder: Path, tmp_path: Path, normalize: bool) -> None:
    from sentence_transformers import SparseEncoder as Reference

    folder = _reference_csr_folder(st_folder, tmp_path / "csr", normalize=normalize)
    reference = Reference(str(folder), device="cpu")
    ours = SparseEncoder(str(folder), device="cpu")
    assert [type(m).__name__ for m in ours] == ["Transformer", "Pooling", "SparseAutoEncoder"]
    assert ours.get_embedding_dimension() == reference.get_embedding_dimension() == HIDDEN
    assert ours.max_active_dims == reference.max_active_dims == K

    for active in (None, 3, 10):  # 10: more than k, which the step itself must keep
        a, b = ours.encode(TEXTS, max_active_dims=active), reference.encode(TEXTS, max_active_dims=active)
        assert a.is_sparse and a.shape == b.shape == (len(TEXTS), HIDDEN)
        torch.testing.assert_close(a.to_dense(), _dense(b), atol=1e-5, rtol=1e-5)
        counts = (a.to_dense() > 0).sum(dim=1)
        assert counts.max() == (active or K) and counts.min() > 0  # the top-k, less what relu zeroed
    torch.testing.assert_close(
        ours.encode_query(TEXTS[0]).to_dense(), _dense(reference.encode_query(TEXTS[0])), atol=1e-5, rtol=1e-5
    )

    # the step alone, on the same input: the layer normalisation, biases and top-k exactly as the reference's
    x = torch.randn(4, 32)
    with torch.inference_mode():
        expected = reference[2]({"sentence_embedding": x.clone()}, max_active_dims=5)["sentence_embedding"]
        got = ours[2]({"sentence_embedding": x.clone()}, max_active_dims=5)["sentence_embedding"]
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-6)
    assert torch.equal(ours[2].stats_last_nonzero, reference[2].stats_last_nonzero)


def test_saved_folder_loads_in_sentence_transformers(st_folder: Path, tmp_path: Path) -> None:
    from sentence_transformers import SparseEncoder as Reference

    torch.manual_seed(3)
    autoencoder = SparseAutoEncoder(32, hidden_dim=HIDDEN, k=K, k_aux=20, normalize=True, dead_threshold=12)
    _perturb(autoencoder, seed=4)
    transformer = Transformer.load(st_folder)
    ours = SparseEncoder(
        modules=[transformer, Pooling(transformer.get_word_embedding_dimension(), "mean"), autoencoder], device="cpu"
    )
    expected = ours.encode(TEXTS).to_dense()
    ours.save(tmp_path / "ours")

    entries = json.loads((tmp_path / "ours" / "modules.json").read_text())
    assert [(m["path"], m["type"]) for m in entries][2] == (
        "2_SparseAutoEncoder",
        "sentence_transformers.sparse_encoder.models.SparseAutoEncoder",
    )
    step = tmp_path / "ours" / "2_SparseAutoEncoder"
    config = {"input_dim": 32, "hidden_dim": HIDDEN, "k": K, "k_aux": 20, "normalize": True, "dead_threshold": 12}
    assert json.loads((step / "config.json").read_text()) == config
    # the tensor names sentence-transformers writes for its own SparseAutoEncoder
    from sentence_transformers.sparse_encoder.modules import SparseAutoEncoder as RefAutoEncoder

    (tmp_path / "theirs").mkdir()
    RefAutoEncoder(**config).save(str(tmp_path / "theirs"))
    assert set(load_file(str(step / "model.safetensors"))) == set(
        load_file(str(tmp_path / "theirs" / "model.safetensors"))
    )

    reference = Reference(str(tmp_path / "ours"), device="cpu")
    assert reference[2].get_config_dict() == config
    assert torch.equal(reference[2].stats_last_nonzero, autoencoder.stats_last_nonzero)
    assert reference.max_active_dims == K
    torch.testing.assert_close(_dense(reference.encode(TEXTS)), expected, atol=1e-5, rtol=1e-5)
    again = SparseEncoder(str(tmp_path / "ours"), device="cpu")
    torch.testing.assert_close(again.encode(TEXTS).to_dense(), expected, atol=0, rtol=0)

    # a file that names the weight as the module does (encoder.weight) reads the same
    state = load_file(str(step / "model.safetensors"))
    state["encoder.weight"] = state.pop("decoder.linear.weight")
    save_file(state, str(step / "model.safetensors"))
    torch.testing.assert_close(
        SparseEncoder(str(tmp_path / "ours"), device="cpu").encode(TEXTS).to_dense(), expected, atol=0, rtol=0
    )


def test_sentence_transformer_folder_becomes_a_csr_model(
    st_folder: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from sentence_transformers import SparseEncoder as Reference

    folder = tmp_path / "st"
    tiny_sentence_model_folder(folder, normalize=True)
    settings = {"prompts": {"query": "query: ", "document": ""}, "similarity_fn_name": "cosine"}
    (folder / "config_sentence_transformers.json").write_text(json.dumps(settings))
    with caplog.at_level(logging.WARNING, logger="sentvec.model"):
        ours = SparseEncoder(str(folder), device="cpu")
    assert f"Converting SentenceTransformer model {folder} to SparseEncoder." in [
        r.getMessage() for r in caplog.records if r.name == "sentvec.model"
    ]
    reference = Reference(str(folder), device="cpu")
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in reference]
    assert [type(m).__name__ for m in ours] == ["Transformer", "Pooling", "Normalize", "SparseAutoEncoder"]
    assert ours[-1].get_config_dict() == reference[-1].get_config_dict()
    assert ours[-1].get_config_dict() == {
        "input_dim": 32,
        "hidden_dim": 128,
        "k": 8,
        "k_aux": 16,
        "normalize": False,
        "dead_threshold": 30,
    }
    assert ours.max_active_dims == reference.max_active_dims == 8
    assert ours.get_embedding_dimension() == reference.get_embedding_dimension() == 128
    assert ours.prompts["query"] == reference.prompts["query"] == "query: "
    assert ours.similarity_fn_name == reference.similarity_fn_name == "cosine"
    embeddings = ours.encode(TEXTS)
    assert embeddings.shape == (len(TEXTS), 128) and 0 < ours.sparsity(embeddings)["active_dims"] <= 8

    # a folder already holding a sparse step is not converted, even when it records no model type
    ours.save(tmp_path / "csr")
    (tmp_path / "csr" / "config_sentence_transformers.json").write_text(json.dumps(settings))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sentvec.model"):
        again = SparseEncoder(str(tmp_path / "csr"), device="cpu")
    assert "Converting" not in caplog.text
    assert [type(m).__name__ for m in again] == ["Transformer", "Pooling", "Normalize", "SparseAutoEncoder"]


def test_registered_under_every_sentence_transformers_name() -> None:
    for name in (
        "sentence_transformers.sparse_encoder.models.SparseAutoEncoder",
        "sentence_transformers.sparse_encoder.modules.SparseAutoEncoder",
        "sentence_transformers.sparse_encoder.modules.sparse_auto_encoder.SparseAutoEncoder",
    ):
        assert module_class(name) is SparseAutoEncoder, name
    assert type_name(SparseAutoEncoder(8)) == "sentence_transformers.sparse_encoder.models.SparseAutoEncoder"
    assert SparseAutoEncoder(8).get_config_dict() == {
        "input_dim": 8,
        "hidden_dim": 512,
        "k": 8,
        "k_aux": 512,
        "normalize": False,
        "dead_threshold": 30,
    }


def test_bad_configs(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="k=32 and hidden_dim=16.*lower k or raise hidden_dim"):
        SparseAutoEncoder(8, hidden_dim=16, k=32)
    with pytest.raises(ValueError, match="input_dim=0"):
        SparseAutoEncoder(0)

    good = SparseAutoEncoder(8, hidden_dim=16, k=4)
    good.save(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**good.get_config_dict(), "k": 20}))
    with pytest.raises(ValueError, match=r"config\.json has k=20 and hidden_dim=16"):
        SparseAutoEncoder.load(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**good.get_config_dict(), "input_dim": 9}))
    with pytest.raises(ValueError, match=r"'pre_bias' of shape \(9,\), the weights hold \(8,\)"):
        SparseAutoEncoder.load(tmp_path)
