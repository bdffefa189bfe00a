"""CrossEncoder: parity with sentence-transformers on tiny random sequence-classification models,
save/load both ways, rank(), and training with BCE and MSE."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sentvec import CrossEncoder, InputExample
from sentvec.cross_encoder import losses as ce_losses

PAIRS = [
    ("the man is eating food", "a man is eating bread"),
    ("a girl is carrying a baby", "the woman is riding a horse"),
    ("the weather is lovely today", "it is so sunny outside !"),
    ("a cat sat on the mat", "two men pushed carts through the woods and the dog was happy"),
    ("good", "bad"),
]


def tiny_cross_encoder(folder: Path, family: str = "bert", num_labels: int = 1, seed: int = 0) -> Path:
    """A random ``*ForSequenceClassification`` model built with transformers, saved with its tokenizer."""
    import transformers

    from conftest import TINY_VOCAB, tiny_tokenizer_json

    torch.manual_seed(seed)
    sizes = dict(
        vocab_size=TINY_VOCAB,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        num_labels=num_labels,
    )
    if family == "bert":
        config = transformers.BertConfig(max_position_embeddings=64, **sizes)
        model = transformers.BertForSequenceClassification(config)
    else:
        config = transformers.RobertaConfig(max_position_embeddings=66, pad_token_id=1, type_vocab_size=1, **sizes)
        model = transformers.RobertaForSequenceClassification(config)
    with torch.no_grad():  # make the zero-initialised biases and unit LayerNorms visible to the comparison
        for name, param in model.named_parameters():
            if name.endswith("bias") or "LayerNorm" in name:
                param.add_(torch.randn_like(param) * 0.1)
    model.save_pretrained(folder)
    tiny_tokenizer_json(folder, roberta_style=family == "roberta")
    # A generic fast tokenizer returns no token types unless told; BERT's own tokenizer does, so say so.
    if family == "bert":
        settings = json.loads((folder / "tokenizer_config.json").read_text())
        settings["model_input_names"] = ["input_ids", "token_type_ids", "attention_mask"]
        (folder / "tokenizer_config.json").write_text(json.dumps(settings))
    return folder


@pytest.fixture(scope="module")
def reference_cls():
    from sentence_transformers import CrossEncoder as Reference

    return Reference


@pytest.mark.parametrize("family,num_labels", [("bert", 1), ("roberta", 1), ("bert", 3)])
def test_predict_matches_reference(tmp_path, reference_cls, family, num_labels):
    folder = tiny_cross_encoder(tmp_path / "ce", family, num_labels)
    ours = CrossEncoder(str(folder), device="cpu")
    theirs = reference_cls(str(folder), device="cpu")
    assert ours.num_labels == num_labels
    assert type(ours.activation_fn) is type(theirs.activation_fn)
    np.testing.assert_allclose(ours.predict(PAIRS), theirs.predict(PAIRS), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ours.predict(list(PAIRS[0])), theirs.predict(list(PAIRS[0])), rtol=1e-4, atol=1e-6)
    if num_labels == 1:
        docs = [p[1] for p in PAIRS]
        mine = ours.rank("a man is eating", docs, return_documents=True)
        ref = {r["corpus_id"]: r["score"] for r in theirs.rank("a man is eating", docs)}
        # a random model's scores nearly tie, so compare scores per document, and our order by our scores
        np.testing.assert_allclose([r["score"] for r in mine], [ref[r["corpus_id"]] for r in mine], rtol=1e-4)
        assert [r["score"] for r in mine] == sorted((r["score"] for r in mine), reverse=True)
        assert all(r["text"] == docs[r["corpus_id"]] for r in mine)
        assert ours.rank("a man is eating", docs, top_k=2) == [
            {k: r[k] for k in ("corpus_id", "score")} for r in mine[:2]
        ]
    else:
        np.testing.assert_allclose(ours.predict(PAIRS, apply_softmax=True).sum(axis=1), 1.0, rtol=1e-5)


def test_save_load_both_ways(tmp_path, reference_cls):
    folder = tiny_cross_encoder(tmp_path / "ce", "bert")
    ours = CrossEncoder(str(folder), device="cpu", activation_fn=torch.nn.Identity())
    ours.save(tmp_path / "ours")
    theirs = reference_cls(str(tmp_path / "ours"), device="cpu")
    assert isinstance(theirs.activation_fn, torch.nn.Identity)  # the activation travels with the folder
    np.testing.assert_allclose(theirs.predict(PAIRS), ours.predict(PAIRS), rtol=1e-4, atol=1e-6)
    back = CrossEncoder(str(tmp_path / "ours"), device="cpu")
    np.testing.assert_allclose(back.predict(PAIRS), ours.predict(PAIRS), rtol=0, atol=0)

    reference = reference_cls(str(folder), device="cpu")
    reference.save(str(tmp_path / "theirs"))
    loaded = CrossEncoder(str(tmp_path / "theirs"), device="cpu")
    np.testing.assert_allclose(loaded.predict(PAIRS), reference.predict(PAIRS), rtol=1e-4, atol=1e-6)


def test_new_head_on_a_bare_encoder_and_bad_inputs(tiny_folder, tmp_path, caplog):
    model = CrossEncoder(str(tiny_folder), device="cpu")  # a sentence model folder: no classifier
    assert model.num_labels == 1 and "newly initialised" in caplog.text
    assert model.predict(PAIRS).shape == (len(PAIRS),)
    with pytest.raises(ValueError, match="input 1 .* pairs"):
        model.predict([("a", "b"), ("only one",)])
    with pytest.raises(TypeError, match="input 0 holds"):
        model.predict([("a", None)])
    with pytest.raises(ValueError, match="num_labels=1"):
        CrossEncoder(str(tiny_cross_encoder(tmp_path / "three", "bert", 3)), device="cpu").rank("q", ["d"])
    with pytest.raises(ValueError, match="has a head with 3 label"):
        CrossEncoder(str(tmp_path / "three"), num_labels=2, device="cpu")


LABELLED = [
    ("a man is eating food", "a man is eating bread", 1),
    ("a man is eating food", "the cat sat on the mat", 0),
    ("a girl is carrying a baby", "the woman is carrying a baby", 1),
    ("a girl is carrying a baby", "two men pushed carts", 0),
    ("the weather is lovely today", "it is so sunny outside", 1),
    ("the weather is lovely today", "a monkey is playing drums", 0),
    ("a man is playing the guitar", "he is playing a violin", 1),
    ("a man is playing the guitar", "the dog is sad", 0),
]


@pytest.mark.parametrize("loss_name", ["bce", "mse"])
def test_training_lowers_the_loss(tmp_path, loss_name):
    from sentvec import SentenceTransformerTrainer, SentenceTransformerTrainingArguments

    model = CrossEncoder(str(tiny_cross_encoder(tmp_path / "ce", "bert")), device="cpu")
    data = {
        "query": [p[0] for p in LABELLED],
        "document": [p[1] for p in LABELLED],
        "label": [float(p[2]) for p in LABELLED],
    }
    loss = (
        ce_losses.BinaryCrossEntropyLoss(model) if loss_name == "bce" else ce_losses.MSELoss(model, torch.nn.Sigmoid())
    )
    features = model.tokenize(list(zip(data["query"], data["document"])))
    labels = torch.tensor(data["label"])
    with torch.no_grad():
        before = loss([features], labels).item()
    args = SentenceTransformerTrainingArguments(
        num_train_epochs=15,
        per_device_train_batch_size=4,
        learning_rate=1e-2,
        logging_steps=0,
        disable_tqdm=True,
        save_strategy="no",
    )
    SentenceTransformerTrainer(model, args, train_dataset=data, loss=loss).train()
    model.eval()
    with torch.no_grad():
        after = loss([features], labels).item()
    assert after < before * 0.7, (before, after)
    scores = model.predict([p[:2] for p in LABELLED])
    positives = scores[[i for i, p in enumerate(LABELLED) if p[2] == 1]]
    negatives = scores[[i for i, p in enumerate(LABELLED) if p[2] == 0]]
    assert positives.mean() > negatives.mean()


def test_old_fit_api(tmp_path):
    from torch.utils.data import DataLoader

    model = CrossEncoder(str(tiny_cross_encoder(tmp_path / "ce", "roberta")), device="cpu")
    examples = [InputExample(texts=[a, b], label=float(y)) for a, b, y in LABELLED]
    before = model.predict([p[:2] for p in LABELLED])
    model.fit(
        train_dataloader=DataLoader(examples, shuffle=True, batch_size=4),
        epochs=10,
        warmup_steps=2,
        optimizer_params={"lr": 1e-2},
        show_progress_bar=False,
        output_path=str(tmp_path / "fitted"),
    )
    after = CrossEncoder(str(tmp_path / "fitted"), device="cpu").predict([p[:2] for p in LABELLED])
    gold = np.array([p[2] for p in LABELLED], dtype=float)
    assert np.abs(after - gold).mean() < np.abs(before - gold).mean()
