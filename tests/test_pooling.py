"""Pooling against sentence-transformers' Pooling on the same token embeddings, every mode."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sentvec.models import Pooling

MODES = ["cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"]


def features() -> dict:
    torch.manual_seed(0)
    tokens = torch.randn(3, 7, 8)
    mask = torch.tensor([[1] * 7, [1] * 4 + [0] * 3, [1] * 2 + [0] * 5])
    return {"token_embeddings": tokens, "attention_mask": mask}


@pytest.mark.parametrize("mode", MODES + [("cls", "mean")])
def test_pooling_matches_reference(mode) -> None:
    from sentence_transformers.models import Pooling as Reference

    ours = Pooling(8, mode)(features())["sentence_embedding"]
    theirs = Reference(8, pooling_mode=mode)(features())["sentence_embedding"]
    torch.testing.assert_close(ours, theirs)
    assert ours.shape[1] == Pooling(8, mode).get_sentence_embedding_dimension()


def test_prompt_tokens_can_be_left_out() -> None:
    from sentence_transformers.models import Pooling as Reference

    with_prompt = dict(features(), prompt_length=2)
    ours = Pooling(8, "mean", include_prompt=False)(dict(with_prompt))["sentence_embedding"]
    theirs = Reference(8, pooling_mode="mean", include_prompt=False)(dict(with_prompt))["sentence_embedding"]
    torch.testing.assert_close(ours, theirs)


def test_both_config_styles_load(tmp_path: Path) -> None:
    import json

    (tmp_path / "config.json").write_text(
        json.dumps({"word_embedding_dimension": 8, "pooling_mode_cls_token": True, "pooling_mode_max_tokens": True})
    )
    assert Pooling.load(tmp_path).pooling_mode == ("cls", "max")
    (tmp_path / "config.json").write_text(
        json.dumps({"embedding_dimension": 8, "pooling_mode": "lasttoken", "include_prompt": False})
    )
    loaded = Pooling.load(tmp_path)
    assert (loaded.pooling_mode, loaded.include_prompt) == ("lasttoken", False)
    with pytest.raises(ValueError, match="unknown"):
        Pooling(8, "median")
