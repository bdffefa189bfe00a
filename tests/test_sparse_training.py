"""SparseEncoder fine-tuning: every sparse loss against sentence-transformers' on the same tiny weights and batch,
the CSR autoencoder's training outputs, SparseEncoderTrainer end to end (SPLADE and CSR), the regulariser weight
schedule, and the errors of bad use."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from conftest import tiny_sentence_model_folder
from sentvec.sparse_encoder import SparseEncoder, SparseEncoderTrainer, SparseEncoderTrainingArguments
from sentvec.sparse_encoder import losses as sparse_losses
from sentvec.sparse_encoder.callbacks import SpladeRegularizerWeightSchedulerCallback
from test_sparse_autoencoder import _reference_csr_folder
from test_sparse_encoder import tiny_masked_lm

needs_reference = pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is None,
    reason="parity with sentence-transformers needs it installed (the test extra)",
)

QUERIES = ["the cat sat", "a dog", "two men pushed carts", "happy movie"]
POSITIVES = ["the cat sat on the mat", "a good dog", "men pushed carts through the woods", "a great fun movie"]
NEGATIVES = ["the weather is lovely", "she drove to the stadium", "a white monkey", "a bad boring movie"]
SCORES = torch.tensor([0.9, 0.2, 0.7, 0.4])
MARGINS = torch.tensor([1.5, -0.5, 2.0, 0.25])
TEACHER = torch.tensor([[3.0, 1.0], [0.5, 2.0], [4.0, -1.0], [1.0, 1.5]])


@pytest.fixture(scope="module")
def mlm_folder(tmp_path_factory) -> Path:
    return tiny_masked_lm(tmp_path_factory.mktemp("splade") / "model", seed=3)


def _data(columns: int, labels: torch.Tensor | None = None) -> dict[str, Any]:
    """(anchor, positive[, negative]) data for the trainer, built from the test texts."""
    data: dict[str, Any] = {"anchor": QUERIES, "positive": POSITIVES}
    if columns == 3:
        data["negative"] = NEGATIVES
    if labels is not None:
        data["label"] = labels.tolist()
    return data


def _splade_around(main_loss: str) -> Callable[[Any, Any], Any]:
    """A factory of SpladeLoss around the losses module's ``main_loss``, both regularisers on."""
    return lambda m, L: L.SpladeLoss(
        m, loss=getattr(L, main_loss)(m), query_regularizer_weight=1e-2, document_regularizer_weight=2e-2
    )


def _assert_same_gradients(ours: Any, reference: Any, names: dict[str, str]) -> None:
    """Each of our parameters' gradient equals the reference parameter's it is mapped to (a non-zero one)."""
    mine, theirs = dict(ours.named_parameters()), dict(reference.named_parameters())
    for name, reference_name in names.items():
        got, expected = mine[name].grad, theirs[reference_name].grad
        assert got is not None and expected is not None and expected.abs().sum() > 0, name
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4, msg=lambda m, n=name: f"{n}: {m}")


# name -> (loss factory taking the model and a losses module, number of text columns, labels)
SPLADE_CASES: dict[str, tuple[Callable[[Any, Any], Any], int, torch.Tensor | None]] = {
    "mnrl": (
        lambda m, L: L.SpladeLoss(
            m,
            loss=L.SparseMultipleNegativesRankingLoss(m),
            query_regularizer_weight=5e-2,
            document_regularizer_weight=3e-2,
        ),
        3,
        None,
    ),
    "mnrl_thresholds": (
        lambda m, L: L.SpladeLoss(
            m,
            loss=L.SparseMultipleNegativesRankingLoss(m, scale=2.0, directions=("query_to_doc", "doc_to_query")),
            query_regularizer_weight=5e-2,
            document_regularizer_weight=3e-2,
            query_regularizer_threshold=3,
            document_regularizer_threshold=8,
        ),
        3,
        None,
    ),
    "documents_only": (
        lambda m, L: L.SpladeLoss(
            m,
            loss=L.SparseMultipleNegativesRankingLoss(m),
            document_regularizer_weight=3e-2,
            use_document_regularizer_only=True,
        ),
        2,
        None,
    ),
    "margin_mse": (
        _splade_around("SparseMarginMSELoss"),
        3,
        MARGINS,
    ),
    "distill_kl_div": (
        _splade_around("SparseDistillKLDivLoss"),
        3,
        TEACHER,
    ),
    "cosent": (
        _splade_around("SparseCoSENTLoss"),
        2,
        SCORES,
    ),
    "angle": (
        _splade_around("SparseAnglELoss"),
        2,
        SCORES,
    ),
    "cosine_similarity": (
        _splade_around("SparseCosineSimilarityLoss"),
        2,
        SCORES,
    ),
    "triplet": (
        _splade_around("SparseTripletLoss"),
        3,
        None,
    ),
}


def _columns(count: int) -> list[list[str]]:
    return [QUERIES, POSITIVES, NEGATIVES][:count]


def _features(model: Any, count: int) -> list[dict[str, Any]]:
    return [model.preprocess(texts) for texts in _columns(count)]


def _as_dict(value: Any) -> dict[str, float]:
    parts = value if isinstance(value, dict) else {"loss": value}
    return {key: float(part.detach()) for key, part in parts.items()}


@needs_reference
@pytest.mark.parametrize("case", sorted(SPLADE_CASES))
def test_splade_losses_match_the_reference(mlm_folder: Path, case: str) -> None:
    from sentence_transformers import SparseEncoder as Reference
    from sentence_transformers.sparse_encoder import losses as reference_losses

    make, count, labels = SPLADE_CASES[case]
    ours, reference = SparseEncoder(str(mlm_folder), device="cpu"), Reference(str(mlm_folder), device="cpu")
    got = _as_dict(make(ours, sparse_losses)(_features(ours, count), labels))
    expected = _as_dict(make(reference, reference_losses)(_features(reference, count), labels))
    assert got.keys() == expected.keys()
    assert got == pytest.approx(expected, rel=1e-5, abs=1e-6)
    assert all(value != 0 for value in got.values())  # every part is exercised
    if case in ("cosent", "angle", "cosine_similarity"):  # these losses make the model compare by cosine
        assert ours.similarity_fn_name == reference.similarity_fn_name == "cosine"


@needs_reference
def test_sparse_mse_trains_alone_and_matches(mlm_folder: Path) -> None:
    from sentence_transformers import SparseEncoder as Reference
    from sentence_transformers.sparse_encoder.losses import SparseMSELoss as ReferenceMSE

    ours, reference = SparseEncoder(str(mlm_folder), device="cpu"), Reference(str(mlm_folder), device="cpu")
    teacher = torch.rand(len(QUERIES), ours.get_embedding_dimension() or 0)
    got = sparse_losses.SparseMSELoss(ours)(_features(ours, 1), teacher)
    expected = ReferenceMSE(reference)(_features(reference, 1), teacher)
    assert float(got) == pytest.approx(float(expected), rel=1e-5)


@needs_reference
def test_splade_loss_gradients_match_the_reference(mlm_folder: Path) -> None:
    """What training follows: the gradients of the head and the (tied) word embeddings, not only the value."""
    from sentence_transformers import SparseEncoder as Reference
    from sentence_transformers.sparse_encoder import losses as reference_losses

    make = SPLADE_CASES["mnrl_thresholds"][0]
    ours, reference = SparseEncoder(str(mlm_folder), device="cpu"), Reference(str(mlm_folder), device="cpu")
    for model, losses in ((ours, sparse_losses), (reference, reference_losses)):
        parts = make(model, losses)(_features(model, 3), None)
        torch.stack(list(parts.values())).sum().backward()
    _assert_same_gradients(
        ours,
        reference,
        {
            "0.head.bias": "0.model.cls.predictions.bias",
            "0.head.dense.weight": "0.model.cls.predictions.transform.dense.weight",
            "0.encoder.embeddings.word.weight": "0.model.bert.embeddings.word_embeddings.weight",
        },
    )


def test_cached_splade_loss_equals_splade_loss_and_the_reference(mlm_folder: Path) -> None:
    """Mini-batches of 3 rows of a 4-row batch: the parts add up to SpladeLoss' value, with its gradients, and match
    the reference's CachedSpladeLoss."""

    def make(model: Any, losses: Any, cached: bool) -> Any:
        settings = {"query_regularizer_weight": 5e-2, "document_regularizer_weight": 3e-2}
        main = losses.SparseMultipleNegativesRankingLoss(model)
        if cached:
            return losses.CachedSpladeLoss(model, loss=main, mini_batch_size=3, **settings)
        return losses.SpladeLoss(model, loss=main, **settings)

    results = {}
    for cached in (False, True):
        model = SparseEncoder(str(mlm_folder), device="cpu")
        parts = make(model, sparse_losses, cached)(_features(model, 3), None)
        torch.stack(list(parts.values())).sum().backward()
        results[cached] = (
            _as_dict(parts),
            model[0].head.dense.weight.grad,
            model[0].encoder.embeddings.word.weight.grad,
        )
    assert results[True][0] == pytest.approx(results[False][0], rel=1e-5, abs=1e-6)
    for got, expected in zip(results[True][1:], results[False][1:]):
        torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-4)
    if importlib.util.find_spec("sentence_transformers") is not None:
        from sentence_transformers import SparseEncoder as Reference
        from sentence_transformers.sparse_encoder import losses as reference_losses

        reference = Reference(str(mlm_folder), device="cpu")
        expected = _as_dict(make(reference, reference_losses, True)(_features(reference, 3), None))
        assert results[True][0] == pytest.approx(expected, rel=1e-5, abs=1e-6)
    with pytest.raises(ValueError, match="mini_batch_num_tokens must be a positive integer or None"):
        sparse_losses.CachedSpladeLoss(
            None, loss=sparse_losses.SparseMarginMSELoss(None), document_regularizer_weight=1.0, mini_batch_num_tokens=0
        )


def test_splade_gradients_reach_the_encoder_and_the_head(mlm_folder: Path) -> None:
    model = SparseEncoder(str(mlm_folder), device="cpu")
    loss = SPLADE_CASES["mnrl"][0](model, sparse_losses)
    parts = loss(_features(model, 3), None)
    torch.stack(list(parts.values())).sum().backward()
    head_bias = model[0].head.bias.grad
    first_layer = next(p for name, p in model.named_parameters() if "layers.0" in name or "layer.0" in name)
    assert head_bias is not None and head_bias.abs().sum() > 0
    assert first_layer.grad is not None and first_layer.grad.abs().sum() > 0


def test_flops_and_its_threshold() -> None:
    vectors = torch.tensor([[1.0, 0.0, 2.0], [0.0, 0.0, 4.0]])
    assert float(sparse_losses.FlopsLoss(None).compute_loss_from_embeddings(vectors)) == pytest.approx(
        0.5**2 + 0 + 3.0**2
    )
    # the second row has one active weight: at most the threshold, so it counts as zeros (still in the mean)
    thresholded = sparse_losses.FlopsLoss(None, threshold=1).compute_loss_from_embeddings(vectors)
    assert float(thresholded) == pytest.approx(0.5**2 + 1.0**2)


# ---------------------------------------------------------------------------------------------------- CSR


@pytest.fixture(scope="module")
def st_folder(tmp_path_factory) -> Path:
    return tiny_sentence_model_folder(tmp_path_factory.mktemp("csr_train") / "st")


@needs_reference
@pytest.mark.parametrize("normalize", [False, True])
def test_csr_loss_and_autoencoder_outputs_match_the_reference(st_folder: Path, tmp_path: Path, normalize: bool) -> None:
    from sentence_transformers import SparseEncoder as Reference
    from sentence_transformers.sparse_encoder import losses as reference_losses

    folder = _reference_csr_folder(st_folder, tmp_path / "csr", normalize=normalize)
    ours, reference = SparseEncoder(str(folder), device="cpu"), Reference(str(folder), device="cpu")
    ours.train()
    reference.train()
    x = torch.randn(5, 32)
    got = ours[-1]({"sentence_embedding": x.clone()})
    expected = reference[-1]({"sentence_embedding": x.clone()})
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        if value is None:
            assert got[key] is None, key
        else:
            torch.testing.assert_close(got[key], value, atol=1e-5, rtol=1e-5, msg=key)
    assert got["auxiliary_embedding"] is not None and got["auxiliary_embedding"].abs().sum() > 0  # dead latents
    torch.testing.assert_close(ours[-1].stats_last_nonzero, reference[-1].stats_last_nonzero)

    for make in (
        lambda m, L: L.CSRLoss(m),
        lambda m, L: L.CSRLoss(m, loss=L.SparseMultipleNegativesRankingLoss(m, scale=3.0), beta=0.5, gamma=2.0),
    ):
        ours.zero_grad()
        reference.zero_grad()
        ours_out = make(ours, sparse_losses)(_features(ours, 3), None)
        reference_out = make(reference, reference_losses)(_features(reference, 3), None)
        parts, reference_parts = _as_dict(ours_out), _as_dict(reference_out)
        assert (
            parts.keys()
            == reference_parts.keys()
            == {"reconstruction_loss_k", "reconstruction_loss_4k"}
            | {
                "reconstruction_loss_aux",
                "base_loss",
            }
        )
        assert parts == pytest.approx(reference_parts, rel=1e-5, abs=1e-6)
        for out in (ours_out, reference_out):
            torch.stack(list(out.values())).sum().backward()
        _assert_same_gradients(
            ours,
            reference,
            {
                "2.encoder.weight": "2.encoder.weight",
                "2.pre_bias": "2.pre_bias",
                "2.latent_bias": "2.latent_bias",
                "0.encoder.embeddings.word.weight": "0.model.embeddings.word_embeddings.weight",
            },
        )
    torch.testing.assert_close(ours[-1].stats_last_nonzero, reference[-1].stats_last_nonzero)
    with torch.inference_mode():  # encoding gives the code alone and counts nothing
        before = ours[-1].stats_last_nonzero.clone()
        plain = ours[-1]({"sentence_embedding": x.clone()})
    assert set(plain) == {"sentence_embedding"} and torch.equal(before, ours[-1].stats_last_nonzero)
    torch.testing.assert_close(plain["sentence_embedding"], got["sentence_embedding"])


def test_csr_training_end_to_end(st_folder: Path, tmp_path: Path) -> None:
    model = SparseEncoder(str(st_folder), device="cpu")  # a SentenceTransformer folder: a new autoencoder is added
    autoencoder = model[-1]
    start = autoencoder.encoder.weight.detach().clone()
    loss = sparse_losses.CSRLoss(model)
    args = SparseEncoderTrainingArguments(
        output_dir=str(tmp_path / "out"),
        max_steps=4,
        per_device_train_batch_size=4,
        learning_rate=1e-2,
        disable_tqdm=True,
        logging_steps=1,
        save_strategy="no",
    )
    trainer = SparseEncoderTrainer(model=model, args=args, train_dataset=_data(2), loss=loss)
    trainer.train()
    assert not torch.equal(start, autoencoder.encoder.weight)
    # idle steps per latent: two counts (top k, top 4k) per forward, 2 columns x 4 steps; none from encode()
    assert 0 < int(autoencoder.stats_last_nonzero.max()) <= 2 * 2 * 4
    logged = trainer.state["log_history"][0]
    assert {"reconstruction_loss_k", "reconstruction_loss_4k", "reconstruction_loss_aux", "base_loss"} <= set(logged)
    trainer.save_model(str(tmp_path / "saved"))
    again = SparseEncoder(str(tmp_path / "saved"), device="cpu")
    torch.testing.assert_close(again.encode(QUERIES).to_dense(), model.encode(QUERIES).to_dense(), atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------------------------------------------- trainer


def test_trainer_lowers_the_loss_and_the_saved_model_loads(mlm_folder: Path, tmp_path: Path) -> None:
    model = SparseEncoder(str(mlm_folder), device="cpu")
    features = _features(model, 3)
    loss = SPLADE_CASES["mnrl"][0](model, sparse_losses)

    def total() -> float:
        with torch.no_grad():
            return float(sum(loss(features, None).values()))

    before = total()
    args = SparseEncoderTrainingArguments(
        output_dir=str(tmp_path / "out"),
        num_train_epochs=6,
        per_device_train_batch_size=4,
        learning_rate=5e-3,
        disable_tqdm=True,
        logging_steps=1,
        save_strategy="no",
    )
    trainer = SparseEncoderTrainer(model=model, args=args, train_dataset=_data(3), loss=loss)
    result = trainer.train()
    assert result["global_step"] == 6
    after = total()
    assert after < before
    history = trainer.state["log_history"]
    assert {"base_loss", "document_regularizer_loss", "query_regularizer_loss"} <= set(history[0])
    assert history[0]["loss"] == pytest.approx(
        history[0]["base_loss"] + history[0]["document_regularizer_loss"] + history[0]["query_regularizer_loss"]
    )
    assert history[0]["document_regularizer_loss"] == 0  # the weights start at 0 (the schedule)...
    assert loss.document_regularizer_weight == pytest.approx(3e-2)  # ...and end at their set value

    trainer.save_model(str(tmp_path / "saved"))
    assert json.loads((tmp_path / "saved" / "config_sentence_transformers.json").read_text())["model_type"] == (
        "SparseEncoder"
    )
    again = SparseEncoder(str(tmp_path / "saved"), device="cpu")
    torch.testing.assert_close(again.encode(QUERIES).to_dense(), model.encode(QUERIES).to_dense(), atol=1e-5, rtol=1e-5)
    untrained = SparseEncoder(str(mlm_folder), device="cpu")
    assert not torch.allclose(untrained.encode(QUERIES).to_dense(), again.encode(QUERIES).to_dense())


def test_resumed_training_ends_where_an_uninterrupted_one_does(mlm_folder: Path, tmp_path: Path) -> None:
    """The weight schedule follows the step, so a run resumed from a checkpoint ends with the same weights."""

    def run(output: Path, resume: str | None = None) -> SparseEncoder:
        model = SparseEncoder(str(mlm_folder), device="cpu")
        args = SparseEncoderTrainingArguments(
            output_dir=str(output),
            max_steps=4,
            per_device_train_batch_size=2,
            learning_rate=5e-3,
            disable_tqdm=True,
            save_steps=2,
        )
        loss = SPLADE_CASES["mnrl"][0](model, sparse_losses)
        SparseEncoderTrainer(model=model, args=args, train_dataset=_data(3), loss=loss).train(resume)
        return model

    whole = run(tmp_path / "whole")
    resumed = run(tmp_path / "resumed", resume=str(tmp_path / "whole" / "checkpoint-2"))
    assert sorted(p.name for p in (tmp_path / "resumed").glob("checkpoint-*")) == ["checkpoint-4"]  # steps 3-4 only
    for (name, a), b in zip(whole.named_parameters(), resumed.parameters()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5, msg=lambda m, n=name: f"{n}: {m}")


def test_inference_free_model_trains_both_routes(mlm_folder: Path, tmp_path: Path) -> None:
    """Queries through the SparseStaticEmbedding route, documents through SPLADE: both learn; no query FLOPS."""
    from sentvec.modules import Router
    from sentvec.sparse_encoder import MLMTransformer, SparseStaticEmbedding, SpladePooling

    mlm = MLMTransformer.load(mlm_folder)
    query = SparseStaticEmbedding(mlm.tokenizer)
    pooling = SpladePooling("max", embedding_dimension=mlm.get_word_embedding_dimension())
    model = SparseEncoder(modules=[Router.for_query_document([query], [mlm, pooling])], device="cpu")
    loss = sparse_losses.SpladeLoss(
        model, loss=sparse_losses.SparseMultipleNegativesRankingLoss(model), document_regularizer_weight=3e-3
    )
    with pytest.raises(ValueError, match="did not provide a `router_mapping`"):
        SparseEncoderTrainer(model=model, train_dataset=_data(2), loss=loss)
    static, head = query.weight.detach().clone(), mlm.head.bias.detach().clone()
    args = SparseEncoderTrainingArguments(
        max_steps=3,
        per_device_train_batch_size=4,
        learning_rate=1e-2,
        disable_tqdm=True,
        logging_steps=1,
        router_mapping={"anchor": "query", "positive": "document"},
        learning_rate_mapping='{"sub_modules\\\\.query\\\\.": 0.5}',  # a JSON string, as on a command line
    )
    assert args.learning_rate_mapping == {r"sub_modules\.query\.": 0.5}
    trainer = SparseEncoderTrainer(model=model, args=args, train_dataset=_data(2), loss=loss)
    trainer.train()
    assert not torch.equal(static, query.weight) and not torch.equal(head, mlm.head.bias)
    assert trainer.loop is not None
    rates = {id(p): group["initial_lr"] for group in trainer.loop.optimizer.param_groups for p in group["params"]}
    assert rates[id(query.weight)] == 0.5 and rates[id(mlm.head.bias)] == 1e-2
    assert "query_regularizer_loss" not in trainer.state["log_history"][0]
    model.save(str(tmp_path / "saved"))
    again = SparseEncoder(str(tmp_path / "saved"), device="cpu")
    for method in ("encode_query", "encode_document"):
        torch.testing.assert_close(
            getattr(again, method)(QUERIES).to_dense(), getattr(model, method)(QUERIES).to_dense(), atol=1e-5, rtol=1e-5
        )


def test_default_loss_and_top_level_names(mlm_folder: Path) -> None:
    import sentvec
    from sentvec.sparse_encoder.trainer import SparseEncoderTrainer as FromModule
    from sentvec.sparse_encoder.training_args import SparseEncoderTrainingArguments as ArgsFromModule

    assert sentvec.SparseEncoderTrainer is SparseEncoderTrainer is FromModule
    assert sentvec.SparseEncoderTrainingArguments is SparseEncoderTrainingArguments is ArgsFromModule
    model = SparseEncoder(str(mlm_folder), device="cpu")
    trainer = SparseEncoderTrainer(model=model, train_dataset=_data(2))
    loss = trainer.objectives[0].loss
    assert isinstance(loss, sparse_losses.SpladeLoss)
    assert isinstance(loss.loss, sparse_losses.SparseMultipleNegativesRankingLoss)
    assert (loss.query_regularizer_weight, loss.document_regularizer_weight) == (5e-5, 3e-5)
    assert loss.loss.scale == 1.0 and loss.loss.similarity_fct.__name__ == "dot_score"
    assert isinstance(trainer.args, SparseEncoderTrainingArguments)
    assert len(trainer.before_step) == 1  # the weight schedule added for the SpladeLoss


def test_learning_rate_mapping_errors(mlm_folder: Path) -> None:
    with pytest.raises(ValueError, match="must be a dictionary mapping parameter name regular expressions"):
        SparseEncoderTrainingArguments(learning_rate_mapping="{not json")
    model = SparseEncoder(str(mlm_folder), device="cpu")
    args = SparseEncoderTrainingArguments(max_steps=1, disable_tqdm=True, learning_rate_mapping={"no_such": 1e-3})
    trainer = SparseEncoderTrainer(model=model, args=args, train_dataset=_data(2))
    with pytest.raises(ValueError, match="No parameters found matching the pattern 'no_such'"):
        trainer.train()


def test_weight_schedule() -> None:
    loss = sparse_losses.SpladeLoss(
        None,
        loss=sparse_losses.SparseMarginMSELoss(None),
        document_regularizer_weight=0.3,
        query_regularizer_weight=0.6,
    )
    quadratic = SpladeRegularizerWeightSchedulerCallback(loss)
    assert quadratic.weights(0, 30) == (0.0, 0.0)
    assert quadratic.weights(5, 30) == pytest.approx((0.3 * 0.25, 0.6 * 0.25))  # warm-up: 10 steps
    assert quadratic.weights(10, 30) == quadratic.weights(29, 30) == pytest.approx((0.3, 0.6))
    linear = SpladeRegularizerWeightSchedulerCallback(loss, scheduler_type="linear", warmup_ratio=0.5)
    linear(6, 30)
    assert (loss.document_regularizer_weight, loss.query_regularizer_weight) == pytest.approx((0.3 * 0.4, 0.6 * 0.4))
    with pytest.raises(ValueError, match="loss must be an instance of SpladeLoss"):
        SpladeRegularizerWeightSchedulerCallback(sparse_losses.FlopsLoss(None))  # type: ignore[arg-type]


def test_a_given_schedule_replaces_the_default(mlm_folder: Path) -> None:
    model = SparseEncoder(str(mlm_folder), device="cpu")
    loss = SPLADE_CASES["mnrl"][0](model, sparse_losses)
    mine = SpladeRegularizerWeightSchedulerCallback(loss, scheduler_type="linear")
    trainer = SparseEncoderTrainer(model=model, train_dataset=_data(3), loss=loss, callbacks=[mine])
    assert trainer.before_step == [mine]


# ---------------------------------------------------------------------------------------------------- bad use


@pytest.mark.parametrize(
    "make",
    [
        lambda m: sparse_losses.SparseMultipleNegativesRankingLoss(m),
        lambda m: sparse_losses.SparseMarginMSELoss(m),
        lambda m: sparse_losses.SparseCoSENTLoss(m),
        lambda m: sparse_losses.SparseAnglELoss(m),
        lambda m: sparse_losses.SparseCosineSimilarityLoss(m),
        lambda m: sparse_losses.SparseTripletLoss(m),
        lambda m: sparse_losses.SparseDistillKLDivLoss(m),
    ],
)
def test_wrapped_losses_refuse_to_train_alone(mlm_folder: Path, make: Callable[[Any], Any]) -> None:
    model = SparseEncoder(str(mlm_folder), device="cpu")
    loss = make(model)
    message = f"{type(loss).__name__} should not be used alone. Use it with SpladeLoss or CSRLoss."
    with pytest.raises(AttributeError, match=message):
        loss(_features(model, 2), None)
    with pytest.raises(AttributeError, match=message):
        SparseEncoderTrainer(model=model, train_dataset=_data(2), loss=loss)


def test_regularisers_and_wrappers_refuse_bad_use(mlm_folder: Path) -> None:
    model = SparseEncoder(str(mlm_folder), device="cpu")
    with pytest.raises(NotImplementedError, match="FlopsLoss is not intended to be used directly"):
        sparse_losses.FlopsLoss(model)(_features(model, 1), None)
    with pytest.raises(NotImplementedError, match="CSRReconstructionLoss is not intended to be used standalone"):
        sparse_losses.CSRReconstructionLoss(model)(_features(model, 1), None)
    with pytest.raises(ValueError, match="does not have a 'compute_loss_from_embeddings' method"):
        sparse_losses.SpladeLoss(model, loss=torch.nn.Identity(), document_regularizer_weight=1e-3)
    with pytest.raises(ValueError, match="expects at least 3 columns"):
        sparse_losses.SparseDistillKLDivLoss(model).compute_loss_from_embeddings(
            [torch.ones(2, 3), torch.ones(2, 3)], torch.ones(2, 1)
        )
    with pytest.raises(ValueError, match="temperature must be a positive finite number"):
        sparse_losses.SparseDistillKLDivLoss(model, temperature=0.0)
    # a CSR loss on a SPLADE model: there is no autoencoder output to reconstruct
    with pytest.raises(ValueError, match="CSR losses need a model ending in a SparseAutoEncoder"):
        sparse_losses.CSRLoss(model)(_features(model, 2), None)
