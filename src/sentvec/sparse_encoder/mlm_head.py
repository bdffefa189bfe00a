"""The masked-language-model head on top of our encoder: one score per vocabulary token at every position.

hidden (N, C) -> dense -> activation -> LayerNorm -> decoder (C -> V, usually the word embeddings
transposed: "tied") + bias -> logits (N, V). BERT (``cls.predictions.*``), DistilBERT (``vocab_*``) and
RoBERTa (``lm_head.*``) heads are the same four steps under other names; each family's names are a literal
map, and a missing or mis-shaped tensor is an error that names it, as in :mod:`sentvec.encoder.weights`.
"""

from __future__ import annotations

from torch import Tensor, nn

from sentvec.config import EncoderConfig

_ACTIVATIONS = {"gelu": nn.GELU(), "gelu_new": nn.GELU(approximate="tanh"), "relu": nn.ReLU()}

# checkpoint name -> our name; "decoder.weight" is absent from checkpoints whose head is tied
HEAD_MAPS: dict[str, dict[str, str]] = {
    "bert": {
        "cls.predictions.transform.dense.weight": "dense.weight",
        "cls.predictions.transform.dense.bias": "dense.bias",
        "cls.predictions.transform.LayerNorm.weight": "norm.weight",
        "cls.predictions.transform.LayerNorm.bias": "norm.bias",
        "cls.predictions.decoder.weight": "decoder.weight",
        "cls.predictions.bias": "bias",
    },
    "distilbert": {
        "vocab_transform.weight": "dense.weight",
        "vocab_transform.bias": "dense.bias",
        "vocab_layer_norm.weight": "norm.weight",
        "vocab_layer_norm.bias": "norm.bias",
        "vocab_projector.weight": "decoder.weight",
        "vocab_projector.bias": "bias",
    },
    "roberta": {
        "lm_head.dense.weight": "dense.weight",
        "lm_head.dense.bias": "dense.bias",
        "lm_head.layer_norm.weight": "norm.weight",
        "lm_head.layer_norm.bias": "norm.bias",
        "lm_head.decoder.weight": "decoder.weight",
        "lm_head.bias": "bias",
    },
}
HEAD_MAPS["xlm-roberta"] = HEAD_MAPS["roberta"]
# where each family's task model keeps the bare encoder (BertForMaskedLM.bert, ...)
ENCODER_PREFIX = {"bert": "bert.", "distilbert": "distilbert.", "roberta": "roberta.", "xlm-roberta": "roberta."}
ARCHITECTURE = {
    "bert": "BertForMaskedLM",
    "distilbert": "DistilBertForMaskedLM",
    "roberta": "RobertaForMaskedLM",
    "xlm-roberta": "XLMRobertaForMaskedLM",
}
# old TensorFlow-era checkpoints name LayerNorm parameters gamma and beta
_OLD_NAMES = ((".gamma", ".weight"), (".beta", ".bias"))


def modern_name(name: str) -> str:
    """``...LayerNorm.gamma`` -> ``...LayerNorm.weight`` (and beta -> bias); other names unchanged."""
    for old, new in _OLD_NAMES:
        if name.endswith(old) and "LayerNorm" in name:
            return name[: -len(old)] + new
    return name


class MaskedLMHead(nn.Module):
    """Token logits from hidden states. ``word_embeddings`` is the encoder's (V, C) table when the head is tied."""

    def __init__(self, config: EncoderConfig, word_embeddings: nn.Embedding | None = None) -> None:
        super().__init__()
        if config.family not in HEAD_MAPS:
            raise ValueError(f"sentvec has no masked-LM head for {config.family} encoders; it has {sorted(HEAD_MAPS)}")
        act = "gelu" if config.family in ("roberta", "xlm-roberta") else config.hidden_act
        if act not in _ACTIVATIONS:
            raise ValueError(f"config.json asks for head activation {act!r}; sentvec has {list(_ACTIVATIONS)}")
        self.family = config.family
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.act = _ACTIVATIONS[act]
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.tied = word_embeddings is not None
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        if word_embeddings is not None:
            self.decoder.weight = word_embeddings.weight
        self.bias = nn.Parameter(self.decoder.weight.new_zeros(config.vocab_size))

    def forward(self, hidden: Tensor) -> Tensor:
        """Vocabulary logits (N, V) of hidden states (N, hidden)."""
        return self.decoder(self.norm(self.act(self.dense(hidden)))) + self.bias  # (N, V)

    def load_checkpoint(self, state: dict[str, Tensor]) -> None:
        """Take the head's tensors from a whole checkpoint (Hugging Face names), checking names and shapes."""
        names = HEAD_MAPS[self.family]
        state = {modern_name(k): v for k, v in state.items()}
        if self.family == "bert" and "cls.predictions.bias" not in state and "cls.predictions.decoder.bias" in state:
            state["cls.predictions.bias"] = state["cls.predictions.decoder.bias"]
        ours = self.state_dict()
        for source, target in names.items():
            if target == "decoder.weight" and self.tied:
                continue  # the word embeddings, already loaded with the encoder
            if source not in state:
                raise ValueError(
                    f"checkpoint lacks {source!r}, part of the {self.family} masked-LM head; is this a "
                    f"{ARCHITECTURE[self.family]} checkpoint?"
                )
            if tuple(state[source].shape) != tuple(ours[target].shape):
                raise ValueError(
                    f"checkpoint tensor {source!r} has shape {tuple(state[source].shape)}, the head "
                    f"needs {tuple(ours[target].shape)}"
                )
            module, _, attr = target.rpartition(".")
            param = getattr(self.get_submodule(module), attr) if module else getattr(self, attr)
            param.data = state[source].to(param.dtype).clone()

    def checkpoint_state(self) -> dict[str, Tensor]:
        """The head's tensors under Hugging Face names (no decoder weight when tied: loaders re-tie it)."""
        out = {}
        for source, target in HEAD_MAPS[self.family].items():
            if target == "decoder.weight" and self.tied:
                continue
            module, _, attr = target.rpartition(".")
            out[source] = (getattr(self.get_submodule(module), attr) if module else getattr(self, attr)).detach()
        return out
