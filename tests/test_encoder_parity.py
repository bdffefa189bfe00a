"""Parity: our encoder against `transformers` on tiny random models of each family."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from conftest import TINY_VOCAB, tiny_hf_model
from sentvec.config import EncoderConfig
from sentvec.encoder import TransformerEncoder, weights

FAMILIES = ["bert", "roberta", "xlm-roberta", "mpnet", "distilbert"]


def load_ours(folder: Path) -> TransformerEncoder:
    config = EncoderConfig.from_file(folder / "config.json")
    encoder = TransformerEncoder(config)
    weights.load_into(encoder, config, weights.read_checkpoint(folder))
    return encoder.eval()


def padded_batch(pad_id: int, lengths=(14, 9, 3, 1)) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    ids = torch.full((len(lengths), max(lengths)), pad_id)
    mask = torch.zeros_like(ids)
    for row, n in enumerate(lengths):
        ids[row, :n] = torch.randint(5, TINY_VOCAB, (n,), generator=generator)
        mask[row, :n] = 1
    return ids, mask


@pytest.mark.parametrize("family", FAMILIES)
def test_last_hidden_state_matches_transformers(family: str, tmp_path: Path) -> None:
    reference = tiny_hf_model(family, tmp_path)
    ours = load_ours(tmp_path)
    assert ours.config.family == family
    ids, mask = padded_batch(ours.config.pad_token_id)
    with torch.no_grad():
        expected = reference(input_ids=ids, attention_mask=mask).last_hidden_state
        got = ours(ids, mask)
    assert got.shape == expected.shape
    real = mask.bool()
    difference = (got[real] - expected[real]).abs().max().item()
    assert difference < 1e-5, f"{family}: max |ours - transformers| = {difference:.2e}"
    with torch.no_grad():
        unpacked = ours(ids, mask, pack=False)  # the graph-export path keeps padding rows
    assert (unpacked[real] - expected[real]).abs().max().item() < 1e-5


@pytest.mark.parametrize("family", FAMILIES)
def test_every_layer_matches_transformers_hidden_states(family: str, tmp_path: Path) -> None:
    """hidden_states: the embedding layer's output then each layer's, as `transformers` gives them."""
    reference = tiny_hf_model(family, tmp_path)
    ours = load_ours(tmp_path)
    ids, mask = padded_batch(ours.config.pad_token_id)
    with torch.no_grad():
        expected = reference(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
        got = ours.hidden_states(ids, mask)
        last = ours(ids, mask)
    assert len(got) == len(expected) == ours.config.num_layers + 1
    real = mask.bool()
    for layer, (mine, theirs) in enumerate(zip(got, expected)):
        difference = (mine[real] - theirs[real]).abs().max().item()
        assert difference < 1e-5, f"{family} layer {layer}: max |ours - transformers| = {difference:.2e}"
    assert torch.equal(got[-1], last)


@pytest.mark.parametrize("family", FAMILIES)
def test_save_writes_back_the_same_checkpoint(family: str, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    tiny_hf_model(family, tmp_path)
    original = load_file(str(tmp_path / "model.safetensors"))
    ours = load_ours(tmp_path)
    written = weights.to_checkpoint_names(family, ours.state_dict())
    for name, tensor in written.items():
        source = next(v for k, v in original.items() if k.split(".", 1)[-1] == name or k == name)
        assert torch.equal(source, tensor), name


def test_padding_does_not_change_results(tmp_path: Path) -> None:
    tiny_hf_model("mpnet", tmp_path)
    ours = load_ours(tmp_path)
    ids, mask = padded_batch(1, lengths=(9, 5))
    with torch.no_grad():
        batched = ours(ids, mask)
        alone = ours(ids[1:, :5], mask[1:, :5])
    assert torch.allclose(batched[1, :5], alone[0], atol=1e-5)
