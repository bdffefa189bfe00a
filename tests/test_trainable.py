"""The model can be trained: forward with gradients, dropout as config.json sets it, and the packed
fast path gives the same gradients as the padded one."""

from __future__ import annotations

import json

import torch

from sentvec import SentenceTransformer

TEXTS = ["the man is eating food", "a girl is carrying a baby on a horse", "sunny", "the cat sat on the mat !"]


def test_forward_has_gradients_and_dropout_follows_config(tiny_folder):
    config = json.loads((tiny_folder / "config.json").read_text())
    config.update(hidden_dropout_prob=0.3, attention_probs_dropout_prob=0.2)
    (tiny_folder / "config.json").write_text(json.dumps(config))
    model = SentenceTransformer(str(tiny_folder), device="cpu")
    encoder = model.transformer.encoder
    assert {m.p for m in encoder.modules() if isinstance(m, torch.nn.Dropout)} == {0.3}
    assert {layer.attention.dropout_p for layer in encoder.layers} == {0.2}

    model.train()
    out = model(model.tokenize(TEXTS))["sentence_embedding"]
    assert out.requires_grad
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    torch.manual_seed(1)
    first = model(model.tokenize(TEXTS))["sentence_embedding"]
    torch.manual_seed(2)
    second = model(model.tokenize(TEXTS))["sentence_embedding"]
    assert not torch.allclose(first, second)  # dropout is on in train mode
    model.eval()
    with torch.no_grad():
        a = model(model.tokenize(TEXTS))["sentence_embedding"]
        b = model(model.tokenize(TEXTS))["sentence_embedding"]
    torch.testing.assert_close(a, b, rtol=0, atol=0)  # and off in eval mode
    torch.testing.assert_close(torch.from_numpy(model.encode(TEXTS)), a, rtol=1e-5, atol=1e-6)


def test_packed_path_gradients_equal_padded_path(tiny_folder):
    model = SentenceTransformer(str(tiny_folder), device="cpu").train()
    encoder = model.transformer.encoder
    features = model.tokenize(TEXTS)
    assert (features["attention_mask"] == 0).any()  # the batch has padding, so packing does something
    grads = []
    for pack in (True, False):
        encoder.zero_grad()
        hidden = encoder(features["input_ids"], features["attention_mask"], features["token_type_ids"], pack=pack)
        mask = features["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1)
        (pooled * torch.linspace(-1, 1, pooled.shape[1])).sum().backward()
        grads.append({n: p.grad.clone() for n, p in encoder.named_parameters()})
    for name, grad in grads[0].items():
        torch.testing.assert_close(grad, grads[1][name], rtol=1e-4, atol=1e-6, msg=name)
