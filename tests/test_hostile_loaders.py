"""Model folders built to break the loaders (issue 19): each must load, or fail fast with an error that
names the file, never hang, allocate what the files do not hold, or end in a raw traceback."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from sentvec import SentenceTransformer
from sentvec.modules import dense as dense_module
from sentvec.modules import transformer as transformer_module

COMMIT = "0123456789abcdef0123456789abcdef01234567"
SENTENCES = ["the cat sat on the mat", "a man is playing a guitar"]


def _shard(folder: Path) -> None:
    """Split model.safetensors into two shards with a model.safetensors.index.json, as big models come."""
    state = load_file(str(folder / "model.safetensors"))
    names = sorted(state)
    halves = {
        "model-00001-of-00002.safetensors": names[: len(names) // 2],
        "model-00002-of-00002.safetensors": names[len(names) // 2 :],
    }
    weight_map = {}
    for shard, keys in halves.items():
        save_file({k: state[k] for k in keys}, str(folder / shard), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(keys, shard))
    (folder / "model.safetensors").unlink()
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))


def _hf_cache_copy(source: Path, hub_cache: Path, repo_id: str) -> Path:
    """Lay ``source`` out as huggingface_hub does: every file a blob named by its hash, the snapshot a tree
    of relative symlinks into ``blobs/``. Returns the snapshot folder."""
    repo = hub_cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / COMMIT
    (repo / "blobs").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    for file in sorted(p for p in source.rglob("*") if p.is_file()):
        data = file.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        link = snapshot / file.relative_to(source)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    return snapshot


def _finishes(call, seconds: float = 30.0):
    """Run ``call`` in a thread; fail (instead of hanging the run) when it does not return in time."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as err:  # noqa: BLE001 - handed to the test
            outcome["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s: it hangs"
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]


# --------------------------------------------------------------------------- 6. Hugging Face cache layout


def test_sharded_model_in_the_hf_cache_layout_loads(tiny_folder: Path, tmp_path: Path, monkeypatch) -> None:
    expected = SentenceTransformer(str(tiny_folder), device="cpu").encode(SENTENCES)
    _shard(tiny_folder)
    hub_cache = tmp_path / "hub"
    snapshot = _hf_cache_copy(tiny_folder, hub_cache, "someone/tiny")
    assert (snapshot / "model-00001-of-00002.safetensors").is_symlink()

    by_path = SentenceTransformer(str(snapshot), device="cpu")
    np.testing.assert_allclose(by_path.encode(SENTENCES), expected, atol=1e-6)

    monkeypatch.setenv("HF_HUB_CACHE", str(hub_cache))
    by_name = SentenceTransformer("someone/tiny", device="cpu", local_files_only=True)
    np.testing.assert_allclose(by_name.encode(SENTENCES), expected, atol=1e-6)


def test_hf_cache_shard_linking_outside_its_repo_is_refused(tiny_folder: Path, tmp_path: Path) -> None:
    _shard(tiny_folder)
    snapshot = _hf_cache_copy(tiny_folder, tmp_path / "hub", "someone/tiny")
    outside = tmp_path / "elsewhere.safetensors"
    outside.write_bytes((snapshot / "model-00002-of-00002.safetensors").read_bytes())
    (snapshot / "model-00002-of-00002.safetensors").unlink()
    (snapshot / "model-00002-of-00002.safetensors").symlink_to(outside)
    with pytest.raises(ValueError, match="model.safetensors.index.json.*outside the model folder"):
        SentenceTransformer(str(snapshot), device="cpu")


def test_shard_index_naming_a_path_out_of_the_folder_is_refused(tiny_folder: Path) -> None:
    _shard(tiny_folder)
    index = tiny_folder / "model.safetensors.index.json"
    listing = json.loads(index.read_text())
    listing["weight_map"] = {k: "../" + v for k, v in listing["weight_map"].items()}
    index.write_text(json.dumps(listing))
    with pytest.raises(ValueError, match="outside the model folder"):
        SentenceTransformer(str(tiny_folder), device="cpu")


# --------------------------------------------------------------------------- 7. resource limits


def _add_dense(folder: Path, in_features: int, out_features: int, weights: dict[str, torch.Tensor]) -> None:
    modules = json.loads((folder / "modules.json").read_text())
    modules.append(
        {
            "idx": len(modules),
            "name": str(len(modules)),
            "path": "2_Dense",
            "type": "sentence_transformers.models.Dense",
        }
    )
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "2_Dense").mkdir()
    (folder / "2_Dense" / "config.json").write_text(
        json.dumps(
            {
                "in_features": in_features,
                "out_features": out_features,
                "bias": True,
                "activation_function": "torch.nn.modules.activation.Tanh",
            }
        )
    )
    save_file(weights, str(folder / "2_Dense" / "model.safetensors"))


def test_dense_config_is_checked_against_the_weights_before_allocating(tiny_folder: Path, monkeypatch) -> None:
    _add_dense(tiny_folder, 30000, 30000, {"linear.weight": torch.zeros(8, 32), "linear.bias": torch.zeros(8)})
    real_linear = dense_module.nn.Linear

    def small_linear(in_features: int, out_features: int, *args, **kwargs):
        assert in_features * out_features < 10**6, f"allocated a {out_features}x{in_features} layer"
        return real_linear(in_features, out_features, *args, **kwargs)

    monkeypatch.setattr(dense_module.nn, "Linear", small_linear)
    with pytest.raises(ValueError, match=r"2_Dense/config.json does not match .*2_Dense/model.safetensors"):
        SentenceTransformer(str(tiny_folder), device="cpu")


def test_a_matching_dense_layer_still_loads(tiny_folder: Path) -> None:
    weight, bias = torch.randn(8, 32), torch.randn(8)
    _add_dense(tiny_folder, 32, 8, {"linear.weight": weight, "linear.bias": bias})
    model = SentenceTransformer(str(tiny_folder), device="cpu")
    assert model.encode(SENTENCES).shape == (2, 8)
    torch.testing.assert_close(model[2].linear.weight, weight)


def test_huge_layer_count_is_refused_before_building(tiny_folder: Path, monkeypatch) -> None:
    config = json.loads((tiny_folder / "config.json").read_text())
    config["num_hidden_layers"] = 10**7
    (tiny_folder / "config.json").write_text(json.dumps(config))
    real_encoder = transformer_module.TransformerEncoder

    def bounded(config):
        assert config.num_layers < 100, f"started building {config.num_layers} layers"
        return real_encoder(config)

    monkeypatch.setattr(transformer_module, "TransformerEncoder", bounded)
    with pytest.raises(ValueError, match=r"config.json says the encoder has 10000000 layers, but .* holds 2 layers"):
        SentenceTransformer(str(tiny_folder), device="cpu")


def test_config_that_is_a_fifo_is_refused_not_waited_on(tiny_folder: Path) -> None:
    (tiny_folder / "config.json").unlink()
    os.mkfifo(tiny_folder / "config.json")
    with pytest.raises(ValueError, match=r"config.json is a named pipe \(FIFO\), not a regular file"):
        _finishes(lambda: SentenceTransformer(str(tiny_folder), device="cpu"))


def test_tokenizer_json_that_is_a_fifo_is_refused(tiny_folder: Path) -> None:
    (tiny_folder / "tokenizer.json").unlink()
    os.mkfifo(tiny_folder / "tokenizer.json")
    with pytest.raises(ValueError, match=r"tokenizer.json is a named pipe"):
        _finishes(lambda: SentenceTransformer(str(tiny_folder), device="cpu"))


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_config_linked_to_dev_zero_is_refused(tiny_folder: Path) -> None:
    (tiny_folder / "1_Pooling" / "config.json").unlink()
    (tiny_folder / "1_Pooling" / "config.json").symlink_to("/dev/zero")
    with pytest.raises(ValueError, match=r"1_Pooling/config.json is a character device"):
        _finishes(lambda: SentenceTransformer(str(tiny_folder), device="cpu"))


def test_oversized_config_is_refused_unread(tiny_folder: Path) -> None:
    from sentvec.paths import MAX_JSON_BYTES

    with open(tiny_folder / "modules.json", "r+b") as fh:  # sparse: costs no disk
        fh.truncate(MAX_JSON_BYTES + 1)
    with pytest.raises(ValueError, match=r"modules.json is larger than the .* bytes"):
        SentenceTransformer(str(tiny_folder), device="cpu")


def test_safetensors_header_promising_more_than_the_file_holds_is_refused(tmp_path: Path) -> None:
    from sentvec.encoder.weights import safetensors_shapes

    header = json.dumps({"w": {"dtype": "F32", "shape": [30000, 30000], "data_offsets": [0, 3_600_000_000]}}).encode()
    path = tmp_path / "model.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 64)
    with pytest.raises(ValueError, match=r"model.safetensors is not a valid safetensors file .*'w' lies outside"):
        safetensors_shapes(path)


# --------------------------------------------------------------------------- 8. bad configs, clear errors


def _edit_json(path: Path, **changes: object) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"num_attention_heads": 0}, r"config.json has num_attention_heads=0; it must be a positive integer"),
        (
            {"num_attention_heads": 5},
            r"config.json has num_attention_heads=5; it must be a divisor of the hidden size 32",
        ),
        ({"hidden_size": "32"}, r"config.json has hidden_size='32'; it must be a positive integer"),
        ({"hidden_act": "exec"}, r"config.json has hidden_act='exec'; it must be one of"),
        ({"vocab_size": -1}, r"config.json has vocab_size=-1"),
    ],
)
def test_bad_encoder_config_names_the_key(tiny_folder: Path, changes: dict, message: str) -> None:
    _edit_json(tiny_folder / "config.json", **changes)
    with pytest.raises(ValueError, match=message):
        SentenceTransformer(str(tiny_folder), device="cpu")


@pytest.mark.parametrize("length", [-5, 0, 1, "long", True])
def test_bad_max_seq_length_names_the_file(tiny_folder: Path, length: object) -> None:
    _edit_json(tiny_folder / "sentence_bert_config.json", max_seq_length=length)
    with pytest.raises(ValueError, match=r"sentence_bert_config.json has max_seq_length=.*at least 2"):
        SentenceTransformer(str(tiny_folder), device="cpu")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"0": "Transformer"}, r"modules.json must hold a list at the top, not dict"),
        ([1, 2], r"modules.json entry 0 is 1; each module is an object"),
        ([{"idx": 0, "path": ""}], r"modules.json entry 0 names no module type"),
        (
            [{"idx": 0, "path": 3, "type": "sentence_transformers.models.Transformer"}],
            r"modules.json entry 0 has path=3; it must be a str",
        ),
    ],
)
def test_bad_modules_json_names_the_file(tiny_folder: Path, content: object, message: str) -> None:
    (tiny_folder / "modules.json").write_text(json.dumps(content))
    with pytest.raises(ValueError, match=message):
        SentenceTransformer(str(tiny_folder), device="cpu")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ([1], r"config_sentence_transformers.json must hold an object at the top, not list"),
        ({"prompts": ["query: "]}, r"config_sentence_transformers.json has prompts=\['query: '\]; it must map names"),
    ],
)
def test_bad_settings_file_names_the_file(tiny_folder: Path, content: object, message: str) -> None:
    (tiny_folder / "config_sentence_transformers.json").write_text(json.dumps(content))
    with pytest.raises(ValueError, match=message):
        SentenceTransformer(str(tiny_folder), device="cpu")


@pytest.mark.parametrize("content", ["garbage", "[1, 2]", '{"weight_map": ["a"]}', '{"weight_map": {"a": 1}}'])
def test_garbage_shard_index_is_named(tiny_folder: Path, content: str) -> None:
    (tiny_folder / "model.safetensors").unlink()
    (tiny_folder / "model.safetensors.index.json").write_text(content)
    with pytest.raises(ValueError, match=r"model.safetensors.index.json"):
        SentenceTransformer(str(tiny_folder), device="cpu")


@pytest.mark.parametrize("dimension", [10**12, 0, -3, "384"])
def test_pooling_dimension_must_fit_the_encoder(tiny_folder: Path, dimension: object) -> None:
    _edit_json(tiny_folder / "1_Pooling" / "config.json", word_embedding_dimension=dimension)
    with pytest.raises(ValueError, match=r"1_Pooling/config.json has embedding_dimension="):
        SentenceTransformer(str(tiny_folder), device="cpu")


def test_unknown_pooling_mode_names_the_file(tiny_folder: Path) -> None:
    _edit_json(tiny_folder / "1_Pooling" / "config.json", pooling_mode="median")
    with pytest.raises(ValueError, match=r"1_Pooling/config.json: .*pooling mode 'median'"):
        SentenceTransformer(str(tiny_folder), device="cpu")


class _RunsCode:
    def __reduce__(self):
        return (os.getcwd, ())


def test_pickle_refusal_does_not_advise_turning_off_weights_only(tiny_folder: Path) -> None:
    state = load_file(str(tiny_folder / "model.safetensors"))
    torch.save({**state, "trap": _RunsCode()}, tiny_folder / "pytorch_model.bin")
    (tiny_folder / "model.safetensors").unlink()
    with pytest.raises(ValueError) as caught:
        SentenceTransformer(str(tiny_folder), device="cpu", allow_pickle=True)
    message = str(caught.value)
    assert "pytorch_model.bin" in message and "could run code" in message and "getcwd" in message
    assert "weights_only" not in message.replace("weights_only=True", "")


def test_plain_pickle_state_dict_loads_with_allow_pickle(tiny_folder: Path) -> None:
    expected = SentenceTransformer(str(tiny_folder), device="cpu").encode(SENTENCES)
    torch.save(load_file(str(tiny_folder / "model.safetensors")), tiny_folder / "pytorch_model.bin")
    (tiny_folder / "model.safetensors").unlink()
    model = SentenceTransformer(str(tiny_folder), device="cpu", allow_pickle=True)
    np.testing.assert_allclose(model.encode(SENTENCES), expected, atol=1e-6)


# --------------------------------------------------------------------------- 11. full disk


def test_full_disk_during_save_names_the_folder_and_disk(tiny_folder: Path, tmp_path: Path, monkeypatch) -> None:
    import safetensors.torch

    model = SentenceTransformer(str(tiny_folder), device="cpu")

    def full(*args, **kwargs):  # what safetensors raises when write(2) fails with ENOSPC
        raise safetensors.SafetensorError(
            'Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "No space left on device" })'
        )

    monkeypatch.setattr(safetensors.torch, "save_file", full)
    target = tmp_path / "saved"
    with pytest.raises(
        OSError, match=rf"no space left on .*mounted at .* while saving the model to {target}"
    ) as caught:
        model.save(str(target))
    assert caught.value.errno == errno.ENOSPC
    assert not target.exists() and [p.name for p in tmp_path.iterdir()] == ["tiny"]


@pytest.mark.parametrize("name", ["tokenizer.json", "model.safetensors"])
def test_static_model_file_that_is_a_fifo_is_refused(tmp_path: Path, name: str) -> None:
    from conftest import TINY_VOCAB, tiny_tokenizer_json
    from sentvec.static import StaticModel

    folder = tmp_path / "static"
    folder.mkdir()
    tiny_tokenizer_json(folder)
    save_file({"embedding.weight": torch.randn(TINY_VOCAB, 8)}, str(folder / "model.safetensors"))
    assert StaticModel.load(folder).encode(SENTENCES).shape == (2, 8)
    (folder / name).unlink()
    os.mkfifo(folder / name)
    with pytest.raises(ValueError, match=rf"{name} is a named pipe"):
        _finishes(lambda: StaticModel.load(folder))
