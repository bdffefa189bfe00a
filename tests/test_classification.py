"""Text classification on embeddings: heads, multi-label, save/load, few-shot fine-tuning, bad input."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import shared_data, tiny_sentence_model_folder
from sentvec import SentenceTransformer
from sentvec.classification import NotFittedError, SentenceClassifier, read_labelled
from sentvec.classification.fewshot import (
    _contrastive_finetune,
    _embed_with_grad,
    _supervised_finetune,
    sentence_pairs,
)

# Two vocabularies of the tiny tokenizer: each text is made of words from one of them only.
GOOD = "good great fun happy lovely sunny".split()
BAD = "bad terrible boring sad not very".split()
SPORT = "stadium drove horse riding running cheetah".split()
MUSIC = "violin guitar drums playing monkey".split()


def _texts(words: list[str], count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(words) for _ in range(rng.randint(3, 6))) for _ in range(count)]


def _separable(count: int = 30, seed: int = 0) -> tuple[list[str], list[str]]:
    texts = _texts(GOOD, count, seed) + _texts(BAD, count, seed + 1)
    return texts, ["pos"] * count + ["neg"] * count


@pytest.fixture
def tiny(tmp_path: Path) -> SentenceTransformer:
    return SentenceTransformer(str(tiny_sentence_model_folder(tmp_path / "tiny")), device="cpu")


@pytest.fixture
def untitled(tiny: SentenceTransformer) -> SentenceTransformer:
    """The tiny model rebuilt from its modules: it has no name, so a classifier must save its weights."""
    return SentenceTransformer(modules=list(tiny), device="cpu")


def test_logistic_fit_predict_separable(tiny):
    pytest.importorskip("sklearn")
    texts, labels = _separable()
    test_texts, test_labels = _separable(20, seed=7)
    classifier = tiny.get_classifier()
    assert classifier.fit(texts, labels) is classifier
    assert classifier.classes_.tolist() == ["neg", "pos"]
    predicted = classifier.predict(test_texts)
    assert isinstance(predicted, np.ndarray) and predicted.shape == (40,)
    assert classifier.score(test_texts, test_labels) >= 0.9
    proba = classifier.predict_proba(test_texts)
    assert proba.shape == (40, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    assert classifier.predict(test_texts[0]) == predicted[0]  # one string in, one label out
    assert classifier.predict_proba([]).shape == (0, 2)


def test_logistic_probabilities_match_scikit_learn(tiny):
    """The head applies the fitted coefficients itself (so loading needs no scikit-learn); the
    probabilities must be scikit-learn's own, for two classes and for three."""
    from sklearn.linear_model import LogisticRegression

    texts = _texts(GOOD, 15, 1) + _texts(BAD, 15, 2) + _texts(SPORT, 15, 3)
    for labels in (["a"] * 15 + ["b"] * 30, ["a"] * 15 + ["b"] * 15 + ["c"] * 15):
        classifier = tiny.get_classifier(C=0.5).fit(texts, labels)
        reference = LogisticRegression(C=0.5, max_iter=1000).fit(tiny.encode(texts), labels)
        # rtol 1e-5: our head computes in float32, whose rounding alone reaches 1e-6 (seen: 1.4e-6)
        np.testing.assert_allclose(
            classifier.predict_proba(texts), reference.predict_proba(tiny.encode(texts)), rtol=1e-5, atol=1e-9
        )
        assert classifier.predict(texts).tolist() == reference.predict(tiny.encode(texts)).tolist()


def test_torch_head_needs_no_sklearn_and_learns(tiny, monkeypatch):
    import sys

    for name in ("sklearn", "sklearn.linear_model"):
        monkeypatch.setitem(sys.modules, name, None)  # importing scikit-learn now fails
    texts, labels = _separable()
    test_texts, test_labels = _separable(20, seed=7)
    for hidden in (0, 16):
        classifier = tiny.get_classifier(head="torch", hidden_size=hidden, epochs=60).fit(texts, labels)
        assert classifier.score(test_texts, test_labels) >= 0.9
        assert classifier.predict_proba(test_texts).shape == (40, 2)
    with pytest.raises(ImportError, match=r"pip install -e '\.\[classify\]'"):
        tiny.get_classifier()


@pytest.mark.parametrize("head", ["logistic", "torch"])
def test_multi_label_names_and_matrix(tiny, head):
    if head == "logistic":
        pytest.importorskip("sklearn")
    # labels: "positive" for GOOD words, "sport" for SPORT words; texts mix them
    rng = random.Random(3)
    texts, sets = [], []
    for _ in range(80):
        chosen = [name for name in ("positive", "sport") if rng.random() < 0.5]
        words = (GOOD if "positive" in chosen else BAD) + (SPORT if "sport" in chosen else MUSIC)
        texts.append(" ".join(rng.choice(words) for _ in range(8)))
        sets.append(chosen)
    train, test = slice(0, 60), slice(60, 80)
    classifier = tiny.get_classifier(head=head, multi_label=True).fit(texts[train], sets[train])
    assert classifier.classes_.tolist() == ["positive", "sport"]
    predicted = classifier.predict(texts[test])
    assert all(isinstance(p, list) for p in predicted)
    assert classifier.predict_proba(texts[test]).shape == (20, 2)
    assert classifier.score(texts[test], sets[test]) >= 0.7  # subset accuracy; chance is 0.25

    matrix = np.array([[int("positive" in s), int("sport" in s)] for s in sets])
    by_matrix = tiny.get_classifier(head=head, multi_label=True).fit(texts[train], matrix[train])
    assert by_matrix.classes_.tolist() == [0, 1]
    out = by_matrix.predict(texts[test])
    assert isinstance(out, np.ndarray) and out.shape == (20, 2) and set(np.unique(out)) <= {0, 1}
    np.testing.assert_allclose(by_matrix.predict_proba(texts[test]), classifier.predict_proba(texts[test]))
    assert by_matrix.score(texts[test], matrix[test].tolist()) == classifier.score(texts[test], sets[test])


@pytest.mark.parametrize("head", ["logistic", "torch"])
def test_save_load_round_trip(tiny, tmp_path, head):
    if head == "logistic":
        pytest.importorskip("sklearn")
    texts, labels = _separable()
    classifier = tiny.get_classifier(head=head).fit(texts, labels)
    classifier.save(tmp_path / "clf")
    config = json.loads((tmp_path / "clf" / "classifier.json").read_text())
    assert config["head"] == head and config["classes"] == ["neg", "pos"]
    assert config["model"] == tiny.model_name_or_path and not (tmp_path / "clf" / "model").exists()
    assert not list(tmp_path.glob(".clf.*"))  # the staging folder is gone
    loaded = SentenceClassifier.load(tmp_path / "clf", device="cpu")
    np.testing.assert_array_equal(loaded.predict_proba(texts), classifier.predict_proba(texts))
    assert loaded.predict(texts).tolist() == classifier.predict(texts).tolist()


def test_save_without_a_model_name_keeps_the_encoder(untitled, tmp_path):
    texts, labels = _separable()
    classifier = untitled.get_classifier(head="torch", multi_label=False).fit(texts, [int(x == "pos") for x in labels])
    classifier.save(tmp_path / "clf")
    assert (tmp_path / "clf" / "model" / "model.safetensors").is_file()
    assert not list((tmp_path / "clf").rglob("*.bin")) and not list((tmp_path / "clf").rglob("*.pkl"))
    loaded = SentenceClassifier.load(tmp_path / "clf")
    assert loaded.classes_.tolist() == [0, 1]
    np.testing.assert_array_equal(loaded.predict_proba(texts), classifier.predict_proba(texts))


def test_load_refuses_a_model_path_outside_the_folder(tiny, tmp_path):
    texts, labels = _separable()
    tiny.get_classifier(head="torch").fit(texts, labels).save(tmp_path / "clf", save_model=True)
    config_path = tmp_path / "clf" / "classifier.json"
    config = json.loads(config_path.read_text())
    config["model"] = "../elsewhere"
    config_path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match="outside the model folder"):
        SentenceClassifier.load(tmp_path / "clf")


def test_sentence_pairs_are_balanced_and_labelled_right():
    texts = ["a1", "a2", "a3", "b1", "b2", "c1"]
    targets = np.array([0, 0, 0, 1, 1, 2])
    pairs = sentence_pairs(texts, targets, num_iterations=4, seed=0)
    assert len(pairs) == 2 * len(texts) * 4
    assert sum(t for _, _, t in pairs) == len(pairs) / 2
    for a, b, target in pairs:
        assert (a[0] == b[0]) == (target == 1.0)
        if a != "c1":  # the only "c" text is its own positive partner
            assert target == 0.0 or a != b
    assert pairs == sentence_pairs(texts, targets, num_iterations=4, seed=0)
    assert pairs != sentence_pairs(texts, targets, num_iterations=4, seed=1)


def test_contrastive_finetune_changes_weights_and_separates(tiny):
    """On a tiny task the random encoder barely tells the classes apart; fine-tuning on pairs must
    raise same-class cosine over other-class cosine, change the weights, and lower the loss."""
    texts, labels = _separable(12, seed=5)
    targets = np.array([int(x == "pos") for x in labels])

    def margin() -> float:
        vectors = torch.nn.functional.normalize(tiny.encode(texts, convert_to_tensor=True), dim=1)
        cosine = vectors @ vectors.T
        same = targets[:, None] == targets[None, :]
        off_diagonal = ~np.eye(len(texts), dtype=bool)
        return float(cosine[torch.from_numpy(same & off_diagonal)].mean() - cosine[torch.from_numpy(~same)].mean())

    before_weights = {k: v.clone() for k, v in tiny.state_dict().items()}
    before = margin()
    losses = _contrastive_finetune(
        tiny, sentence_pairs(texts, targets, 10, seed=0), num_epochs=2, learning_rate=1e-3, seed=0
    )
    after = margin()
    changed = [k for k, v in tiny.state_dict().items() if not torch.equal(v, before_weights[k])]
    assert len(changed) > len(before_weights) // 2
    assert not tiny.training  # left in eval mode, as it was
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    assert after > before + 0.2


def test_fit_finetune_saves_the_tuned_encoder(tiny, tmp_path):
    texts, labels = _separable(10, seed=2)
    original = tiny.encode(texts)
    classifier = tiny.get_classifier(head="torch").fit(
        texts, labels, finetune=True, num_iterations=5, learning_rate=1e-3
    )
    assert not np.allclose(tiny.encode(texts), original)  # the encoder itself was tuned
    classifier.save(tmp_path / "clf")
    assert json.loads((tmp_path / "clf" / "classifier.json").read_text())["model_saved"] is True
    loaded = SentenceClassifier.load(tmp_path / "clf")
    np.testing.assert_allclose(loaded.predict_proba(texts), classifier.predict_proba(texts), atol=1e-6)


def test_refit_after_finetune_keeps_the_tuned_encoder(tiny, tmp_path):
    """Fine-tune on a few texts, then refit the head on many: the head sees the tuned encoder's
    embeddings, and the saved classifier still carries the tuned encoder."""
    few, few_labels = _separable(4, seed=3)
    many, many_labels = _separable(25, seed=4)
    classifier = tiny.get_classifier().fit(few, few_labels, finetune=True, num_iterations=5, learning_rate=1e-3)
    tuned = tiny.encode(many)
    classifier.fit(many, many_labels)
    np.testing.assert_allclose(tiny.encode(many), tuned, atol=1e-6)  # the refit did not touch the encoder
    direct = tiny.get_classifier().fit(many, many_labels)  # the same head fitted on the same (tuned) model
    np.testing.assert_allclose(classifier.predict_proba(many), direct.predict_proba(many), atol=1e-6)
    classifier.save(tmp_path / "clf")
    assert json.loads((tmp_path / "clf" / "classifier.json").read_text())["model_saved"] is True
    loaded = SentenceClassifier.load(tmp_path / "clf")
    np.testing.assert_allclose(loaded.predict_proba(many), classifier.predict_proba(many), atol=1e-6)


def test_supervised_finetune_lowers_the_loss_and_tunes_the_encoder(tiny):
    texts, labels = _separable(12, seed=6)
    targets = np.array([int(x == "pos") for x in labels])
    before_weights = {k: v.clone() for k, v in tiny.state_dict().items()}
    losses = _supervised_finetune(tiny, texts, targets, num_epochs=4, batch_size=8, learning_rate=1e-3, seed=0)
    assert len(losses) == 4 * 3
    assert losses[0] == pytest.approx(np.log(2), abs=1e-6)  # the head starts at zero: both classes at 1/2
    assert np.mean(losses[-3:]) < 0.5 * np.mean(losses[:3])
    changed = [k for k, v in tiny.state_dict().items() if not torch.equal(v, before_weights[k])]
    assert len(changed) > len(before_weights) // 2  # the encoder learned, not only the head
    assert not tiny.training
    # multi-label: one sigmoid per label
    matrix = np.stack([targets, 1 - targets, (np.arange(len(texts)) % 2)], axis=1)
    losses = _supervised_finetune(tiny, texts, matrix, num_epochs=2, batch_size=8, learning_rate=1e-3, seed=0)
    assert losses[0] == pytest.approx(np.log(2), abs=1e-6) and np.isfinite(losses).all()


def test_fit_supervised_changes_predictions_and_saves(tiny, tmp_path):
    texts, labels = _separable(15, seed=8)
    frozen = tiny.get_classifier(head="torch").fit(texts, labels)
    before = frozen.predict_proba(texts)
    original = tiny.encode(texts)
    tuned = tiny.get_classifier(head="torch").fit(
        texts, labels, finetune="supervised", num_epochs=3, finetune_batch_size=8, learning_rate=1e-3
    )
    assert not np.allclose(tiny.encode(texts), original)  # the encoder itself was tuned
    after = tuned.predict_proba(texts)
    assert not np.allclose(after, before, atol=1e-3)
    assert tuned.score(texts, labels) == 1.0
    tuned.save(tmp_path / "clf")
    config = json.loads((tmp_path / "clf" / "classifier.json").read_text())
    assert config["finetuned"] is True and config["model_saved"] is True
    loaded = SentenceClassifier.load(tmp_path / "clf")
    np.testing.assert_allclose(loaded.predict_proba(texts), after, atol=1e-6)


def test_finetune_true_still_means_pairs(tiny, monkeypatch):
    import sentvec.classification.classifier as module

    called: list[str] = []
    monkeypatch.setattr(module, "_contrastive_finetune", lambda *a, **k: called.append("pairs"))
    monkeypatch.setattr(module, "_supervised_finetune", lambda *a, **k: called.append("supervised"))
    texts, labels = _separable(4)
    for mode in (True, "pairs", "supervised"):
        tiny.get_classifier(head="torch").fit(texts, labels, finetune=mode)
    assert called == ["pairs", "pairs", "supervised"]
    with pytest.raises(ValueError, match="finetune='end-to-end' is unknown"):
        tiny.get_classifier(head="torch").fit(texts, labels, finetune="end-to-end")  # type: ignore[arg-type]


# ---------------------------------------------------------------------- bad input


def test_bad_input_errors(tiny):
    texts, labels = _separable(5)
    classifier = tiny.get_classifier(head="torch")
    with pytest.raises(NotFittedError, match="before fit"):
        classifier.predict(texts)
    with pytest.raises(NotFittedError, match="before fit"):
        classifier.predict_proba(texts)
    with pytest.raises(NotFittedError, match="before fit"):
        classifier.save("never-written")
    assert not Path("never-written").exists()
    with pytest.raises(ValueError, match="at least two classes"):
        classifier.fit(texts, ["pos"] * len(texts))
    with pytest.raises(ValueError, match="10 texts but 9 labels"):
        classifier.fit(texts, labels[:-1])
    with pytest.raises(ValueError, match="no texts"):
        classifier.fit([], [])
    with pytest.raises(TypeError, match="text 2 is None"):
        classifier.fit(texts[:2] + [None] + texts[3:], labels)
    with pytest.raises(TypeError, match="one string"):
        classifier.fit("good", ["pos"])
    with pytest.raises(TypeError, match="labels mix"):
        classifier.fit(texts, ["pos"] * 5 + [1] * 5)
    with pytest.raises(TypeError, match="label 0 is"):
        classifier.fit(texts, [1.5] * 10)
    with pytest.raises(ValueError, match="head='svm' is unknown"):
        tiny.get_classifier(head="svm")
    with pytest.raises(TypeError, match="head='torch'"):
        tiny.get_classifier(head="torch", depth=3)
    with pytest.raises(ValueError, match="hidden_size"):
        tiny.get_classifier(head="torch", hidden_size=-1)
    multi = tiny.get_classifier(head="torch", multi_label=True)
    with pytest.raises(ValueError, match="'always' is on every text"):
        multi.fit(texts, [["always", "pos"]] * 5 + [["always"]] * 5)
    with pytest.raises(TypeError, match="list of labels"):
        multi.fit(texts, labels)


def test_bad_logistic_argument_fails_at_once(tiny):
    pytest.importorskip("sklearn")
    with pytest.raises(TypeError, match="head='logistic'"):
        tiny.get_classifier(C_value=1.0)


# ---------------------------------------------------------------------- data files


def test_read_labelled_formats(tmp_path):
    (tmp_path / "d.csv").write_text('sentence,tag\n"good, really",pos\nbad,neg\n', encoding="utf-8")
    assert read_labelled(tmp_path / "d.csv", "sentence", "tag") == (["good, really", "bad"], ["pos", "neg"])
    (tmp_path / "d.tsv").write_text('good "film"\tpos\nbad\tneg\n', encoding="utf-8")
    assert read_labelled(tmp_path / "d.tsv", 0, 1, header=False) == (['good "film"', "bad"], ["pos", "neg"])
    (tmp_path / "d.jsonl").write_text('{"text": "a", "label": ["x", "y"]}\n{"text": "b", "label": []}\n')
    assert read_labelled(tmp_path / "d.jsonl", multi_label=True) == (["a", "b"], [["x", "y"], []])
    (tmp_path / "m.tsv").write_text("text\tlabel\na\tx;y\nb\t\n", encoding="utf-8")
    assert read_labelled(tmp_path / "m.tsv", multi_label=True, label_separator=";") == (["a", "b"], [["x", "y"], []])
    with pytest.raises(ValueError, match="no column 'label'"):
        read_labelled(tmp_path / "d.csv", "sentence")


# ---------------------------------------------------------------------- the real model


def _mr(count: int, seed: int) -> tuple[list[str], list[str]]:
    folder = shared_data("mr")
    data = [
        (line, label)
        for label in ("pos", "neg")
        for line in (folder / f"rt-polarity.{label}").read_text(encoding="utf-8").splitlines()
        if line
    ]
    random.Random(seed).shuffle(data)
    return [t for t, _ in data[:count]], [lab for _, lab in data[:count]]


def test_minilm_on_movie_reviews(minilm):
    pytest.importorskip("sklearn")
    texts, labels = _mr(400, seed=0)
    classifier = minilm.get_classifier().fit(texts[:200], labels[:200])
    accuracy = classifier.score(texts[200:], labels[200:])
    # chance is 0.5; measured 0.67 here (frozen MiniLM + LR reaches 76.7% with all 10,662 snippets)
    assert accuracy >= 0.6
    assert classifier.predict(["a warm, funny and moving film", "a dull, lifeless mess"]).tolist() == ["pos", "neg"]


def test_a_failed_refit_leaves_no_usable_half_state(tiny):
    texts, labels = _separable(5)
    classifier = tiny.get_classifier(head="torch").fit(texts, labels)
    with pytest.raises(ValueError, match="at least two classes"):
        classifier.fit(texts, (label for label in ["x"] * len(texts)))  # a generator works as labels too
    with pytest.raises(NotFittedError):
        classifier.predict(texts)


def test_finetuning_embeds_with_the_default_prompt(tmp_path):
    # An e5-style model encodes with its default prompt ("query: "); fine-tuning (fit(finetune=True),
    # benchmarks/fewshot.py) must embed the same inputs, or it tunes the encoder on texts it never sees.
    folder = tiny_sentence_model_folder(tmp_path / "prompted")
    model = SentenceTransformer(
        str(folder), prompts={"query": "stadium drove "}, default_prompt_name="query", device="cpu"
    )
    texts, _ = _separable(6)
    with torch.no_grad():
        tuned_inputs = _embed_with_grad(model, texts, torch.device("cpu")).numpy()
    np.testing.assert_allclose(tuned_inputs, model.encode(texts, convert_to_numpy=True), atol=1e-5)
    assert not np.allclose(tuned_inputs, model.encode(texts, prompt=""), atol=1e-3)  # the prompt changes them
