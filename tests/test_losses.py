"""Losses: hand-computed values on fixed embeddings, agreement with the reference losses, and that
each one goes down when a tiny model trains on it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sentvec import SentenceTransformer, losses

# ------------------------------------------------------------------ fixed embeddings, values by hand

A = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
B = torch.tensor([[1.0, 1.0], [0.0, 2.0], [-1.0, 1.0]])
N = torch.tensor([[0.0, 1.0], [1.0, 0.0], [1.0, -1.0]])


def _cos(u, v):
    u, v = np.asarray(u, float), np.asarray(v, float)
    return float(u @ v / np.linalg.norm(u) / np.linalg.norm(v))


def test_mnrl_value_by_hand():
    loss = losses.MultipleNegativesRankingLoss(None, scale=2.0)
    expected = 0.0
    for i in range(3):
        logits = [2.0 * _cos(A[i], b) for b in B]
        expected += -(logits[i] - math.log(sum(math.exp(x) for x in logits)))
    assert loss.compute_loss_from_embeddings([A, B], None).item() == pytest.approx(expected / 3, rel=1e-6)
    # with a hard-negative column the candidates are B then N
    expected = 0.0
    for i in range(3):
        logits = [2.0 * _cos(A[i], c) for c in torch.cat([B, N])]
        expected += -(logits[i] - math.log(sum(math.exp(x) for x in logits)))
    assert loss.compute_loss_from_embeddings([A, B, N], None).item() == pytest.approx(expected / 3, rel=1e-6)


def test_symmetric_mnrl_value_by_hand():
    loss = losses.MultipleNegativesSymmetricRankingLoss(None, scale=3.0)
    forward = backward = 0.0
    for i in range(3):
        row = [3.0 * _cos(A[i], b) for b in B]
        col = [3.0 * _cos(a, B[i]) for a in A]
        forward += -(row[i] - math.log(sum(math.exp(x) for x in row)))
        backward += -(col[i] - math.log(sum(math.exp(x) for x in col)))
    expected = (forward + backward) / 2 / 3
    assert loss.compute_loss_from_embeddings([A, B], None).item() == pytest.approx(expected, rel=1e-6)


def test_cosent_and_angle_values_by_hand():
    labels = torch.tensor([0.2, 0.9, 0.5])
    scores = [_cos(A[i], B[i]) for i in range(3)]
    terms = [20.0 * (scores[i] - scores[j]) for i in range(3) for j in range(3) if labels[i] < labels[j]]
    expected = math.log(1 + sum(math.exp(t) for t in terms))
    assert losses.CoSENTLoss(None).compute_loss_from_embeddings([A, B], labels).item() == pytest.approx(
        expected, rel=1e-5
    )

    def angle(u, v):  # complex view: (re, im) = (first half, second half); |cos + sin| of the angle
        u, v = np.asarray(u, float), np.asarray(v, float)
        u, v = u / np.linalg.norm(u), v / np.linalg.norm(v)
        cu, cv = complex(u[0], u[1]), complex(v[0], v[1])
        z = cu * np.conj(cv)  # angle of u minus angle of v
        return abs(z.real + z.imag)

    scores = [angle(A[i], B[i]) for i in range(3)]
    terms = [20.0 * (scores[i] - scores[j]) for i in range(3) for j in range(3) if labels[i] < labels[j]]
    expected = math.log(1 + sum(math.exp(t) for t in terms))
    assert losses.AnglELoss(None).compute_loss_from_embeddings([A, B], labels).item() == pytest.approx(
        expected, rel=1e-5
    )


def test_cosine_contrastive_online_triplet_values_by_hand():
    labels = torch.tensor([1.0, 0.0, 1.0])
    cos = [_cos(A[i], B[i]) for i in range(3)]
    expected = sum((c - y) ** 2 for c, y in zip(cos, labels.tolist())) / 3
    got = losses.CosineSimilarityLoss(None).compute_loss_from_embeddings([A, B], labels)
    assert got.item() == pytest.approx(expected, rel=1e-6)

    d = [1 - c for c in cos]
    per = [0.5 * (y * di**2 + (1 - y) * max(0.0, 0.5 - di) ** 2) for di, y in zip(d, labels.tolist())]
    assert losses.ContrastiveLoss(None).compute_loss_from_embeddings([A, B], labels).item() == pytest.approx(
        sum(per) / 3
    )
    summed = losses.ContrastiveLoss(None, size_average=False).compute_loss_from_embeddings([A, B], labels)
    assert summed.item() == pytest.approx(sum(per))

    # distances 0.293, 0.293 (negative), 1.0: positive 1.0 > min negative -> hard; the negative < max positive -> hard
    pos = [di for di, y in zip(d, labels.tolist()) if y == 1]
    neg = [di for di, y in zip(d, labels.tolist()) if y == 0]
    hard_pos = [p for p in pos if p > min(neg)]
    hard_neg = [n for n in neg if n < max(pos)]
    expected = sum(p**2 for p in hard_pos) + sum(max(0.0, 0.5 - n) ** 2 for n in hard_neg)
    got = losses.OnlineContrastiveLoss(None).compute_loss_from_embeddings([A, B], labels)
    assert got.item() == pytest.approx(expected, rel=1e-6)

    expected = np.mean([max(0.0, np.linalg.norm(A[i] - B[i]) - np.linalg.norm(A[i] - N[i]) + 5) for i in range(3)])
    assert losses.TripletLoss(None).compute_loss_from_embeddings([A, B, N]).item() == pytest.approx(expected, rel=1e-6)
    expected = np.mean([max(0.0, (1 - _cos(A[i], B[i])) - (1 - _cos(A[i], N[i])) + 0.1) for i in range(3)])
    loss = losses.TripletLoss(None, distance_metric=losses.TripletDistanceMetric.COSINE, triplet_margin=0.1)
    assert loss.compute_loss_from_embeddings([A, B, N]).item() == pytest.approx(expected, rel=1e-6)


def test_mse_margin_mse_matryoshka_values_by_hand():
    teacher = torch.tensor([[0.5, 0.5], [0.0, 1.0], [1.0, 0.0]])
    expected = (((A - teacher) ** 2).mean() + ((B - teacher) ** 2).mean()) / 2
    assert losses.MSELoss(None).compute_loss_from_embeddings([A, B], teacher).item() == pytest.approx(expected.item())

    margins = torch.tensor([0.5, -1.0, 2.0])
    predicted = [float(A[i] @ B[i] - A[i] @ N[i]) for i in range(3)]
    expected = np.mean([(p - m) ** 2 for p, m in zip(predicted, margins.tolist())])
    assert losses.MarginMSELoss(None).compute_loss_from_embeddings([A, B, N], margins).item() == pytest.approx(expected)
    scores = torch.stack([margins + 1, torch.ones(3)], dim=1)  # teacher scores: positive, negative
    assert losses.MarginMSELoss(None).compute_loss_from_embeddings([A, B, N], scores).item() == pytest.approx(expected)

    inner = losses.CoSENTLoss(None)
    wrapper = losses.MatryoshkaLoss(None, inner, [2, 1], matryoshka_weights=[1.0, 0.5])
    labels = torch.tensor([0.2, 0.9, 0.5])
    full = inner.compute_loss_from_embeddings(
        [torch.nn.functional.normalize(A), torch.nn.functional.normalize(B)], labels
    )
    first = inner.compute_loss_from_embeddings([A[:, :1].sign(), B[:, :1].sign()], labels)  # 1-d, unit length
    got = wrapper.compute_loss_from_embeddings([A, B], labels)
    assert got.item() == pytest.approx(full.item() + 0.5 * first.item(), rel=1e-5)


def test_softmax_loss_value_by_hand():
    loss = losses.SoftmaxLoss(None, embedding_dimension=2, num_labels=3)
    with torch.no_grad():
        loss.classifier.weight.copy_(torch.arange(18, dtype=torch.float32).view(3, 6) / 10)
        loss.classifier.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
    labels = torch.tensor([0, 2, 1])
    features = torch.cat([A, B, (A - B).abs()], dim=1).numpy()
    W, b = loss.classifier.weight.detach().numpy(), loss.classifier.bias.detach().numpy()
    logits = features @ W.T + b
    expected = np.mean([np.log(np.exp(row).sum()) - row[y] for row, y in zip(logits, labels.tolist())])
    assert loss.logits([A, B]).detach().numpy() == pytest.approx(logits, rel=1e-5)

    class Fake(torch.nn.Module):  # a "model" that returns the fixed embeddings
        def forward(self, features):
            return {"sentence_embedding": features["x"]}

    loss.model = Fake()
    assert loss([{"x": A}, {"x": B}], labels).item() == pytest.approx(expected, rel=1e-5)


def test_bad_labels_are_named():
    with pytest.raises(ValueError, match="one label per example"):
        losses.CoSENTLoss(None).compute_loss_from_embeddings([A, B], torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="teacher scores"):
        losses.MarginMSELoss(None).compute_loss_from_embeddings([A, B, N], torch.ones(3, 5))
    with pytest.raises(ValueError, match="columns"):
        losses.MultipleNegativesRankingLoss(None).compute_loss_from_embeddings([A], None)
    with pytest.raises(ValueError, match=r"teacher scores of shape \(batch_size, N\) = \(3, 2\)"):
        losses.DistillKLDivLoss(None).compute_loss_from_embeddings([A, B, N], torch.ones(3))
    with pytest.raises(ValueError, match="teacher scores contain NaN"):
        losses.DistillKLDivLoss(None).compute_loss_from_embeddings([A, B, N], torch.full((3, 2), math.nan))


# ------------------------------------------------------------------ the reference losses, same embeddings


def test_same_values_as_reference_losses():
    ref = pytest.importorskip("sentence_transformers.sentence_transformer.losses")
    torch.manual_seed(0)
    e = [torch.randn(8, 6) for _ in range(3)]
    scores = torch.rand(8)
    binary = torch.tensor([1.0, 0, 1, 1, 0, 0, 1, 0])
    margins = torch.randn(8)
    teacher = torch.randn(8, 6)
    cases = [
        (losses.MultipleNegativesRankingLoss(None), ref.MultipleNegativesRankingLoss(None), e, None),
        (
            losses.MultipleNegativesRankingLoss(
                None, directions=("query_to_doc", "query_to_query", "doc_to_query", "doc_to_doc")
            ),
            ref.MultipleNegativesRankingLoss(
                None, directions=("query_to_doc", "query_to_query", "doc_to_query", "doc_to_doc")
            ),
            e,
            None,
        ),
        (
            losses.MultipleNegativesSymmetricRankingLoss(None),
            ref.MultipleNegativesSymmetricRankingLoss(None),
            e[:2],
            None,
        ),
        (losses.CoSENTLoss(None), ref.CoSENTLoss(None), e[:2], scores),
        (losses.AnglELoss(None), ref.AnglELoss(None), e[:2], scores),
        (losses.CosineSimilarityLoss(None), ref.CosineSimilarityLoss(None), e[:2], scores),
        (losses.ContrastiveLoss(None), ref.ContrastiveLoss(None), e[:2], binary),
        (losses.OnlineContrastiveLoss(None), ref.OnlineContrastiveLoss(None), e[:2], binary),
        (losses.TripletLoss(None), ref.TripletLoss(None), e, None),
        (losses.MarginMSELoss(None), ref.MarginMSELoss(None), e, margins),
        (losses.MSELoss(None), ref.MSELoss(None), e[:2], teacher),
        (losses.DistillKLDivLoss(None), ref.DistillKLDivLoss(None), e, teacher[:, :2] * 3),
        (
            losses.DistillKLDivLoss(None, temperature=1.5, teacher_temperature=0.5),
            ref.DistillKLDivLoss(None, temperature=1.5, teacher_temperature=0.5),
            e,
            teacher[:, :2] * 3,
        ),
    ]
    for ours, theirs, embeddings, labels in cases:
        got = ours.compute_loss_from_embeddings(embeddings, labels)
        ref_labels = (
            [labels] * len(embeddings) if isinstance(ours, losses.MSELoss) else labels
        )  # one teacher batch per column
        want = theirs.compute_loss_from_embeddings(embeddings, ref_labels)
        assert got.item() == pytest.approx(want.item(), rel=1e-5, abs=1e-6), type(ours).__name__
        if isinstance(ours, losses.DistillKLDivLoss):
            assert ours.get_config_dict() == theirs.get_config_dict()


# ------------------------------------------------------------------ training a tiny model


@pytest.fixture(scope="module")
def tiny_model_folder(tmp_path_factory):
    from conftest import tiny_sentence_model_folder

    return tiny_sentence_model_folder(tmp_path_factory.mktemp("losses") / "tiny")


def _batch(model, texts):
    return model.tokenize(texts)


PAIRS = [
    ("the man is eating food", "a man is eating bread", 0.9),
    ("a girl is carrying a baby", "the woman is carrying a baby", 0.8),
    ("a man is riding a horse", "the cat sat on the mat", 0.0),
    ("two men pushed carts through the woods", "a monkey is playing drums", 0.1),
    ("a man is playing the guitar", "he is playing a violin", 0.6),
    ("the weather is lovely today", "it is so sunny outside", 0.85),
]


def _loss_for(name, model):
    dim = model.get_embedding_dimension()
    return {
        "mnrl": losses.MultipleNegativesRankingLoss(model),
        "mnsrl": losses.MultipleNegativesSymmetricRankingLoss(model),
        "cached": losses.CachedMultipleNegativesRankingLoss(model, mini_batch_size=2),
        "cosent": losses.CoSENTLoss(model),
        "angle": losses.AnglELoss(model),
        "cosine": losses.CosineSimilarityLoss(model),
        "contrastive": losses.ContrastiveLoss(model),
        "online": losses.OnlineContrastiveLoss(model),
        "triplet": losses.TripletLoss(model),
        "softmax": losses.SoftmaxLoss(model, dim, 2),
        "mse": losses.MSELoss(model),
        "margin": losses.MarginMSELoss(model),
        "matryoshka": losses.MatryoshkaLoss(model, losses.CoSENTLoss(model), [dim, 8]),
    }[name]


@pytest.mark.parametrize(
    "name",
    [
        "mnrl",
        "mnsrl",
        "cached",
        "cosent",
        "angle",
        "cosine",
        "contrastive",
        "online",
        "triplet",
        "softmax",
        "mse",
        "margin",
        "matryoshka",
    ],
)
def test_loss_goes_down_on_a_tiny_task(tiny_model_folder, name):
    torch.manual_seed(0)
    model = SentenceTransformer(str(tiny_model_folder), device="cpu")
    loss = _loss_for(name, model)
    first = [p[0] for p in PAIRS]
    second = [p[1] for p in PAIRS]
    third = second[1:] + second[:1]
    scores = torch.tensor([p[2] for p in PAIRS])
    columns = {"triplet": 3, "margin": 3}.get(name, 2)
    texts = [first, second, third][:columns]
    labels = {
        "contrastive": (scores > 0.5).float(),
        "online": (scores <= 0.5).float(),  # reversed, so hard pairs exist
        "softmax": (scores > 0.5).long(),
        "mse": torch.randn(len(PAIRS), model.get_embedding_dimension(), generator=torch.Generator().manual_seed(1)),
        "margin": scores - 0.5,
    }.get(name, scores)
    model.train()
    optimizer = torch.optim.AdamW(loss.parameters(), lr=1e-3)  # loss.parameters() include the model's
    values = []
    for _ in range(12):
        features = [_batch(model, t) for t in texts]
        value = loss(features, labels)
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
        values.append(value.item())
    assert values[-1] < values[0] * 0.9, values


def test_cached_mnrl_equals_mnrl_in_value_and_gradient(tiny_model_folder):
    model = SentenceTransformer(str(tiny_model_folder), device="cpu").train()
    texts = [[p[0] for p in PAIRS], [p[1] for p in PAIRS]]
    grads = []
    for loss in (
        losses.MultipleNegativesRankingLoss(model),
        losses.CachedMultipleNegativesRankingLoss(model, mini_batch_size=4),
    ):
        model.zero_grad()
        value = loss([_batch(model, t) for t in texts], None)
        value.backward()
        grads.append((value.item(), [p.grad.clone() for p in model.parameters()]))
    assert grads[0][0] == pytest.approx(grads[1][0], rel=1e-5)
    for plain, cached in zip(grads[0][1], grads[1][1]):
        torch.testing.assert_close(cached, plain, rtol=1e-4, atol=1e-6)
