"""The training loop: schedules, weight decay groups, data readers, the trainer end to end on a tiny
model, exact resume from a checkpoint, gradient accumulation, and the old ``model.fit`` API."""

from __future__ import annotations

import json
import math

import pytest
import torch

from sentvec import (
    InputExample,
    SentenceTransformer,
    SentenceTransformerTrainer,
    SentenceTransformerTrainingArguments,
    losses,
)
from sentvec.training.data import to_columns
from sentvec.training.loop import no_decay
from sentvec.training.schedule import get_scheduler, lr_factor

PAIRS = [
    ("the man is eating food", "a man is eating bread", 0.9),
    ("a girl is carrying a baby", "the woman is carrying a baby", 0.8),
    ("a man is riding a horse", "the cat sat on the mat", 0.0),
    ("two men pushed carts through the woods", "a monkey is playing drums", 0.1),
    ("a man is playing the guitar", "he is playing a violin", 0.6),
    ("the weather is lovely today", "it is so sunny outside", 0.85),
    ("the dog is happy", "the dog is sad", 0.3),
    ("a good movie", "a great movie", 0.95),
]
DATA = {"sentence1": [p[0] for p in PAIRS], "sentence2": [p[1] for p in PAIRS], "score": [p[2] for p in PAIRS]}


@pytest.fixture(scope="module")
def dropout_folder(tmp_path_factory):
    """A tiny BERT folder with dropout on, so exact resume must also restore the random state."""
    from conftest import tiny_sentence_model_folder

    folder = tiny_sentence_model_folder(tmp_path_factory.mktemp("train") / "tiny")
    config = json.loads((folder / "config.json").read_text())
    config.update(hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_schedules_by_hand():
    assert [lr_factor("linear", s, 2, 6) for s in range(7)] == pytest.approx([0, 0.5, 1, 0.75, 0.5, 0.25, 0])
    assert lr_factor("cosine", 4, 2, 6) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))
    assert lr_factor("constant_with_warmup", 1, 4, 10) == pytest.approx(0.25)
    assert lr_factor("constant", 0, 4, 10) == 1.0
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=1.0)
    scheduler = get_scheduler(optimizer, "WarmupLinear", 2, 6)
    seen = []
    for _ in range(4):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert seen == pytest.approx([0, 0.5, 1, 0.75])
    with pytest.raises(ValueError, match="unknown scheduler"):
        get_scheduler(optimizer, "sawtooth", 0, 1)


def test_no_weight_decay_on_bias_and_layernorm(tiny_folder):
    model = SentenceTransformer(str(tiny_folder), device="cpu")
    skip = no_decay(model)
    for name, param in model.named_parameters():
        expected = name.endswith("bias") or "norm" in name.split(".")[-2]
        assert (id(param) in skip) == expected, name


def test_data_from_lists_files_and_examples(tmp_path):
    assert to_columns(DATA)["score"][0] == 0.9
    rows = to_columns([InputExample(texts=["a", "b"], label=1), InputExample(texts=["c", "d"], label=0)])
    assert rows == {"sentence_0": ["a", "c"], "sentence_1": ["b", "d"], "label": [1, 0]}
    assert to_columns([("a", "b", 0.5)]) == {"sentence_0": ["a"], "sentence_1": ["b"], "label": [0.5]}
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps({"q": a, "p": b, "score": s}) for a, b, s in PAIRS))
    assert to_columns(tmp_path / "d.jsonl")["p"] == DATA["sentence2"]
    (tmp_path / "d.csv").write_text("anchor,positive,label\nx,y,1\nz,w,0\n")
    assert to_columns(str(tmp_path / "d.csv")) == {"anchor": ["x", "z"], "positive": ["y", "w"], "label": [1, 0]}
    with pytest.raises(ValueError, match="row 1 .* not text"):
        to_columns({"a": ["x", None], "b": ["y", "z"]})
    with pytest.raises(ValueError, match="differ in length"):
        to_columns({"a": ["x"], "b": ["y", "z"]})
    with pytest.raises(FileNotFoundError, match="does not exist"):
        to_columns(tmp_path / "missing.jsonl")


def test_data_from_a_datasets_dataset():
    datasets = pytest.importorskip("datasets")
    assert to_columns(datasets.Dataset.from_dict(DATA)) == DATA


def _weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.long
def test_trainer_trains_evaluates_logs_and_keeps_the_best(dropout_folder, tmp_path):
    from sentvec.evaluation import EmbeddingSimilarityEvaluator

    model = SentenceTransformer(str(dropout_folder), device="cpu")
    before = _weights(model)
    evaluator = EmbeddingSimilarityEvaluator(DATA["sentence1"], DATA["sentence2"], DATA["score"], name="toy")
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path / "out"),
        num_train_epochs=3,
        per_device_train_batch_size=4,
        learning_rate=1e-3,
        warmup_ratio=0.2,
        weight_decay=0.01,
        eval_strategy="steps",
        eval_steps=2,
        save_strategy="steps",
        save_steps=2,
        save_total_limit=1,
        logging_steps=1,
        load_best_model_at_end=True,
        disable_tqdm=True,
    )
    trainer = SentenceTransformerTrainer(
        model, args, train_dataset=DATA, loss=losses.CoSENTLoss(model), evaluator=evaluator
    )
    result = trainer.train()
    assert result["global_step"] == 6
    assert any(not torch.equal(before[k], v) for k, v in _weights(model).items())
    log = [json.loads(line) for line in (tmp_path / "out" / "train_log.jsonl").read_text().splitlines()]
    losses_logged = [r["loss"] for r in log if "loss" in r]
    assert len(losses_logged) == 6  # one per step; per-epoch means go down (single batches are noisy)
    assert sum(losses_logged[-2:]) < sum(losses_logged[:2])
    scores = [r["eval_toy_spearman_cosine"] for r in log if "eval_toy_spearman_cosine" in r]
    assert len(scores) == 3
    best = max(scores)
    assert trainer.state["best_metric"] == pytest.approx(best)
    # the best checkpoint survives the save_total_limit, and the model ends with its weights
    assert trainer.state["best_model_checkpoint"] is not None
    assert evaluator(model)["toy_spearman_cosine"] == pytest.approx(best, abs=1e-6)
    checkpoints = sorted(p.name for p in (tmp_path / "out").glob("checkpoint-*"))
    assert 1 <= len(checkpoints) <= 2


def test_resume_from_a_checkpoint_is_exact(dropout_folder, tmp_path):
    def run(resume=None):
        torch.manual_seed(123)  # the trainer seeds itself; this must not matter
        model = SentenceTransformer(str(dropout_folder), device="cpu")
        args = SentenceTransformerTrainingArguments(
            output_dir=str(tmp_path / "out"),
            num_train_epochs=2,
            per_device_train_batch_size=3,
            learning_rate=1e-3,
            warmup_steps=1,
            lr_scheduler_type="cosine",
            save_steps=4,
            logging_steps=0,
            disable_tqdm=True,
            seed=7,
        )
        loss = losses.SoftmaxLoss(model, model.get_embedding_dimension(), 2)  # a loss with its own weights
        data = {**DATA, "label": [int(s > 0.5) for s in DATA["score"]]}
        data.pop("score")
        SentenceTransformerTrainer(model, args, train_dataset=data, loss=loss).train(resume_from_checkpoint=resume)
        return _weights(model), loss.classifier.weight.detach().clone()

    straight, head = run()  # 6 steps (3 batches per epoch), a checkpoint at step 4: mid-epoch 2
    assert (tmp_path / "out" / "checkpoint-4" / "training_state.pt").is_file()
    resumed, resumed_head = run(resume=str(tmp_path / "out" / "checkpoint-4"))
    for name, value in straight.items():
        torch.testing.assert_close(resumed[name], value, rtol=0, atol=0, msg=name)
    torch.testing.assert_close(resumed_head, head, rtol=0, atol=0)


def test_gradient_accumulation_equals_a_bigger_batch(tiny_folder, tmp_path):
    results = []
    for batch_size, accumulation in ((8, 1), (4, 2)):
        model = SentenceTransformer(str(tiny_folder), device="cpu")
        args = SentenceTransformerTrainingArguments(
            num_train_epochs=1,
            per_device_train_batch_size=batch_size,
            gradient_accumulation_steps=accumulation,
            learning_rate=1e-3,
            max_grad_norm=0.5,
            logging_steps=0,
            disable_tqdm=True,
            save_strategy="no",
        )
        result = SentenceTransformerTrainer(
            model, args, train_dataset=DATA, loss=losses.CosineSimilarityLoss(model)
        ).train()
        assert result["global_step"] == 1
        results.append(_weights(model))
    for name, value in results[0].items():
        torch.testing.assert_close(results[1][name], value, rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.long
def test_old_fit_api_with_input_examples(tiny_folder, tmp_path):
    from torch.utils.data import DataLoader

    from sentvec.evaluation import EmbeddingSimilarityEvaluator

    model = SentenceTransformer(str(tiny_folder), device="cpu")
    examples = [InputExample(texts=[a, b], label=s) for a, b, s in PAIRS]
    loader = DataLoader(examples, shuffle=True, batch_size=4)
    evaluator = EmbeddingSimilarityEvaluator(DATA["sentence1"], DATA["sentence2"], DATA["score"])
    start = evaluator(model)["spearman_cosine"]
    calls = []
    model.fit(
        train_objectives=[(loader, losses.CosineSimilarityLoss(model))],
        evaluator=evaluator,
        epochs=4,
        warmup_steps=1,
        optimizer_params={"lr": 1e-3},
        output_path=str(tmp_path / "fitted"),
        show_progress_bar=False,
        callback=lambda score, epoch, steps: calls.append((score, epoch, steps)),
    )
    assert len(calls) == 4  # once per epoch
    best = max(c[0] for c in calls)
    assert best >= start
    saved = SentenceTransformer(str(tmp_path / "fitted"), device="cpu")  # the best model, saved as it improved
    assert evaluator(saved)["spearman_cosine"] == pytest.approx(best, abs=1e-6)
    features, labels = model.smart_batching_collate(examples[:2])
    assert len(features) == 2 and labels.tolist() == pytest.approx([0.9, 0.8])


def test_bf16_autocast_trains_on_cpu(tiny_folder):
    model = SentenceTransformer(str(tiny_folder), device="cpu")
    before = _weights(model)
    args = SentenceTransformerTrainingArguments(
        max_steps=2,
        per_device_train_batch_size=4,
        learning_rate=1e-3,
        bf16=True,
        logging_steps=1,
        disable_tqdm=True,
        save_strategy="no",
    )
    trainer = SentenceTransformerTrainer(model, args, train_dataset=DATA, loss=losses.CoSENTLoss(model))
    trainer.train()
    assert all(math.isfinite(r["loss"]) for r in trainer.state["log_history"] if "loss" in r)
    after = _weights(model)
    assert all(v.dtype == torch.float32 for v in after.values())  # autocast leaves the weights in float32
    assert any(not torch.equal(before[k], v) for k, v in after.items())


def test_router_mapping_sends_each_column_through_its_route(tiny_folder):
    from sentvec.modules import Dense, Router

    base = SentenceTransformer(str(tiny_folder), device="cpu")
    transformer, pooling = base[0], base[1]
    dim = pooling.get_sentence_embedding_dimension()
    router = Router({"query": [transformer, pooling, Dense(dim, dim)], "document": [transformer, pooling]})
    router.default_route = None  # as an inference-free model's Router may be: no route without a task
    model = SentenceTransformer(modules=[router], device="cpu")
    data = {"question": [p[0] for p in PAIRS], "answer": [p[1] for p in PAIRS]}
    args = SentenceTransformerTrainingArguments(
        max_steps=2, per_device_train_batch_size=4, learning_rate=1e-2, disable_tqdm=True, save_strategy="no"
    )
    loss = losses.MultipleNegativesRankingLoss(model)
    with pytest.raises(ValueError, match="did not provide a `router_mapping`"):
        SentenceTransformerTrainer(model, args, train_dataset=data, loss=loss)
    args.router_mapping = {"question": "query", "answer": "doc"}
    with pytest.raises(ValueError, match="No route found for task type 'doc'"):
        SentenceTransformerTrainer(model, args, train_dataset=data, loss=loss).train()
    args.router_mapping = {"question": "query", "answers": "document"}
    with pytest.raises(ValueError, match=r"router_mapping names \['answers'\]"):
        SentenceTransformerTrainer(model, args, train_dataset=data, loss=loss)

    args.router_mapping = {"question": "query", "answer": "document"}
    trainer = SentenceTransformerTrainer(model, args, train_dataset=data, loss=loss)
    assert trainer.objectives[0].tasks == {"question": "query", "answer": "document"}
    dense_before = router.sub_modules["query"][2].linear.weight.detach().clone()
    trainer.train()
    # only the query route has the Dense step: it moved, so the questions went through it
    assert not torch.equal(dense_before, router.sub_modules["query"][2].linear.weight)


def test_prompts_are_put_before_each_columns_texts(tiny_folder):
    from sentvec.training.data import Collator

    model = SentenceTransformer(str(tiny_folder), device="cpu")
    args = SentenceTransformerTrainingArguments(max_steps=1, disable_tqdm=True, save_strategy="no")
    loss = losses.CoSENTLoss(model)
    for prompts, expected in (
        ("query: ", {"sentence1": "query: ", "sentence2": "query: "}),  # every text column, not the score
        ({"sentence1": "query: "}, {"sentence1": "query: "}),
        ({"train": {"sentence2": "passage: "}}, {"sentence2": "passage: "}),  # per data set
    ):
        args.prompts = prompts
        trainer = SentenceTransformerTrainer(model, args, train_dataset=DATA, loss=loss)
        assert trainer.objectives[0].prompts == expected
    trainer.train()
    collate = Collator(model.preprocess, ["sentence1", "sentence2"], "score", prompts={"sentence1": "query: "})
    (first, second), labels = collate(to_columns(DATA), [0, 1])
    prompted = model.preprocess([PAIRS[0][0], PAIRS[1][0]], prompt="query: ")
    assert torch.equal(first["input_ids"], prompted["input_ids"])
    assert torch.equal(second["input_ids"], model.preprocess([PAIRS[0][1], PAIRS[1][1]])["input_ids"])
    args.prompts = {"sentence3": "query: "}
    with pytest.raises(ValueError, match=r"prompts names \['sentence3'\]"):
        SentenceTransformerTrainer(model, args, train_dataset=DATA, loss=loss)
