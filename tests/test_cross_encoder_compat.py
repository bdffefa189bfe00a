"""CrossEncoder at sentence-transformers' surface: renamed arguments, activation functions saved and
loaded, input forms of predict(), rank()'s errors, the model card, and push_to_hub."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import torch

from sentvec import CrossEncoder
from sentvec.cross_encoder.args import cross_encoder_init_args_decorator, cross_encoder_predict_rank_args_decorator
from test_cross_encoder import PAIRS, tiny_cross_encoder


@pytest.fixture(scope="module")
def ce_folder(tmp_path_factory):
    return tiny_cross_encoder(tmp_path_factory.mktemp("ce") / "bert", "bert")


@pytest.fixture
def model(ce_folder):
    return CrossEncoder(str(ce_folder), device="cpu")


def test_old_init_arguments_are_renamed_with_a_warning(caplog):
    seen = {}

    @cross_encoder_init_args_decorator
    def init(self, *args, **kwargs):
        seen.update(kwargs)

    with caplog.at_level(logging.WARNING):
        init(
            None,
            model_name="m",
            automodel_args={"a": 1},
            tokenizer_args={"b": 2},
            config_args={"c": 3},
            cache_dir="here",
            default_activation_function="torch.nn.Tanh",
            classifier_dropout=0.5,
        )
    assert seen == {
        "model_name_or_path": "m",
        "model_kwargs": {"a": 1},
        "processor_kwargs": {"b": 2},
        "config_kwargs": {"c": 3, "classifier_dropout": 0.5},
        "cache_folder": "here",
        "activation_fn": "torch.nn.Tanh",
    }
    assert "`automodel_args` argument was renamed and is now deprecated" in caplog.text
    assert "`classifier_dropout` argument is deprecated" in caplog.text
    seen.clear()
    init(None, automodel_args={"old": 1}, model_kwargs={"new": 1})  # the new name wins
    assert seen == {"model_kwargs": {"new": 1}}


def test_old_predict_arguments_are_renamed_with_a_warning(caplog):
    seen = {}

    @cross_encoder_predict_rank_args_decorator
    def predict(self, **kwargs):
        seen.update(kwargs)

    with caplog.at_level(logging.WARNING):
        predict(None, sentences=[["a", "b"]], num_workers=2, activation_fct=torch.nn.Tanh)
    assert seen == {"inputs": [["a", "b"]], "activation_fn": torch.nn.Tanh}
    assert "num_workers" in caplog.text and "activation_fct" in caplog.text


def test_classifier_dropout_and_config_kwargs_reach_the_head(ce_folder):
    model = CrossEncoder(str(ce_folder), device="cpu", classifier_dropout=0.25)
    assert model.config.classifier_dropout == 0.25 and model.model.config.classifier_dropout == 0.25
    assert model.head.dropout.p == 0.25


@pytest.mark.parametrize(
    "activation,name",
    [
        (torch.nn.Softmax(dim=-1), "torch.nn.modules.activation.Softmax"),
        (None, "torch.nn.modules.activation.Sigmoid"),
        ("torch.nn.Tanh", "torch.nn.modules.activation.Tanh"),
    ],
)
def test_activation_fn_is_saved_and_loaded(ce_folder, tmp_path, activation, name):
    model = CrossEncoder(str(ce_folder), device="cpu", activation_fn=activation)
    model.save(tmp_path / "saved")
    assert json.loads((tmp_path / "saved" / "config_sentence_transformers.json").read_text())["activation_fn"] == name
    loaded = CrossEncoder(str(tmp_path / "saved"), device="cpu")
    assert f"{type(loaded.activation_fn).__module__}.{type(loaded.activation_fn).__qualname__}" == name
    loaded.predict(PAIRS, activation_fn=torch.nn.Identity())  # a per-call activation does not stick
    assert f"{type(loaded.activation_fn).__module__}.{type(loaded.activation_fn).__qualname__}" == name
    with pytest.warns(DeprecationWarning, match="default_activation_function"):
        assert loaded.default_activation_function is loaded.activation_fn


def test_an_activation_outside_torch_is_not_imported_unless_trusted(model, tmp_path, caplog):
    model.save(tmp_path / "saved")
    settings_file = tmp_path / "saved" / "config_sentence_transformers.json"
    settings = json.loads(settings_file.read_text())
    settings["activation_fn"] = "some_package_that_does_not_exist.Activation"
    settings_file.write_text(json.dumps(settings))
    with caplog.at_level(logging.WARNING):
        loaded = CrossEncoder(str(tmp_path / "saved"), device="cpu")
    assert isinstance(loaded.activation_fn, torch.nn.Sigmoid)
    assert "is not trusted, using default activation function instead" in caplog.text
    with pytest.raises(ModuleNotFoundError):
        CrossEncoder(str(tmp_path / "saved"), device="cpu", trust_remote_code=True)


def test_predict_input_forms(model):
    batch = model.predict(PAIRS)
    assert batch.shape == (len(PAIRS),) and batch.dtype == np.float32
    single = model.predict(np.array(PAIRS[0]))
    assert isinstance(single, np.float32) and np.isclose(single, batch[0])
    np.testing.assert_allclose(model.predict(np.array(PAIRS)), batch, rtol=1e-6)
    assert model.is_singular_input(["a", "b"]) and not model.is_singular_input([["a", "b"]])
    assert not model.is_singular_input(np.array([], dtype=str))
    assert model.predict(np.array([], dtype=str)).shape == (0,)
    empty = model.predict([], convert_to_tensor=True)
    assert empty.numel() == 0 and empty.device == model.device
    assert model.predict([], convert_to_numpy=False) == []
    short = model.predict(PAIRS, processing_kwargs={"text": {"max_length": 4, "truncation": True}})
    assert not np.allclose(short, batch)


def test_predict_runs_through_call_and_upcasts_low_precision(model):
    calls = []
    handle = model.register_forward_hook(lambda *args: calls.append(True))
    reference = model.predict(PAIRS, convert_to_tensor=True)
    handle.remove()
    assert calls
    model.model.to(torch.bfloat16)
    scores = model.predict(PAIRS, convert_to_tensor=True)
    assert scores.dtype == torch.float32
    torch.testing.assert_close(scores, reference, atol=2e-2, rtol=0)


def test_rank_errors_and_ignored_arguments(model, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        ranks = model.rank("query", ["one", "two"], convert_to_tensor=True)
    assert "convert_to_tensor" in caplog.text and all(type(r["score"]) is float for r in ranks)
    json.dumps(ranks)
    three = CrossEncoder(str(tiny_cross_encoder(tmp_path / "three", "bert", 3)), device="cpu")
    with pytest.raises(ValueError, match=r"only works for models with num_labels=1"):
        three.rank("query", ["one"])


def test_model_card_prompts_and_push_to_hub(model, tmp_path, monkeypatch):
    huggingface_hub = pytest.importorskip("huggingface_hub")
    model.model_card_data.language = ["en"]
    model.save(tmp_path / "saved")
    card = (tmp_path / "saved" / "README.md").read_text()
    assert "language:\n  - en" in card and "pipeline_tag: text-ranking" in card
    assert "model.rank(" in card and "Full Model Architecture" in card
    assert model.supports("text") and not model.supports("image")
    assert model.transformers_model is model and model.model.device == model.device

    uploads = []

    class Info:
        commit_url, pr_url = "https://hub/commit/1", "https://hub/pr/1"

    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", lambda self, repo_id, **kw: repo_id)
    monkeypatch.setattr(huggingface_hub.HfApi, "create_branch", lambda self, **kw: None)

    def upload(self, **kwargs):
        uploads.append(kwargs)
        return Info()

    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", upload)
    assert model.push_to_hub("org/ce") == "https://hub/commit/1"
    assert model.push_to_hub("org/ce", create_pr=True) == "https://hub/pr/1"
    assert "model.predict(" in uploads[-1]["commit_description"]


def test_prompts_come_only_from_a_cross_encoder_folder(ce_folder, tmp_path):
    model = CrossEncoder(str(ce_folder), device="cpu", prompts={"web": "Find: "}, default_prompt_name="web")
    with_prompt = model.predict(PAIRS)
    np.testing.assert_allclose(with_prompt, model.predict([("Find: " + a, b) for a, b in PAIRS], prompt=""), rtol=1e-6)
    model.save(tmp_path / "saved")
    assert CrossEncoder(str(tmp_path / "saved"), device="cpu").prompts == {"web": "Find: "}
    settings = tmp_path / "saved" / "config_sentence_transformers.json"
    data = json.loads(settings.read_text())
    data.pop("activation_fn")
    data["model_type"] = "SentenceTransformer"  # an embedding model's prompts are not for scoring pairs
    settings.write_text(json.dumps(data))
    loaded = CrossEncoder(str(tmp_path / "saved"), device="cpu")
    assert loaded.prompts == {} and loaded.default_prompt_name is None


class _Embed(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.table = torch.nn.Embedding(10, 4)

    def forward(self, features):
        features["sentence_embedding"] = self.table(features["input_ids"]).mean(1)
        return features


class _Scores(torch.nn.Module):
    def __init__(self, out_features, module_output_name="scores"):
        super().__init__()
        self.out_features, self.module_output_name = out_features, module_output_name
        self.linear = torch.nn.Linear(4, out_features)

    def forward(self, features):
        features[self.module_output_name] = self.linear(features["sentence_embedding"])
        return features


@pytest.mark.parametrize("out_features,activation", [(1, torch.nn.Sigmoid), (3, torch.nn.Identity)])
def test_a_stack_of_modules_without_a_transformer(out_features, activation):
    model = CrossEncoder(modules=[_Embed(), _Scores(out_features)], device="cpu")
    assert model.num_labels == out_features and isinstance(model.activation_fn, activation)
    assert model.config is None and model.model is None
    scores = model({"input_ids": torch.tensor([[1, 2], [3, 4]])})["scores"]
    assert scores.shape == (2, out_features)
    with pytest.raises(ValueError, match="without a Transformer"):
        model.predict(PAIRS)
    # a last module that does not write "scores" is not the head
    assert CrossEncoder(modules=[_Embed(), _Scores(7, "sentence_embedding")], device="cpu").num_labels == 1
    with pytest.raises(ValueError, match="model_name_or_path .* or modules"):
        CrossEncoder()
