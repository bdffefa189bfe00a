"""Model folders: both layouts load, save() round-trips with sentence-transformers both ways, and bad or
hostile folders get errors that name the problem."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import tiny_sentence_model_folder
from sentvec import SentenceTransformer

TEXTS = ["the weather is lovely today", "a man is eating food", "the cat sat on the mat", "sunny"]


def test_tiny_legacy_folder_matches_reference(tiny_folder: Path) -> None:
    from sentence_transformers import SentenceTransformer as Reference

    ours = SentenceTransformer(str(tiny_folder), device="cpu").encode(TEXTS)
    theirs = Reference(str(tiny_folder), device="cpu").encode(TEXTS)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


@pytest.mark.parametrize("family", ["roberta", "mpnet", "distilbert"])
@pytest.mark.parametrize("pooling", ["cls_token", "max_tokens"])
def test_other_families_and_poolings_match_reference(family: str, pooling: str, tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer as Reference

    folder = tiny_sentence_model_folder(tmp_path / family, family=family, pooling=pooling, normalize=True)
    ours = SentenceTransformer(str(folder), device="cpu").encode(TEXTS)
    theirs = Reference(str(folder), device="cpu").encode(TEXTS)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_our_save_loads_in_sentence_transformers(minilm, tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer as Reference

    minilm.save(tmp_path / "saved")
    assert not [p for p in tmp_path.iterdir() if p.name != "saved"], "no staging folder may remain"
    reloaded = Reference(str(tmp_path / "saved"), device="cpu")
    np.testing.assert_allclose(reloaded.encode(TEXTS), minilm.encode(TEXTS), atol=1e-5)
    assert reloaded.max_seq_length == minilm.max_seq_length
    # The legacy fields other servers read are kept.
    assert json.loads((tmp_path / "saved" / "sentence_bert_config.json").read_text())["max_seq_length"] == 256
    pooling = json.loads((tmp_path / "saved" / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode_mean_tokens"] is True and pooling["pooling_mode"] == "mean"


def test_sentence_transformers_save_loads_in_ours(reference_minilm, minilm, tmp_path: Path) -> None:
    reference_minilm.save(str(tmp_path / "theirs"))
    ours = SentenceTransformer(str(tmp_path / "theirs"), device="cpu")
    np.testing.assert_allclose(ours.encode(TEXTS), minilm.encode(TEXTS), atol=1e-6)
    assert ours.max_seq_length == 256


def test_save_then_load_keeps_settings(tiny_folder: Path, tmp_path: Path) -> None:
    model = SentenceTransformer(str(tiny_folder), prompts={"query": "the "}, similarity_fn_name="dot", device="cpu")
    model.save(tmp_path / "again")
    again = SentenceTransformer(str(tmp_path / "again"), device="cpu")
    assert (
        again.prompts == {"query": "the ", "document": ""}
        and again.similarity_fn_name == "dot"
        and again.max_seq_length == 16
    )
    np.testing.assert_allclose(again.encode(TEXTS), model.encode(TEXTS), atol=1e-6)
    model.save(tmp_path / "again")  # saving over an existing model replaces it
    np.testing.assert_allclose(
        SentenceTransformer(str(tmp_path / "again")).encode(TEXTS), model.encode(TEXTS), atol=1e-6
    )


def test_save_keeps_the_licence_and_notice_files(tmp_path: Path) -> None:
    # The converted multilingual-e5-small folder holds a NOTICE (the weights' MIT licence); a saved copy
    # of a model, e.g. after fine-tuning, must keep it, and so must a copy of that copy.
    folder = tiny_sentence_model_folder(tmp_path / "licensed")
    (folder / "NOTICE").write_text("tiny weights: MIT licence, copyright the authors\n", encoding="utf-8")
    (folder / "LICENSE").write_bytes(b"Permission is hereby granted\n")
    SentenceTransformer(str(folder), device="cpu").save(tmp_path / "copy")
    SentenceTransformer(str(tmp_path / "copy"), device="cpu").save(tmp_path / "copy2")
    for saved in (tmp_path / "copy", tmp_path / "copy2"):
        assert (saved / "NOTICE").read_text(encoding="utf-8") == "tiny weights: MIT licence, copyright the authors\n"
        assert (saved / "LICENSE").read_bytes() == b"Permission is hereby granted\n"
    bare = tiny_sentence_model_folder(tmp_path / "bare")  # none in, none out
    SentenceTransformer(str(bare), device="cpu").save(tmp_path / "bare_copy")
    assert not any((tmp_path / "bare_copy" / name).exists() for name in ("NOTICE", "LICENSE"))


def test_cross_and_sparse_encoder_saves_keep_the_licence_files(tmp_path: Path) -> None:
    from sentvec.cross_encoder import CrossEncoder
    from sentvec.sparse_encoder import SparseEncoder
    from test_cross_encoder import tiny_cross_encoder
    from test_sparse_encoder import tiny_masked_lm

    for name, make, cls in (
        ("cross", tiny_cross_encoder, CrossEncoder),
        ("sparse", tiny_masked_lm, SparseEncoder),
    ):
        folder = make(tmp_path / name)
        (folder / "NOTICE").write_text(f"{name} weights: Apache-2.0\n", encoding="utf-8")
        cls(str(folder), device="cpu").save(tmp_path / f"{name}_copy")
        cls(str(tmp_path / f"{name}_copy"), device="cpu").save(tmp_path / f"{name}_copy2")
        for saved in (tmp_path / f"{name}_copy", tmp_path / f"{name}_copy2"):
            assert (saved / "NOTICE").read_text(encoding="utf-8") == f"{name} weights: Apache-2.0\n", saved.name
        (folder / "NOTICE").unlink()  # none in, none out
        cls(str(folder), device="cpu").save(tmp_path / f"{name}_bare")
        assert not (tmp_path / f"{name}_bare" / "NOTICE").exists()


def test_bare_encoder_folder_gets_mean_pooling(tmp_path: Path) -> None:
    folder = tiny_sentence_model_folder(tmp_path / "bare")
    (folder / "modules.json").unlink()
    model = SentenceTransformer(str(folder), device="cpu")
    assert [type(m).__name__ for m in model] == ["Transformer", "Pooling"]
    assert model.encode(TEXTS).shape == (4, 32)


def test_module_path_outside_folder_is_refused(tiny_folder: Path) -> None:
    modules = json.loads((tiny_folder / "modules.json").read_text())
    modules[1]["path"] = "../../etc"
    (tiny_folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ValueError, match="outside the model folder"):
        SentenceTransformer(str(tiny_folder))


def test_unknown_module_type_is_refused(tiny_folder: Path) -> None:
    modules = json.loads((tiny_folder / "modules.json").read_text())
    modules[1]["type"] = "os.system"
    (tiny_folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ValueError, match="'os.system'.*does not implement"):
        SentenceTransformer(str(tiny_folder))


def test_unknown_dense_activation_is_refused(tiny_folder: Path) -> None:
    from sentvec.models import Dense

    dense = tiny_folder / "2_Dense"
    dense.mkdir()
    Dense(32, 8).save(dense)
    config = json.loads((dense / "config.json").read_text())
    config["activation_function"] = "builtins.eval"
    (dense / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="builtins.eval"):
        Dense.load(dense)


def test_dense_module_round_trip(tiny_folder: Path, tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer as Reference

    from sentvec.models import Dense, Normalize

    base = SentenceTransformer(str(tiny_folder), device="cpu")
    model = SentenceTransformer(modules=[*base, Dense(32, 8), Normalize()], device="cpu")
    assert model.get_embedding_dimension() == 8
    model.save(tmp_path / "dense")
    np.testing.assert_allclose(
        Reference(str(tmp_path / "dense"), device="cpu").encode(TEXTS), model.encode(TEXTS), atol=1e-5
    )


@pytest.mark.parametrize(
    "damage, error, message",
    [
        (lambda f: (f / "model.safetensors").unlink(), FileNotFoundError, "no model.safetensors"),
        (lambda f: (f / "model.safetensors").write_bytes(b"\x00" * 100), ValueError, "corrupt"),
        (lambda f: (f / "config.json").unlink(), FileNotFoundError, "config.json is missing"),
        (lambda f: (f / "config.json").write_text("{not json"), ValueError, "not valid JSON"),
        (lambda f: (f / "tokenizer.json").unlink(), FileNotFoundError, "no tokenizer.json"),
        (lambda f: shutil.rmtree(f / "1_Pooling"), FileNotFoundError, "1_Pooling"),
    ],
)
def test_broken_folders_name_the_problem(tiny_folder: Path, damage, error, message) -> None:
    damage(tiny_folder)
    with pytest.raises(error, match=message):
        SentenceTransformer(str(tiny_folder))


def test_weights_that_do_not_fit_are_named(tiny_folder: Path) -> None:
    from safetensors.torch import load_file, save_file

    state = load_file(str(tiny_folder / "model.safetensors"))
    extra = dict(state, **{"encoder.layer.0.attention.self.extra.weight": torch.zeros(2)})
    save_file(extra, str(tiny_folder / "model.safetensors"))
    with pytest.raises(ValueError, match="extra.weight"):
        SentenceTransformer(str(tiny_folder))
    missing = {k: v for k, v in state.items() if k != "encoder.layer.1.output.dense.bias"}
    save_file(missing, str(tiny_folder / "model.safetensors"))
    with pytest.raises(ValueError, match=r"layers\.1\.feed_forward\.down\.bias"):
        SentenceTransformer(str(tiny_folder))
    wrong = dict(state, **{"embeddings.word_embeddings.weight": torch.zeros(5, 32)})
    save_file(wrong, str(tiny_folder / "model.safetensors"))
    with pytest.raises(ValueError, match=r"embeddings\.word\.weight.*shape \(5, 32\)"):
        SentenceTransformer(str(tiny_folder))


def test_pickle_weights_need_explicit_opt_in(tiny_folder: Path) -> None:
    from safetensors.torch import load_file

    expected = SentenceTransformer(str(tiny_folder), device="cpu").encode(TEXTS)
    torch.save(load_file(str(tiny_folder / "model.safetensors")), tiny_folder / "pytorch_model.bin")
    (tiny_folder / "model.safetensors").unlink()
    with pytest.raises(ValueError, match="allow_pickle=True"):
        SentenceTransformer(str(tiny_folder))
    model = SentenceTransformer(str(tiny_folder), allow_pickle=True, device="cpu")
    np.testing.assert_allclose(model.encode(TEXTS), expected, atol=1e-6)


def test_unknown_model_name_is_a_clear_error(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SENTVEC_OFFLINE", "1")
    with pytest.raises(OSError, match="no-such-model"):
        SentenceTransformer("no-such-model", cache_folder=str(tmp_path))


def test_max_seq_length_is_bounded(tiny_folder: Path) -> None:
    model = SentenceTransformer(str(tiny_folder))
    with pytest.raises(ValueError, match="exceeds the 64 positions"):
        model.max_seq_length = 1000
    model.max_seq_length = 8
    assert model.tokenize(["the " * 20])["input_ids"].shape[1] == 8


def test_saved_folders_get_the_umask_permissions_not_owner_only(tmp_path):
    """Saves are built in a mkdtemp folder (0700) and moved: the result must read like a plain mkdir's."""
    import os
    import stat

    from tokenizers import Tokenizer

    from sentvec.static import StaticModel

    umask = os.umask(0o022)
    try:
        folder = tiny_sentence_model_folder(tmp_path / "tiny")
        SentenceTransformer(str(folder), device="cpu").save(tmp_path / "saved")
        tokenizer = Tokenizer.from_file(str(next(folder.rglob("tokenizer.json"))))
        StaticModel(np.ones((tokenizer.get_vocab_size(), 4), dtype=np.float32), tokenizer).save(tmp_path / "static")
    finally:
        os.umask(umask)
    for saved in (tmp_path / "saved", tmp_path / "static"):
        assert stat.S_IMODE(saved.stat().st_mode) == 0o755, saved
        for item in saved.rglob("*"):
            assert stat.S_IMODE(item.stat().st_mode) == (0o755 if item.is_dir() else 0o644), item
