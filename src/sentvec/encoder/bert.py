"""Our Transformer encoder: BERT and the families built like it, read top-down.

Embeddings -> self-attention -> feed-forward -> layer -> encoder. One implementation serves BERT,
RoBERTa, XLM-RoBERTa, MPNet and DistilBERT: they are the same post-LayerNorm encoder and differ only
in how positions are counted, whether token types exist, and (MPNet) a relative position bias added
to the attention scores. Those differences are fields of :class:`~sentvec.config.EncoderConfig`.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from sentvec.config import EncoderConfig
from sentvec.encoder.mpnet import RelativePositionBias

_ACTIVATIONS = {
    "gelu": nn.GELU(),
    "gelu_new": nn.GELU(approximate="tanh"),
    "gelu_pytorch_tanh": nn.GELU(approximate="tanh"),
    "relu": nn.ReLU(),
    "silu": nn.SiLU(),
    "swish": nn.SiLU(),
}


def position_ids_for(input_ids: Tensor, config: EncoderConfig) -> Tensor:
    """Position of each token: 0..T-1, or (RoBERTa, MPNet) pad_id+1.. counting only non-padding tokens."""
    if config.position_style == "absolute":
        return torch.arange(input_ids.shape[1], device=input_ids.device).expand_as(input_ids)
    not_pad = input_ids.ne(config.pad_token_id).int()
    return torch.cumsum(not_pad, dim=1) * not_pad + config.pad_token_id


def packed_rows(tokens: int) -> int:
    """The row count a packed batch of ``tokens`` real tokens is padded to: eight sizes per power of two.

    oneDNN (torch's CPU kernels for GELU and others) compiles and caches a kernel per tensor shape, up to
    1024 of them; packed batches of every possible token count would fill that cache during a long index
    build and grow the process's memory with it. Rounding up to one of eight sizes per octave (at most
    12.5% padding, 8 rows at least) keeps the shapes a build meets to about a hundred.
    """
    step = max(8, 1 << max(0, tokens.bit_length() - 4))
    return -(-tokens // step) * step


class PackedBatch:
    """Where the real tokens of a padded (B, T) batch sit, so that every position-wise layer can run on
    the (N, C) real tokens alone and padding costs nothing outside attention.

    Working on packed tokens also makes the result of a text independent of what else is in its
    batch: the linear layers see the same rows whatever the padding. The packed rows are padded up to
    :func:`packed_rows` with copies of the first real token; :meth:`unpack` drops them, and attention
    runs on the unpacked (B, T) tokens, so they never reach a result.
    """

    def __init__(self, attention_mask: Tensor, *, pack: bool = True) -> None:
        self.batch, self.length = attention_mask.shape
        self.index: Tensor | None = None  # (N',): the row each packed row is read from; None: all, in order
        self.tokens = self.batch * self.length  # N: the real tokens among the packed rows
        # pack=False keeps padding rows (masked out by attention and pooling): graph exporters such as
        # ONNX need shapes that do not depend on the data.
        if not pack:
            return
        real = attention_mask.flatten().nonzero().squeeze(1)  # (N,)
        self.tokens = len(real)
        rows = packed_rows(self.tokens) if self.tokens else 0
        if rows == self.batch * self.length and self.tokens == rows:
            return
        self.index = torch.cat([real, real[:1].expand(rows - self.tokens)]) if rows > self.tokens else real

    def pack(self, x: Tensor) -> Tensor:
        """(B, T, ...) -> (N', ...): the real tokens, in order, then the bucket's filler rows."""
        flat = x.reshape(self.batch * self.length, *x.shape[2:])
        return flat if self.index is None else flat.index_select(0, self.index)

    def unpack(self, x: Tensor) -> Tensor:
        """(N', F) -> (B, T, F), zeros at padding; the filler rows are dropped."""
        if self.index is not None:
            real = self.index[: self.tokens]
            x = x.new_zeros(self.batch * self.length, x.shape[-1]).index_copy(0, real, x[: self.tokens])
        return x.view(self.batch, self.length, x.shape[-1])


def _table(rows: int, dim: int) -> nn.Embedding:
    """An embedding table left uninitialised: the checkpoint fills it (weights.load_into). Its random
    init would be wasted work, and on the meta device it imports torch's compiler (seconds of load time)."""
    return nn.Embedding(rows, dim, _weight=torch.empty(rows, dim))


class Embeddings(nn.Module):
    """Token + position (+ token type) embeddings, then LayerNorm and dropout; on packed tokens."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.word = _table(config.vocab_size, config.hidden_size)
        self.position = _table(config.max_position_embeddings, config.hidden_size)
        self.token_type = _table(config.type_vocab_size, config.hidden_size) if config.type_vocab_size else None
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout)

    def forward(self, input_ids: Tensor, position_ids: Tensor, token_type_ids: Tensor | None) -> Tensor:
        """Packed token ids, position ids and token type ids (N,) -> normalised embeddings (N, C)."""
        x = self.word(input_ids) + self.position(position_ids)  # (N, C)
        if self.token_type is not None:
            x = x + self.token_type(token_type_ids if token_type_ids is not None else torch.zeros_like(input_ids))
        return self.dropout(self.norm(x))


class SelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention with an additive score bias (padding mask and
    MPNet's relative positions). Query, key and value come from one fused projection."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.num_heads = config.num_heads
        self.head_dim = config.head_dim
        self.qkv = nn.Linear(config.hidden_size, 3 * config.hidden_size)
        self.out = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout_p = config.attention_dropout

    def forward(self, x: Tensor, score_bias: Tensor, batch: PackedBatch) -> Tensor:
        """Self-attention of packed hidden states (N, C); ``score_bias`` (B or 1, H, T, T) masks padding
        (and adds MPNet's relative position bias). Returns the attention output (N, C)."""
        qkv = batch.unpack(self.qkv(x))  # (B, T, 3C)
        B, T, _ = qkv.shape
        q, k, v = qkv.view(B, T, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)  # each (B, H, T, D)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=score_bias, dropout_p=self.dropout_p if self.training else 0.0
        )
        return self.out(batch.pack(y.transpose(1, 2).reshape(B, T, -1)))  # (N, C)


class FeedForward(nn.Module):
    """Position-wise two-layer MLP: hidden -> intermediate -> activation -> hidden."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        if config.hidden_act not in _ACTIVATIONS:
            raise ValueError(f"config.json asks for activation {config.hidden_act!r}; sentvec has {list(_ACTIVATIONS)}")
        self.up = nn.Linear(config.hidden_size, config.intermediate_size)
        self.act = _ACTIVATIONS[config.hidden_act]
        self.down = nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, x: Tensor) -> Tensor:
        """Packed hidden states (N, C) through up, activation, down: (N, C) out."""
        return self.down(self.act(self.up(x)))


class EncoderLayer(nn.Module):
    """Attention and feed-forward, each followed by dropout, a residual and LayerNorm (post-LN)."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.attention = SelfAttention(config)
        self.attention_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.feed_forward = FeedForward(config)
        self.output_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout)

    def forward(self, x: Tensor, score_bias: Tensor, batch: PackedBatch) -> Tensor:
        """One post-LayerNorm layer: attention + residual + norm, feed-forward + residual + norm; (N, C) -> (N, C)."""
        x = self.attention_norm(x + self.dropout(self.attention(x, score_bias, batch)))
        return self.output_norm(x + self.dropout(self.feed_forward(x)))


class TransformerEncoder(nn.Module):
    """The whole encoder: token ids in, one contextual vector per token out.

    ``forward(input_ids, attention_mask, token_type_ids)`` returns the last hidden state, shape
    (batch, tokens, hidden_size), with zeros at padding positions (``pack=False``: unspecified values
    there, for graph export).
    """

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = Embeddings(config)
        self.layers = nn.ModuleList(EncoderLayer(config) for _ in range(config.num_layers))
        # Set (to torch.utils.checkpoint's keyword arguments): training recomputes each layer in backward.
        self.checkpoint_kwargs: dict[str, Any] | None = None
        self.relative_bias = (
            RelativePositionBias(config.relative_attention_num_buckets, config.num_heads)
            if config.relative_attention_num_buckets
            else None
        )

    def forward(
        self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor | None = None, *, pack: bool = True
    ) -> Tensor:
        """Token ids and attention mask (B, T) -> token embeddings (B, T, C), zeros at padding positions."""
        return self.hidden_states(input_ids, attention_mask, token_type_ids, pack=pack, every_layer=False)[-1]

    def hidden_states(
        self,
        input_ids: Tensor,
        attention_mask: Tensor,
        token_type_ids: Tensor | None = None,
        *,
        pack: bool = True,
        every_layer: bool = True,
    ) -> list[Tensor]:
        """The embedding layer's output then each layer's, (B, T, C) each (``num_layers + 1`` tensors, as
        Hugging Face's ``hidden_states``); ``every_layer=False``: the last layer's only (what :meth:`forward`
        returns), without unpacking the others."""
        batch = PackedBatch(attention_mask, pack=pack)
        x = self.embeddings(
            batch.pack(input_ids),
            batch.pack(position_ids_for(input_ids, self.config)),
            None if token_type_ids is None else batch.pack(token_type_ids),
        )  # (N, C)
        states = [batch.unpack(x)] if every_layer else []
        dtype = x.dtype
        # Padding keys get the most negative score, so softmax gives them zero weight.
        score_bias = (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min  # (B, 1, 1, T)
        if self.relative_bias is not None:
            score_bias = score_bias + self.relative_bias(input_ids.shape[1], x.device).to(dtype)  # (B, H, T, T)
        recompute = self.checkpoint_kwargs is not None and self.training and torch.is_grad_enabled()
        for layer in self.layers:
            if recompute:
                x = checkpoint(layer, x, score_bias, batch, **(self.checkpoint_kwargs or {}))
            else:
                x = layer(x, score_bias, batch)
            if every_layer:
                states.append(batch.unpack(x))
        return states if every_layer else [batch.unpack(x)]
