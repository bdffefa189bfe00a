"""The pipeline steps of sparse encoders: a SPLADE model's MLMTransformer (texts -> token logits) and SpladePooling
(token logits -> one weight per vocabulary token), an inference-free model's SparseStaticEmbedding, and a CSR
model's SparseAutoEncoder (a dense sentence embedding -> a sparse code)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal, cast

import safetensors.torch
import torch
from tokenizers import Tokenizer as RustTokenizer
from torch import nn
from torch.nn import functional as F

from sentvec.config import EncoderConfig
from sentvec.encoder import TransformerEncoder, weights
from sentvec.encoder.bert import PackedBatch
from sentvec.layout import UNBOUNDED_LENGTH, encoder_settings
from sentvec.modules import Transformer, registry
from sentvec.paths import read_json, write_json
from sentvec.sparse_encoder.mlm_head import ARCHITECTURE, ENCODER_PREFIX, MaskedLMHead, modern_name
from sentvec.tokenizer import Tokenizer

logger = logging.getLogger(__name__)


class MLMTransformer(Transformer):
    """Tokenizer, encoder and masked-LM head. Sets ``token_embeddings`` to the token logits (B, T, vocab),
    zeros at padding.

    A folder is a Hugging Face ``*ForMaskedLM`` checkpoint (config.json, model.safetensors, tokenizer files),
    with an optional sentence_bert_config.json (``max_seq_length``, ``do_lower_case``).
    """

    head: MaskedLMHead

    @classmethod
    def load(cls, folder: Path, *, allow_pickle: bool = False) -> MLMTransformer:
        """Load the masked-LM encoder, its head and tokenizer from a ``*ForMaskedLM`` folder."""
        config = EncoderConfig.from_dict(read_json(folder / "config.json"))
        max_length, do_lower_case = encoder_settings(folder, config.max_positions)
        tokenizer = Tokenizer.from_folder(folder, max_length=max_length, lowercase=do_lower_case)
        with torch.device("meta"):  # shapes only: the checkpoint supplies every value
            encoder = TransformerEncoder(config)
        state = {modern_name(k): v for k, v in weights.read_checkpoint(folder, allow_pickle=allow_pickle).items()}
        unused = weights.load_into(encoder, config, state)  # drops the head's tensors: loaded below
        module = cast(
            MLMTransformer,
            cls.from_parts(
                encoder, tokenizer, max_seq_length=max_length, do_lower_case=do_lower_case, unused_tensors=unused
            ),
        )
        tied = bool(config.raw.get("tie_word_embeddings", True))
        module.head = MaskedLMHead(config, encoder.embeddings.word if tied else None)
        module.head.load_checkpoint(state)
        return module

    def _adopt(self, loaded: Transformer) -> None:
        """``MLMTransformer(path)``: keep the head :meth:`load` built on the same encoder."""
        self.head = cast(MLMTransformer, loaded).head

    def get_word_embedding_dimension(self) -> int:
        """The vocabulary size: the length of each token's logits."""
        return self.config.vocab_size

    get_embedding_dimension = get_word_embedding_dimension  # Transformer's alias names Transformer's method

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Add ``token_embeddings``: vocabulary logits (B, T, V), zeros at padding."""
        mask = features["attention_mask"]
        token_types = features.get("token_type_ids") if self.config.type_vocab_size else None
        hidden = self.encoder(features["input_ids"], mask, token_types)  # (B, T, C)
        batch = PackedBatch(mask)
        # the head runs on the real tokens only: at vocabulary width padding would cost the most
        features["token_embeddings"] = batch.unpack(self.head(batch.pack(hidden)))  # (B, T, V)
        return features

    def save(self, folder: str | Path, *args: Any, **kwargs: Any) -> None:
        """Write the folder as ``*ForMaskedLM`` (encoder under its family prefix, then the head), which
        ``transformers`` and sentence-transformers load."""
        folder = Path(folder)
        family = self.config.family
        raw = {**self.config.raw, "architectures": [ARCHITECTURE[family]]}
        write_json(folder / "config.json", raw)
        state = weights.to_checkpoint_names(family, self.encoder.state_dict())
        state = {ENCODER_PREFIX[family] + k: v for k, v in state.items()}
        state.update({ENCODER_PREFIX[family] + k: v for k, v in self.unused_tensors.items()})
        state.update(self.head.checkpoint_state())
        safetensors.torch.save_file(
            {k: v.detach().contiguous().cpu() for k, v in state.items()},
            str(folder / "model.safetensors"),
            metadata={"format": "pt"},
        )
        self.tokenizer.save(folder)
        write_json(
            folder / "sentence_bert_config.json",
            {"max_seq_length": self.max_seq_length, "do_lower_case": self.do_lower_case},
        )


PoolingStrategy = Literal["max", "sum"]
Activation = Literal["relu", "log1p_relu"]


class SpladePooling(nn.Module):
    """SPLADE pooling: ``log(1 + relu(logit))`` per token and vocabulary entry, then the max (SPLADE v2 and
    later) or the sum (the first SPLADE) over the text's tokens. ``log1p_relu`` applies log1p twice
    (OpenSearch's models). Sets ``sentence_embedding`` (B, vocab): non-negative, mostly zeros.
    """

    POOLING = ("max", "sum")
    ACTIVATIONS = ("relu", "log1p_relu")

    def __init__(
        self,
        pooling_strategy: PoolingStrategy = "max",
        activation_function: Activation = "relu",
        embedding_dimension: int | None = None,
    ) -> None:
        super().__init__()
        if pooling_strategy not in self.POOLING:
            raise ValueError(f"pooling_strategy={pooling_strategy!r}; choose from {', '.join(self.POOLING)}")
        if activation_function not in self.ACTIVATIONS:
            raise ValueError(f"activation_function={activation_function!r}; choose from {', '.join(self.ACTIVATIONS)}")
        self.pooling_strategy = pooling_strategy
        self.activation_function = activation_function
        self.embedding_dimension = embedding_dimension

    def forward(self, features: dict[str, Any]) -> dict[str, Any]:
        """Pool the token logits into one sparse-able ``sentence_embedding`` (B, V) per text."""
        logits = features["token_embeddings"]  # (B, T, V)
        mask = features["attention_mask"]  # (B, T)
        if self.pooling_strategy == "max":
            # relu and log1p never change which value is largest, so they run on the (B, V) maxima rather than
            # on every (B, T, V) logit: the same numbers, without three copies of a vocabulary-wide tensor
            pooled = self._activate(_max_over_tokens(logits, mask))
        else:  # relu(0) = 0: a padding position, zeroed, adds nothing
            pooled = self._activate(logits * mask.unsqueeze(-1).to(logits.dtype)).sum(dim=1)
        features["sentence_embedding"] = pooled  # (B, V)
        return features

    def _activate(self, logits: torch.Tensor) -> torch.Tensor:
        weights = torch.log1p(torch.relu(logits))
        return torch.log1p(weights) if self.activation_function == "log1p_relu" else weights

    def get_sentence_embedding_dimension(self) -> int | None:
        """The vocabulary size: the length of every vector."""
        return self.embedding_dimension

    get_embedding_dimension = get_sentence_embedding_dimension

    def save(self, folder: Path) -> None:
        """Write ``config.json`` (strategy, activation, size) into ``folder``."""
        write_json(
            folder / "config.json",
            {
                "pooling_strategy": self.pooling_strategy,
                "activation_function": self.activation_function,
                "embedding_dimension": self.embedding_dimension,
            },
        )

    @classmethod
    def load(cls, folder: Path) -> SpladePooling:
        """Load the step from the ``config.json`` in ``folder``."""
        config = read_json(folder / "config.json", required=False)
        dimension = config.get("embedding_dimension", config.get("word_embedding_dimension"))
        return cls(config.get("pooling_strategy", "max"), config.get("activation_function", "relu"), dimension)

    def extra_repr(self) -> str:
        """Strategy and activation, for ``repr``."""
        return f"pooling_strategy={self.pooling_strategy!r}, activation_function={self.activation_function!r}"


def _max_over_tokens(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Each text's largest logit per vocabulary entry (B, V) over its real tokens only. Right-padded batches (our
    tokenizers') take each row's leading slice, a view; any other mask zeroes the padding first (a 0 there
    changes nothing after relu). ``max``, not ``amax``: of tied tokens the first gets the whole gradient, as in
    the reference (amax would share it; ties are real where a vocabulary row is zero, e.g. [PAD]'s)."""
    lengths = mask.sum(dim=1)  # (B,)
    positions = torch.arange(mask.shape[1], device=mask.device)
    if not torch.equal(mask.bool(), positions < lengths.unsqueeze(1)):
        return (logits * mask.unsqueeze(-1).to(logits.dtype)).max(dim=1).values
    rows = [
        logits[row, :n].max(dim=0).values if n else logits.new_zeros(logits.shape[2])
        for row, n in enumerate(lengths.tolist())
    ]
    return torch.stack(rows) if rows else logits.new_zeros((0, logits.shape[2]))


class SparseStaticEmbedding(nn.Module):
    """The query side of an inference-free sparse encoder: one learned weight per vocabulary token, no Transformer.

    A text's vector holds, for each vocabulary token it contains (special tokens not added), that token's
    weight; every other entry is zero. Sets ``sentence_embedding`` (B, vocab); when a step before it already
    set one, the two multiply. Paired in a :class:`~sentvec.modules.Router` with a document route of
    :class:`MLMTransformer` + :class:`SpladePooling`, queries cost one tokenisation and a table lookup.

    A folder holds ``config.json`` (``frozen``), ``model.safetensors`` (``weight``: (vocab,)) and the tokenizer
    files: sentence-transformers' ``SparseStaticEmbedding`` folder.

    Args:
        tokenizer: a :class:`~sentvec.tokenizer.Tokenizer` (e.g. the document side's, copied here) or a
            ``tokenizers.Tokenizer``; its ids index ``weight``.
        weight: (vocab,) token weights (IDF-like); None starts from ones.
        frozen: keep ``weight`` out of training.
    """

    def __init__(
        self, tokenizer: Tokenizer | RustTokenizer, weight: torch.Tensor | None = None, frozen: bool = False
    ) -> None:
        super().__init__()
        self.tokenizer = _own_tokenizer(tokenizer)
        size = self.tokenizer._tokenizer.get_vocab_size(with_added_tokens=True)
        if weight is None:
            weight = torch.ones(size)
        if weight.dim() != 1 or weight.shape[0] < size:
            raise ValueError(
                f"weight has shape {tuple(weight.shape)}; it must be one weight per vocabulary token: ({size},)"
            )
        self.weight = nn.Parameter(weight.detach().float().clone(), requires_grad=not frozen)
        self.frozen = frozen

    @property
    def num_dimensions(self) -> int:
        """The vocabulary size: the length of every vector."""
        return self.weight.shape[0]

    @property
    def max_seq_length(self) -> int:
        """Longer texts are cut to this many tokens (the tokenizer's ``model_max_length``). Settable."""
        return self.tokenizer.max_length

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        self.tokenizer.max_length = value

    def get_sentence_embedding_dimension(self) -> int:
        """The vocabulary size (the sentence-transformers < 6 name)."""
        return self.num_dimensions

    get_embedding_dimension = get_sentence_embedding_dimension

    def preprocess(self, inputs: list[str], prompt: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """:meth:`tokenize` with ``prompt`` put before each text."""
        return self.tokenize([prompt + text for text in inputs] if prompt else list(inputs))

    def tokenize(self, texts: list[str], **kwargs: Any) -> dict[str, Any]:
        """Token ids (no special tokens), attention mask and ``truncated`` flags, padded to the longest text."""
        return self.tokenizer.collate(self.tokenizer.encode(texts, add_special_tokens=False))

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Add ``sentence_embedding`` (B, vocab): each present token's weight, zeros elsewhere."""
        ids, mask = features["input_ids"], features["attention_mask"]
        present = torch.zeros(ids.shape[0], self.num_dimensions, dtype=mask.dtype, device=ids.device)
        # amax: padding (mask 0) never clears a token the text has, whatever order duplicates land in
        present.scatter_reduce_(1, ids, mask, reduce="amax")  # (B, V) 0/1
        embeddings = present.to(self.weight.dtype) * self.weight
        if features.get("sentence_embedding") is not None:
            embeddings = embeddings * features["sentence_embedding"]
        features["sentence_embedding"] = embeddings
        return features

    def save(self, folder: str | Path, *args: Any, **kwargs: Any) -> None:
        """Write ``config.json``, ``model.safetensors`` (``weight``) and the tokenizer files."""
        folder = Path(folder)
        self.tokenizer.save(folder)
        if not (folder / "tokenizer_config.json").is_file():  # so that `transformers` knows the pad token
            write_json(
                folder / "tokenizer_config.json",
                {
                    "tokenizer_class": "PreTrainedTokenizerFast",
                    "pad_token": self.tokenizer.pad_token,
                    "model_max_length": self.max_seq_length,
                },
            )
        safetensors.torch.save_file(
            {"weight": self.weight.detach().contiguous().cpu()},
            str(folder / "model.safetensors"),
            metadata={"format": "pt"},
        )
        write_json(folder / "config.json", {"frozen": self.frozen})

    @classmethod
    def load(cls, folder: str | Path, *args: Any, **kwargs: Any) -> SparseStaticEmbedding:
        """Read the step from ``folder`` (safetensors only)."""
        folder = Path(folder)
        config = read_json(folder / "config.json", required=False, expect=dict)
        if isinstance(config.get("path"), str):
            raise ValueError(
                f"{folder / 'config.json'} takes its weights from {config['path']!r}; sentvec reads them from "
                "model.safetensors only (load and re-save the model with sentence-transformers)"
            )
        if not (folder / "model.safetensors").is_file():
            raise FileNotFoundError(f"{folder} has no model.safetensors with the token weights")
        state = safetensors.torch.load_file(str(folder / "model.safetensors"))
        if set(state) != {"weight"}:
            raise ValueError(
                f"{folder / 'model.safetensors'} holds {sorted(state)}; a SparseStaticEmbedding holds 'weight'"
            )
        limit = read_json(folder / "tokenizer_config.json", required=False, expect=dict).get("model_max_length")
        length = (
            limit
            if isinstance(limit, int) and not isinstance(limit, bool) and 0 < limit <= UNBOUNDED_LENGTH
            else UNBOUNDED_LENGTH
        )
        tokenizer = Tokenizer.from_folder(folder, max_length=length)
        return cls(tokenizer, state["weight"], frozen=bool(config.get("frozen", False)))

    def extra_repr(self) -> str:
        """Vocabulary size and whether the weights train, for ``repr``."""
        return f"dim={self.num_dimensions}, frozen={self.frozen}"


def _own_tokenizer(tokenizer: Tokenizer | RustTokenizer) -> Tokenizer:
    """A copy of ``tokenizer`` this step alone changes (its truncation must not reach the document side)."""
    if isinstance(tokenizer, Tokenizer):
        rust = RustTokenizer.from_str(tokenizer._tokenizer.to_str())
        copy = Tokenizer(rust, tokenizer.pad_token, max_length=tokenizer.max_length, lowercase=tokenizer.lowercase)
        copy._files = dict(tokenizer._files)
        return copy
    if isinstance(tokenizer, RustTokenizer):
        pad = next((t for t in ("[PAD]", "<pad>") if tokenizer.token_to_id(t) is not None), None)
        if pad is None:
            raise ValueError("the tokenizer has no [PAD] or <pad> token; pass a sentvec Tokenizer naming its pad token")
        return Tokenizer(RustTokenizer.from_str(tokenizer.to_str()), pad, max_length=UNBOUNDED_LENGTH)
    raise TypeError(
        f"SparseStaticEmbedding takes a sentvec Tokenizer or a tokenizers.Tokenizer, not {type(tokenizer).__name__}"
    )


class SparseAutoEncoder(nn.Module):
    """CSR (sparse coding, "Beyond Matryoshka", arXiv 2503.01776): a dense ``sentence_embedding`` -> a code of
    ``hidden_dim`` dimensions of which at most ``k`` are non-zero, put on top of a SentenceTransformer's steps.

    The code is ``relu(top_k(W (x - pre_bias) + latent_bias))``, with x standardised first (mean 0, standard
    deviation 1 over its dimensions) when ``normalize``. ``W`` (hidden_dim, input_dim) is the encoder, and its
    transpose the tied decoder that training reconstructs the input with. Outside inference mode the forward pass
    also gives what :class:`~sentvec.sparse_encoder.losses.CSRLoss` needs (see :meth:`forward`), and in training
    mode with gradients it counts, per latent, the steps since it was last active (``stats_last_nonzero``):
    latents idle for more than ``dead_threshold`` steps are "dead" and feed the auxiliary reconstruction.

    A folder holds ``config.json`` (the constructor's arguments) and ``model.safetensors`` (``pre_bias``,
    ``latent_bias``, ``stats_last_nonzero`` and ``W`` as ``decoder.linear.weight``, the name
    sentence-transformers writes; ``encoder.weight`` is read too): sentence-transformers' ``SparseAutoEncoder``.

    Args:
        input_dim: the size of the dense embeddings it takes.
        hidden_dim: the size of the sparse code.
        k: non-zero values kept per code (the largest); ``encode(max_active_dims=...)`` overrides it.
        k_aux: how many dead latents the auxiliary reconstruction uses (training only; 0: none).
        normalize: standardise each input embedding first.
        dead_threshold: steps without being active after which a latent counts as dead (training only).
    """

    config_keys = ("input_dim", "hidden_dim", "k", "k_aux", "normalize", "dead_threshold")
    forward_kwargs = {"max_active_dims"}

    def __init__(
        self,
        input_dim: int,
        hidden_dim: int = 512,
        k: int = 8,
        k_aux: int = 512,
        normalize: bool = False,
        dead_threshold: int = 30,
    ) -> None:
        super().__init__()
        _check_autoencoder_config(
            {
                "input_dim": input_dim,
                "hidden_dim": hidden_dim,
                "k": k,
                "k_aux": k_aux,
                "normalize": normalize,
                "dead_threshold": dead_threshold,
            },
            "SparseAutoEncoder",
        )
        self.input_dim = input_dim
        self.hidden_dim = hidden_dim
        self.k = k
        self.k_aux = k_aux
        self.normalize = normalize
        self.dead_threshold = dead_threshold
        self.pre_bias = nn.Parameter(torch.zeros(input_dim))
        self.encoder = nn.Linear(input_dim, hidden_dim, bias=False)
        self.latent_bias = nn.Parameter(torch.zeros(hidden_dim))
        # steps since each latent was last among the top k (the reference's dead-latent bookkeeping)
        self.stats_last_nonzero: torch.Tensor
        self.register_buffer("stats_last_nonzero", torch.zeros(hidden_dim, dtype=torch.long))

    def get_sentence_embedding_dimension(self) -> int:
        """``hidden_dim``: the length of every code (at most ``k`` of its values are non-zero)."""
        return self.hidden_dim

    get_embedding_dimension = get_sentence_embedding_dimension

    def forward(self, features: dict[str, Any], max_active_dims: int | None = None, **kwargs: Any) -> dict[str, Any]:
        """Replace ``sentence_embedding`` (B, input_dim) by its sparse code (B, hidden_dim), keeping the
        ``max_active_dims`` (default ``k``) largest pre-activations, then relu.

        Outside ``torch.inference_mode`` (training, a loss) it also sets, as sentence-transformers' does:
        ``sentence_embedding_backbone`` (the input), ``sentence_embedding_encoded`` (the pre-activations),
        ``sentence_embedding_encoded_4k`` (the code with 4k values kept), ``auxiliary_embedding`` (the code of
        the ``k_aux`` largest dead latents, or None), ``decoded_embedding_k`` / ``_4k`` / ``_aux`` (those codes
        decoded back to input_dim) and ``decoded_embedding_k_pre_bias`` (the k decoding less its bias).
        """
        x = features["sentence_embedding"]
        k = min(self.k if max_active_dims is None else max_active_dims, self.hidden_dim)
        if torch.is_inference_mode_enabled():
            prepared = _standardise(x) if self.normalize else x
            features["sentence_embedding"] = self._top_k(self._pre_activations(prepared), k)
            return features
        mean = std = None
        prepared = x
        if self.normalize:
            mean = x.mean(dim=-1, keepdim=True)
            std = (x - mean).std(dim=-1, keepdim=True)
            prepared = (x - mean) / (std + 1e-5)
        pre = self._pre_activations(prepared)  # (B, hidden_dim)
        codes_k = self._top_k(pre, k, count=True)
        codes_aux = None
        if self.k_aux:  # the dead latents' code, after this batch's top k counted as active
            dead = (self.stats_last_nonzero > self.dead_threshold).to(pre.dtype)
            codes_aux = self._top_k(pre * dead, min(self.k_aux, self.hidden_dim))
        codes_4k = self._top_k(pre, min(4 * k, self.hidden_dim), count=True)  # counted too, as the reference does

        def decode(codes: torch.Tensor) -> torch.Tensor:
            return codes @ self.encoder.weight + self.pre_bias  # the tied decoder: (B, input_dim)

        decoded_k, decoded_4k = decode(codes_k), decode(codes_4k)
        decoded_aux = decode(codes_aux) if codes_aux is not None else None
        bias: torch.Tensor = self.pre_bias
        if std is not None:  # undo the standardisation (the auxiliary decoding only rescaled)
            decoded_k, decoded_4k = decoded_k * std + mean, decoded_4k * std + mean
            bias = bias * std
            decoded_aux = decoded_aux * std if decoded_aux is not None else None
        features.update(
            {
                "sentence_embedding_backbone": x,
                "sentence_embedding_encoded": pre,
                "sentence_embedding_encoded_4k": codes_4k,
                "auxiliary_embedding": codes_aux,
                "decoded_embedding_k": decoded_k,
                "decoded_embedding_4k": decoded_4k,
                "decoded_embedding_aux": decoded_aux,
                "decoded_embedding_k_pre_bias": decoded_k - bias,
                "sentence_embedding": codes_k,
            }
        )
        return features

    def _pre_activations(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x - self.pre_bias, self.encoder.weight, self.latent_bias)  # (B, hidden_dim)

    def _top_k(self, pre: torch.Tensor, k: int, count: bool = False) -> torch.Tensor:
        """relu of the k largest pre-activations per row, zeros elsewhere. ``count``: in training with gradients,
        latents active here (above 1e-5) restart their idle count; every count then grows by one step."""
        top = torch.topk(pre, k, dim=-1)
        if count and self.training and torch.is_grad_enabled():
            active = torch.zeros_like(self.stats_last_nonzero)
            active.scatter_add_(0, top.indices.reshape(-1), (top.values > 1e-5).to(active.dtype).reshape(-1))
            self.stats_last_nonzero *= 1 - active.clamp(max=1)
            self.stats_last_nonzero += 1
        return torch.relu(torch.zeros_like(pre).scatter_(-1, top.indices, top.values))

    def get_config_dict(self) -> dict[str, Any]:
        """The settings ``config.json`` holds."""
        return {key: getattr(self, key) for key in self.config_keys}

    def save(self, folder: str | Path, *args: Any, **kwargs: Any) -> None:
        """Write ``config.json`` and ``model.safetensors`` into ``folder`` (safetensors only)."""
        folder = Path(folder)
        write_json(folder / "config.json", self.get_config_dict())
        state = {
            "pre_bias": self.pre_bias,
            "latent_bias": self.latent_bias,
            "stats_last_nonzero": self.stats_last_nonzero,
            _WRITTEN_WEIGHT: self.encoder.weight,
        }
        safetensors.torch.save_file(
            {k: v.detach().contiguous().cpu() for k, v in state.items()},
            str(folder / "model.safetensors"),
            metadata={"format": "pt"},
        )

    @classmethod
    def load(cls, folder: str | Path, *args: Any, **kwargs: Any) -> SparseAutoEncoder:
        """Read the step from ``folder``: the config is checked, then every tensor's name and shape against it
        before anything is allocated. Config keys this version does not know are dropped with a warning."""
        folder = Path(folder)
        config_file, weights_file = folder / "config.json", folder / "model.safetensors"
        config = read_json(config_file, expect=dict)
        unknown = sorted(set(config) - set(cls.config_keys))
        if unknown:
            logger.warning(
                "%s: ignoring SparseAutoEncoder config keys this version does not know: %s", config_file, unknown
            )
        config = {k: v for k, v in config.items() if k in cls.config_keys}
        if "input_dim" not in config:
            raise ValueError(f"{config_file} has no input_dim; a SparseAutoEncoder config names its input size")
        _check_autoencoder_config({**_AUTOENCODER_DEFAULTS, **config}, str(config_file))
        if not weights_file.is_file():
            hint = (
                " (a pickle file: re-save the model with safetensors)"
                if (folder / "pytorch_model.bin").exists()
                else ""
            )
            raise FileNotFoundError(f"{folder} has no model.safetensors with the SparseAutoEncoder's weights{hint}")
        shapes = weights.safetensors_shapes(weights_file)
        module_config = {**_AUTOENCODER_DEFAULTS, **config}
        hidden, width = module_config["hidden_dim"], module_config["input_dim"]
        weight_names = sorted(set(shapes) & set(_WEIGHT_NAMES))
        if len(weight_names) != 1:
            raise ValueError(
                f"{weights_file} holds {sorted(shapes)}; a SparseAutoEncoder holds its encoder weight once, as "
                f"one of {list(_WEIGHT_NAMES)}"
            )
        expected = {
            "pre_bias": (width,),
            "latent_bias": (hidden,),
            "stats_last_nonzero": (hidden,),
            weight_names[0]: (hidden, width),
        }
        extra = sorted(set(shapes) - set(expected))
        missing = sorted(set(expected) - set(shapes) - {"stats_last_nonzero"})  # statistics: training bookkeeping
        if extra or missing:
            raise ValueError(
                f"{weights_file} holds {sorted(shapes)}; a SparseAutoEncoder holds {sorted(expected)} "
                f"(unexpected: {extra}, missing: {missing})"
            )
        for name, shape in expected.items():
            if name in shapes and tuple(shapes[name]) != shape:
                raise ValueError(
                    f"{config_file} does not match {weights_file}: input_dim={width} and hidden_dim={hidden} imply "
                    f"{name!r} of shape {shape}, the weights hold {tuple(shapes[name])}"
                )
        state = weights.load_weights_file(weights_file)
        state["encoder.weight"] = state.pop(weight_names[0])
        state.setdefault("stats_last_nonzero", torch.zeros(hidden, dtype=torch.long))
        with torch.device("meta"):  # shapes only: the weights file supplies every value
            module = cls(**module_config)
        module.load_state_dict(state, assign=True)
        return module

    def extra_repr(self) -> str:
        """Sizes, k and normalisation, for ``repr``."""
        return (
            f"input_dim={self.input_dim}, hidden_dim={self.hidden_dim}, k={self.k}, k_aux={self.k_aux}, "
            f"normalize={self.normalize}"
        )


# sentence-transformers writes the encoder weight under its tied decoder's name (safetensors keeps one name of
# two that share memory, the first in sorted order); either name reads back there
_WRITTEN_WEIGHT = "decoder.linear.weight"
_WEIGHT_NAMES = (_WRITTEN_WEIGHT, "encoder.weight")
_AUTOENCODER_DEFAULTS: dict[str, Any] = {
    "hidden_dim": 512,
    "k": 8,
    "k_aux": 512,
    "normalize": False,
    "dead_threshold": 30,
}


def _check_autoencoder_config(config: dict[str, Any], where: str) -> None:
    """ValueError naming ``where`` and the setting when a SparseAutoEncoder setting is out of range."""
    for key, least in (("input_dim", 1), ("hidden_dim", 1), ("k", 1), ("k_aux", 0), ("dead_threshold", 0)):
        value = config[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise ValueError(f"{where} has {key}={value!r}; it must be an integer of at least {least}")
    if not isinstance(config["normalize"], bool):
        raise ValueError(f"{where} has normalize={config['normalize']!r}; it must be true or false")
    if config["k"] > config["hidden_dim"]:
        raise ValueError(
            f"{where} has k={config['k']} and hidden_dim={config['hidden_dim']}: k non-zero values cannot be kept "
            "in a code of hidden_dim values; lower k or raise hidden_dim"
        )


def _standardise(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Each row minus its mean, over its (unbiased) standard deviation plus ``eps``: the reference's ``normalize``."""
    centred = x - x.mean(dim=-1, keepdim=True)
    return centred / (centred.std(dim=-1, keepdim=True) + eps)


# modules.json / router_config.json "type" -> our class: a closed list (sentence-transformers v5 and v6 names),
# added to the registry every model folder is read through (sentvec.modules.registry)
MODULE_TYPES: dict[str, type[nn.Module]] = {
    f"sentence_transformers.sparse_encoder.{path}": cls
    for cls, snake in (
        (MLMTransformer, "mlm_transformer"),
        (SpladePooling, "splade_pooling"),
        (SparseStaticEmbedding, "sparse_static_embedding"),
        (SparseAutoEncoder, "sparse_auto_encoder"),
    )
    for path in (f"models.{cls.__name__}", f"modules.{cls.__name__}", f"modules.{snake}.{cls.__name__}")
}
# what save() writes: the v5 names, which sentence-transformers 5 and 6 both resolve
TYPE_NAMES: dict[type[nn.Module], str] = {
    cls: f"sentence_transformers.sparse_encoder.models.{cls.__name__}"
    for cls in (MLMTransformer, SpladePooling, SparseStaticEmbedding, SparseAutoEncoder)
}
registry.MODULE_TYPES.update(MODULE_TYPES)
registry.TYPE_NAMES.update(TYPE_NAMES)
registry.LOAD_OPTIONS[MLMTransformer] = ("allow_pickle",)
