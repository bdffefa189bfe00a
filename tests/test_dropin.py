"""The sentence-transformers v6 surface: module paths, Router, base classes, model cards."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from sentvec import SentenceTransformer

TEXTS = ["a small test sentence", "another one, a little longer than the first"]


def test_v6_module_paths_resolve_to_our_classes() -> None:
    from sentvec.base.modules import Router as BaseRouter
    from sentvec.models import Asym, Pooling
    from sentvec.modules.pooling import Pooling as OurPooling
    from sentvec.modules.router import Router
    from sentvec.sentence_transformer.modules import Router as StRouter
    from sentvec.util.similarity import cos_sim

    assert Pooling is OurPooling
    assert Asym is Router is StRouter is BaseRouter
    assert cos_sim is importlib.import_module("sentvec.similarity").cos_sim
    # a module path and a class of the same name: the module imports, the parent keeps the class
    assert importlib.import_module("sentvec.models.Router").Router is Router
    assert importlib.import_module("sentvec.models").Router is Router
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("sentvec.sentence_transformer.no_such_module")


def test_modules_json_takes_every_name_the_reference_exports_for_our_steps() -> None:
    """A folder may name a step by its package-level v6 export ("sentence_transformers.base.modules.Transformer")
    as well as by its file; each name the reference exports for a step we implement loads as ours."""
    import sentvec.modules
    from sentvec.modules.registry import MODULE_TYPES, module_class

    steps = set(MODULE_TYPES.values())  # loadable steps, not base classes such as InputModule

    checked = 0
    for package in (
        "sentence_transformers.base.modules",
        "sentence_transformers.sentence_transformer.modules",
        "sentence_transformers.sparse_encoder.modules",
        "sentence_transformers.cross_encoder.modules",
    ):
        exported = importlib.import_module(package)
        for name in getattr(exported, "__all__", []):
            ours = getattr(sentvec.modules, name, None)
            if ours in steps:
                assert module_class(f"{package}.{name}") is ours, f"{package}.{name}"
                checked += 1
    assert checked >= 8  # Transformer, Dense, Normalize, Router, Pooling, StaticEmbedding, CNN, LSTM, ...


def test_save_works_after_the_source_folder_is_gone(tiny_folder: Path, tmp_path: Path) -> None:
    """The tokenizer used to copy its files from the folder it was read from at save time."""
    copy = tmp_path / "copy"
    shutil.copytree(tiny_folder, copy)
    model = SentenceTransformer(str(copy), device="cpu")
    shutil.rmtree(copy)
    model.save(tmp_path / "saved")
    again = SentenceTransformer(str(tmp_path / "saved"), device="cpu")
    assert np.allclose(model.encode(TEXTS), again.encode(TEXTS), atol=1e-6)


def test_router_routes_queries_and_documents(tiny_folder: Path, tmp_path: Path) -> None:
    from sentvec.modules import Dense, Router

    base = SentenceTransformer(str(tiny_folder), device="cpu")
    transformer, pooling = base[0], base[1]
    dim = pooling.get_sentence_embedding_dimension()
    dense = Dense(dim, dim)
    model = SentenceTransformer(
        modules=[Router({"query": [transformer, pooling, dense], "document": [transformer, pooling]})], device="cpu"
    )
    plain = base.encode(TEXTS)
    assert np.allclose(model.encode_document(TEXTS), plain, atol=1e-5)
    assert not np.allclose(model.encode_query(TEXTS), plain, atol=1e-3)
    assert np.allclose(model.encode(TEXTS), model.encode_query(TEXTS), atol=1e-6)  # the first route by default
    with pytest.raises(ValueError, match="No route found for task type 'other'"):
        model.encode(TEXTS, task="other")
    model.save(tmp_path / "routed")
    loaded = SentenceTransformer(str(tmp_path / "routed"), device="cpu")
    assert isinstance(loaded[0], Router)
    assert np.allclose(loaded.encode_query(TEXTS), model.encode_query(TEXTS), atol=1e-5)


def test_router_looks_routes_up_in_its_sub_modules(tiny_folder: Path) -> None:
    # sentence-transformers' tests swap sub_modules for a ModuleDict that records lookups: routing must go
    # through it (not through a copy), so the route taken is observable.
    from torch import nn

    from sentvec.modules import Router

    base = SentenceTransformer(str(tiny_folder), device="cpu")
    router = Router({"query": [base[0], base[1]], "document": [base[0], base[1]]})
    seen: list[str] = []

    class Recording(nn.ModuleDict):
        def __getitem__(self, key: str) -> nn.Module:
            seen.append(key)
            return super().__getitem__(key)

    router.sub_modules = Recording(dict(router.sub_modules.items()))
    model = SentenceTransformer(modules=[router], device="cpu")
    model.encode_document(TEXTS)
    assert "document" in seen and "query" not in seen
    seen.clear()
    model.encode_query(TEXTS)
    assert "query" in seen and "document" not in seen


def test_third_party_module_needs_trust_remote_code(tiny_folder: Path, tmp_path: Path) -> None:
    base = SentenceTransformer(str(tiny_folder), device="cpu")
    model = SentenceTransformer(modules=[base[0], base[1], _Scale(scale=2.0)], device="cpu")
    model.save(tmp_path / "custom")
    with pytest.raises(ValueError, match="trust_remote_code"):
        SentenceTransformer(str(tmp_path / "custom"), device="cpu")
    loaded = SentenceTransformer(str(tmp_path / "custom"), device="cpu", trust_remote_code=True)
    assert isinstance(loaded[2], _Scale) and loaded[2].scale == 2.0
    assert np.allclose(loaded.encode(TEXTS), 2 * base.encode(TEXTS), atol=1e-5)


def test_model_card_names_base_model_and_usage(tiny_folder: Path, tmp_path: Path) -> None:
    from sentvec.model_card import ModelCardData

    model = SentenceTransformer(
        str(tiny_folder), device="cpu", model_card_data=ModelCardData(language="en", license="apache-2.0")
    )
    model.model_card_data.base_model = "org/base-model"
    model.model_card_data.set_losses([torch.nn.MSELoss()])
    model.save(tmp_path / "carded", model_name="me/my-model")
    card = (tmp_path / "carded" / "README.md").read_text()
    header = card.split("---")[1]
    assert "library_name: sentence-transformers" in header
    assert "base_model: org/base-model" in header
    assert "- en" in header and "license: apache-2.0" in header
    assert 'SentenceTransformer("me/my-model")' in card
    assert "`MSELoss`" in card


class _Scale(torch.nn.Module):
    """A step from outside sentvec (the test module), saved by import path."""

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, features):
        features["sentence_embedding"] = features["sentence_embedding"] * self.scale
        return features

    def save(self, folder, *args, **kwargs) -> None:
        (Path(folder) / "scale.txt").write_text(str(self.scale))

    @classmethod
    def load(cls, folder: str) -> _Scale:
        return cls(float((Path(folder) / "scale.txt").read_text()))


def test_per_call_max_length_and_unknown_keywords(tiny_folder: Path) -> None:
    model = SentenceTransformer(str(tiny_folder), device="cpu")
    text = "a sentence that is clearly longer than four tokens"
    short = model.encode([text], processing_kwargs={"text": {"max_length": 4}})
    assert not np.allclose(short, model.encode([text]), atol=1e-4)
    assert model.max_seq_length == 16  # restored after the call
    with pytest.raises(ValueError, match=r"does not use: \['normalize'\]"):
        model.encode([text], normalize=True)
    model[1].forward_kwargs = {"scale_hint"}  # a step that takes an encode() keyword
    assert model.get_model_kwargs() == ["scale_hint"]
    model.encode([text], scale_hint=1.0)


def test_multi_vector_similarity_is_refused_with_the_reason(tiny_folder: Path) -> None:
    model = SentenceTransformer(str(tiny_folder), device="cpu")
    with pytest.raises(ValueError, match="MultiVectorEncoder"):
        model.similarity_fn_name = "maxsim"
    with pytest.raises(ValueError, match="unknown"):
        model.similarity_fn_name = "jaccard"
    model.similarity_fn_name = "dot"
    assert model.similarity_fn_name == "dot"


def test_similarity_of_sparse_and_half_precision_embeddings() -> None:
    from sentvec.util import cos_sim, dot_score, pairwise_euclidean_sim

    indices = torch.tensor([[0, 1, 2], [3, 5, 7]])
    a = torch.sparse_coo_tensor(indices, torch.tensor([1.0, 2.0, 3.0]), (3, 10)).coalesce()
    b = torch.sparse_coo_tensor(indices, torch.tensor([2.0, -1.0, 0.5]), (3, 10)).coalesce()
    for fn in (cos_sim, dot_score, pairwise_euclidean_sim):
        assert torch.allclose(fn(a, b), fn(a.to_dense(), b.to_dense()))
    half = torch.randn(4, 8).half()
    assert cos_sim(half, half).dtype == torch.float32


def test_singular_inputs_and_supported_modalities(tiny_folder: Path) -> None:
    model = SentenceTransformer(str(tiny_folder), device="cpu")
    assert model.is_singular_input("one text") and model.is_singular_input(np.array("one text"))
    assert not model.is_singular_input(["a", "b"]) and not model.is_singular_input(np.array(["a", "b"]))
    assert model.supports("text") and not model.supports("image") and not model.supports(("image", "text"))


def test_saved_settings_fill_only_what_the_caller_left_open(tiny_folder: Path, tmp_path: Path) -> None:
    SentenceTransformer(
        str(tiny_folder),
        prompts={"query": "q: ", "passage": "p: "},
        default_prompt_name="query",
        similarity_fn_name="dot",
        device="cpu",
    ).save(tmp_path / "saved")
    model = SentenceTransformer(str(tmp_path / "saved"), prompts={"query": "mine: ", "passage": None}, device="cpu")
    assert model.prompts == {"query": "mine: ", "document": "", "passage": "p: "}
    assert model.default_prompt_name == "query" and model.similarity_fn_name == "dot"
    assert SentenceTransformer(str(tmp_path / "saved"), similarity_fn_name="cosine").similarity_fn_name == "cosine"


def test_cross_encoder_model_card_data_is_exported_where_the_reference_exports_it() -> None:
    import sentvec
    from sentvec.cross_encoder import CrossEncoderModelCardData
    from sentvec.cross_encoder.model_card import CrossEncoderModelCardData as Defined

    assert CrossEncoderModelCardData is Defined and sentvec.CrossEncoderModelCardData is Defined
    assert "CrossEncoderModelCardData" in sentvec.__all__


# ---------------------------------------------------------------------- model families (model_type)


def _set_saved_settings(folder: Path, **settings: object) -> None:
    import json

    path = folder / "config_sentence_transformers.json"
    saved = json.loads(path.read_text()) if path.is_file() else {}
    path.write_text(json.dumps({**saved, **settings}))


def test_model_type_follows_the_nearest_sentvec_class(tiny_folder: Path) -> None:
    from sentvec.sparse_encoder import SparseEncoder

    class MyModel(SentenceTransformer):
        pass

    class MySparse(SparseEncoder):
        pass

    class OwnFamily(SentenceTransformer):
        model_type = "OwnFamily"

    assert MyModel(str(tiny_folder), device="cpu").model_type == "SentenceTransformer"
    assert MySparse.model_type.fget(MySparse.__new__(MySparse)) == "SparseEncoder"  # type: ignore[attr-defined]
    assert OwnFamily.model_type == "OwnFamily"
    model = SentenceTransformer(str(tiny_folder), device="cpu")
    assert model._get_model_type(str(tiny_folder)) == "SentenceTransformer"  # the folder records none
    _set_saved_settings(tiny_folder, model_type="SparseEncoder")
    assert model._get_model_type(str(tiny_folder)) == "SparseEncoder"


def test_a_folder_of_another_family_is_converted_without_its_settings(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from conftest import tiny_sentence_model_folder
    from sentvec.modules import Pooling, Transformer

    folder = tiny_sentence_model_folder(tmp_path / "ce", normalize=True)
    _set_saved_settings(
        folder,
        model_type="CrossEncoder",
        prompts={"query": "q: "},
        default_prompt_name="query",
        similarity_fn_name="dot",
    )
    with caplog.at_level("WARNING", logger="sentvec.model"):
        model = SentenceTransformer(str(folder), device="cpu")
    assert "Converting CrossEncoder model" in caplog.text and "to SentenceTransformer" in caplog.text
    assert [type(m) for m in model] == [Transformer, Pooling]  # the family's default pipeline on the encoder
    assert model.prompts == {"query": "", "document": ""} and model.default_prompt_name is None
    assert model.similarity_fn_name == "cosine"
    # what the caller passes still applies, and a re-saved copy loads as a SentenceTransformer
    assert SentenceTransformer(str(folder), device="cpu", prompts={"query": "x: "}).prompts["query"] == "x: "
    model.save(str(tmp_path / "resaved"))
    caplog.clear()
    with caplog.at_level("WARNING", logger="sentvec.model"):
        again = SentenceTransformer(str(tmp_path / "resaved"), device="cpu")
    assert "Converting" not in caplog.text and again.prompts == {"query": "", "document": ""}

    # a subclass that names its own family converts a plain SentenceTransformer folder
    class OwnFamily(SentenceTransformer):
        model_type = "OwnFamily"

    assert [type(m) for m in OwnFamily(str(tmp_path / "resaved"), device="cpu")] == [Transformer, Pooling]


def test_config_is_the_encoder_config_or_none(tiny_folder: Path) -> None:
    from sentvec.config import EncoderConfig
    from sentvec.modules import Pooling

    model = SentenceTransformer(str(tiny_folder), device="cpu")
    assert isinstance(model.config, EncoderConfig) and model.config.hidden_size == 32
    with pytest.raises(TypeError, match="EncoderConfig"):
        model.config = object()  # type: ignore[assignment]
    no_encoder = SentenceTransformer(modules=[Pooling(8, "mean")], device="cpu")
    assert no_encoder.config is None
    no_encoder.config = model.config
    assert no_encoder.config is None


def test_gradient_checkpointing_recomputes_layers_with_the_same_gradients(tiny_folder: Path) -> None:
    def grads(checkpointing: bool) -> tuple[list[torch.Tensor], int]:
        torch.manual_seed(0)
        model = SentenceTransformer(str(tiny_folder), device="cpu")
        if checkpointing:
            model.gradient_checkpointing_enable()
        model.train()
        calls = []
        model[0].encoder.layers[0].register_forward_pre_hook(lambda *_: calls.append(1))
        features = model.preprocess(TEXTS)
        features.pop("truncated", None)
        model(features)["sentence_embedding"].pow(2).sum().backward()
        return [p.grad.clone() for p in model.parameters() if p.grad is not None], len(calls)

    plain, plain_calls = grads(False)
    recomputed, recomputed_calls = grads(True)
    assert (plain_calls, recomputed_calls) == (1, 2)  # the layer runs again in backward
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(plain, recomputed, strict=True))


def test_tokenize_is_deprecated_once_for_preprocess(tiny_folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    import sentvec.model

    sentvec.model._warned_tokenize = False
    model = SentenceTransformer(str(tiny_folder), device="cpu")
    with caplog.at_level("WARNING", logger="sentvec.model"):
        features = model.tokenize(TEXTS)
        model.tokenize(TEXTS)
    assert [r.getMessage() for r in caplog.records].count(
        "The `tokenize` method is deprecated, please use `preprocess` instead."
    ) == 1
    assert torch.equal(features["input_ids"], model.preprocess(TEXTS)["input_ids"])


def test_load_module_class_from_ref_needs_trust_for_other_packages(tiny_folder: Path) -> None:
    from sentvec.modules import Pooling

    model = SentenceTransformer(str(tiny_folder), device="cpu")
    assert model._load_module_class_from_ref("sentence_transformers.models.Pooling") is Pooling
    with pytest.raises(ValueError, match="trust_remote_code"):
        model._load_module_class_from_ref("torch.nn.ReLU")
    assert model._load_module_class_from_ref("torch.nn.ReLU", trust_remote_code=True) is torch.nn.ReLU


def test_trainer_tags_the_model_card_and_needs_data_only_to_train(tiny_folder: Path) -> None:
    from sentvec.training import SentenceTransformerTrainer

    model = SentenceTransformer(str(tiny_folder), device="cpu")
    assert "generated_from_trainer" not in model.model_card_data.tags
    trainer = SentenceTransformerTrainer(model)
    assert "generated_from_trainer" in model.model_card_data.tags
    with pytest.raises(ValueError, match="train_dataset"):
        trainer.train()


def test_a_saved_cnn_pipeline_with_the_pooling_size_it_was_built_with_loads_again(
    tiny_folder: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from sentvec.modules import CNN, Pooling

    base = SentenceTransformer(str(tiny_folder), device="cpu")
    # as sentence-transformers users build it: the CNN gives 3 x 32 values per token, Pooling says 32
    model = SentenceTransformer(modules=[base[0], CNN(32, 32), Pooling(32, "mean")], device="cpu")
    expected = model.encode(TEXTS)
    model.save(str(tmp_path / "cnn"))
    with caplog.at_level("WARNING", logger="sentvec.model"):
        loaded = SentenceTransformer(str(tmp_path / "cnn"), device="cpu")
    assert "embedding_dimension=32, but the CNN before it gives vectors of size 96" in caplog.text
    np.testing.assert_allclose(loaded.encode(TEXTS), expected, atol=1e-6)


def test_weighted_layer_pooling_matches_the_reference(tiny_folder: Path, tmp_path: Path) -> None:
    """Transformer + WeightedLayerPooling + Pooling, both ways: the reference's folder loads in sentvec with
    the same embeddings, and one built in code here turns on the Transformer's every-layer output itself
    (sentence-transformers asks for ``auto_model.config.output_hidden_states = True``) and saves it."""
    st = pytest.importorskip("sentence_transformers")
    st_models = pytest.importorskip("sentence_transformers.models")
    import json

    from sentvec.modules import Pooling, Transformer, WeightedLayerPooling

    layer_weights = torch.tensor([0.3, 1.7])  # the tiny encoder has 2 layers; layers 1 and 2 are weighted
    ref_base = st.SentenceTransformer(str(tiny_folder), device="cpu")
    ref_base[0].auto_model.config.output_hidden_states = True
    ref_weighted = st_models.WeightedLayerPooling(
        32, num_hidden_layers=2, layer_start=1, layer_weights=torch.nn.Parameter(layer_weights.clone())
    )
    reference = st.SentenceTransformer(modules=[ref_base[0], ref_weighted, ref_base[1]], device="cpu")
    reference.save(str(tmp_path / "reference"))
    expected = reference.encode(TEXTS)
    assert not np.allclose(expected, ref_base.encode(TEXTS), atol=1e-3)  # the weighting changes the result

    loaded = SentenceTransformer(str(tmp_path / "reference"), device="cpu")
    assert isinstance(loaded[1], WeightedLayerPooling)
    assert np.allclose(loaded.encode(TEXTS), expected, atol=1e-5)

    transformer = Transformer(str(tiny_folder))
    assert not transformer.output_hidden_states
    weighted = WeightedLayerPooling(
        32, num_hidden_layers=2, layer_start=1, layer_weights=torch.nn.Parameter(layer_weights.clone())
    )
    built = SentenceTransformer(modules=[transformer, weighted, Pooling(32, "mean")], device="cpu")
    assert transformer.output_hidden_states
    assert np.allclose(built.encode(TEXTS), expected, atol=1e-5)
    built.save(tmp_path / "ours")
    assert json.loads((tmp_path / "ours" / "config.json").read_text())["output_hidden_states"] is True
    again = st.SentenceTransformer(str(tmp_path / "ours"), device="cpu")
    assert np.allclose(again.encode(TEXTS), expected, atol=1e-5)


def test_weighted_layer_pooling_without_every_layer_says_what_to_set(tiny_folder: Path) -> None:
    from sentvec.modules import Pooling, Transformer, WeightedLayerPooling

    transformer = Transformer(str(tiny_folder))
    model = SentenceTransformer(
        modules=[transformer, WeightedLayerPooling(32, num_hidden_layers=2, layer_start=1), Pooling(32)], device="cpu"
    )
    transformer.output_hidden_states = False
    with pytest.raises(ValueError, match="set output_hidden_states = True on the Transformer"):
        model.encode(TEXTS)


def test_cnn_loads_both_ways_with_the_reference(tiny_folder: Path, tmp_path: Path) -> None:
    """sentence-transformers 6 saves the CNN's size as in_embedding_dimension; folders from either side load
    on the other with the same embeddings (one text per batch: the reference convolves over padding too,
    whose values differ between the two encoders)."""
    st = pytest.importorskip("sentence_transformers")
    st_models = pytest.importorskip("sentence_transformers.models")
    from sentvec.modules import CNN

    ref_base = st.SentenceTransformer(str(tiny_folder), device="cpu")
    torch.manual_seed(0)
    ref_cnn = st_models.CNN(32, out_channels=8, kernel_sizes=[1, 3])
    reference = st.SentenceTransformer(modules=[ref_base[0], ref_cnn, st_models.Pooling(16)], device="cpu")
    reference.save(str(tmp_path / "reference"))
    expected = reference.encode(TEXTS, batch_size=1)

    ours = SentenceTransformer(str(tmp_path / "reference"), device="cpu")
    assert isinstance(ours[1], CNN)
    assert ours[1].get_embedding_dimension() == 16
    assert np.allclose(ours.encode(TEXTS, batch_size=1), expected, atol=1e-5)
    ours.save(tmp_path / "ours")
    again = st.SentenceTransformer(str(tmp_path / "ours"), device="cpu")
    assert np.allclose(again.encode(TEXTS, batch_size=1), expected, atol=1e-5)


def test_lstm_folder_loads_both_ways_with_the_reference(tmp_path: Path) -> None:
    """The LSTM step's folder (lstm_config.json with embedding_dimension, and its weights) read on either side."""
    st_models = pytest.importorskip("sentence_transformers.models")
    from sentvec.modules import LSTM

    torch.manual_seed(0)
    reference = st_models.LSTM(32, 8, num_layers=2, bidirectional=True)
    (tmp_path / "reference").mkdir()
    reference.save(str(tmp_path / "reference"))
    ours = LSTM.load(tmp_path / "reference")
    assert (ours.embedding_dimension, ours.num_layers, ours.get_embedding_dimension()) == (32, 2, 16)
    expected = reference.state_dict()
    assert all(torch.equal(tensor, expected[name]) for name, tensor in ours.state_dict().items())
    ours.save(tmp_path / "ours")
    again = st_models.LSTM.load(str(tmp_path / "ours"))
    assert all(torch.equal(tensor, expected[name]) for name, tensor in again.state_dict().items())


def test_old_size_names_still_load_and_construct(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Folders and code of older sentence-transformers name the sizes word_embedding_dimension."""
    import json

    from sentvec.modules import CNN, WeightedLayerPooling

    folder = tmp_path / "cnn"
    CNN(12, out_channels=4, kernel_sizes=[1, 3]).save(folder)
    config = json.loads((folder / "cnn_config.json").read_text())
    assert config["in_embedding_dimension"] == 12
    config["in_word_embedding_dimension"] = config.pop("in_embedding_dimension")
    (folder / "cnn_config.json").write_text(json.dumps(config))
    assert CNN.load(folder).in_embedding_dimension == 12

    with caplog.at_level("WARNING"):
        pooling = WeightedLayerPooling(word_embedding_dimension=24, num_hidden_layers=3, layer_start=1)
    assert pooling.get_embedding_dimension() == 24
    assert "`word_embedding_dimension` argument was renamed" in caplog.text
