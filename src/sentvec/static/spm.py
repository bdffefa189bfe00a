"""A SentencePiece unigram model (``sp.model``) as a ``tokenizers`` tokenizer.

sentence-transformers' ``StaticEmbedding`` (and our :class:`~sentvec.static.StaticModel`) read a
``tokenizer.json``, so a static model distilled from a SentencePiece teacher (the Universal Sentence
Encoder) needs the teacher's segmentation in that form. The ``sp.model`` file is a protobuf; the few
fields used here are read with a small wire-format reader, so neither ``protobuf`` nor ``sentencepiece``
is needed to convert.

The result keeps the ids, pieces and scores of the SentencePiece model, its normalisation (the
precompiled character map, e.g. ``nmt_nfkc``), its whitespace handling (extra spaces removed, a ``▁``
before the text and each word) and its Viterbi segmentation. Unknown characters become the unknown id
(a run of them one id, as SentencePiece does).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

SPACE = "\u2581"  # "▁": SentencePiece's visible space

# SentencePiece piece types (sentencepiece_model.proto)
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6


@dataclass
class SentencePieceModel:
    """The parts of a SentencePiece model file a converter needs."""

    pieces: list[tuple[str, float, int]]  # (piece, score, type), in id order
    model_type: int = 1  # 1 unigram, 2 BPE, 3 word, 4 char
    unk_id: int = 0
    byte_fallback: bool = False
    precompiled_charsmap: bytes = b""
    add_dummy_prefix: bool = True
    remove_extra_whitespaces: bool = True
    escape_whitespaces: bool = True


def _fields(buffer: bytes) -> Iterator[tuple[int, int, Any]]:  # the value: an int (varint) or bytes
    """(field number, wire type, value) of each field of one protobuf message."""
    position, end = 0, len(buffer)

    def varint() -> int:
        nonlocal position
        result = shift = 0
        while True:
            byte = buffer[position]
            position += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result
            shift += 7

    while position < end:
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            yield number, wire, varint()
        elif wire == 1:
            yield number, wire, buffer[position : position + 8]
            position += 8
        elif wire == 2:
            length = varint()
            yield number, wire, buffer[position : position + length]
            position += length
        elif wire == 5:
            yield number, wire, buffer[position : position + 4]
            position += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")


def read_sentencepiece_model(path: str | os.PathLike[str]) -> SentencePieceModel:
    """Read pieces, trainer and normaliser settings from an ``sp.model`` file."""
    data = Path(path).read_bytes()
    model = SentencePieceModel(pieces=[])
    try:
        for number, wire, value in _fields(data):
            if number == 1 and wire == 2:  # ModelProto.pieces: SentencePiece {piece=1, score=2, type=3}
                piece, score, kind = "", 0.0, NORMAL
                for n, w, v in _fields(value):
                    if n == 1 and w == 2:
                        piece = v.decode("utf-8")
                    elif n == 2 and w == 5:
                        score = struct.unpack("<f", v)[0]
                    elif n == 3 and w == 0:
                        kind = v
                model.pieces.append((piece, score, kind))
            elif number == 2 and wire == 2:  # TrainerSpec
                for n, w, v in _fields(value):
                    if n == 3 and w == 0:
                        model.model_type = v
                    elif n == 40 and w == 0:
                        model.unk_id = v
                    elif n == 35 and w == 0:
                        model.byte_fallback = bool(v)
            elif number == 3 and wire == 2:  # NormalizerSpec
                for n, w, v in _fields(value):
                    if n == 2 and w == 2:
                        model.precompiled_charsmap = bytes(v)
                    elif n == 3 and w == 0:
                        model.add_dummy_prefix = bool(v)
                    elif n == 4 and w == 0:
                        model.remove_extra_whitespaces = bool(v)
                    elif n == 5 and w == 0:
                        model.escape_whitespaces = bool(v)
    except (IndexError, UnicodeDecodeError, struct.error, ValueError) as err:
        raise ValueError(f"{path} is not a readable SentencePiece model ({err})") from None
    if not model.pieces:
        raise ValueError(f"{path} holds no pieces; is it a SentencePiece model file?")
    return model


def sentencepiece_to_tokenizer(path: str | os.PathLike[str]) -> Tokenizer:
    """A ``tokenizers.Tokenizer`` that segments text as the SentencePiece unigram model at ``path`` does.

    Ids equal SentencePiece's. No special tokens are added when encoding (a static model adds none).
    One known difference: the control and unknown pieces (``<s>``, ``</s>``, ``<unk>``) are ordinary
    pieces of the Unigram vocabulary, so a text that spells one out literally gets its id, where
    SentencePiece spells it with other pieces (a static model's rows for them are zero).

    Raises:
        ValueError: the file is not a SentencePiece model, or not a unigram one.
    """
    spm = read_sentencepiece_model(path)
    if spm.model_type != 1:
        raise ValueError(
            f"{path} is a SentencePiece model of type {spm.model_type}; only unigram models (type 1) "
            "convert to a tokenizers Unigram tokenizer"
        )
    if not spm.escape_whitespaces:
        raise ValueError(f"{path} does not escape whitespace; such SentencePiece models are not supported")
    vocab = [(piece, score) for piece, score, _ in spm.pieces]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=spm.unk_id, byte_fallback=spm.byte_fallback))
    steps: list[normalizers.Normalizer] = (
        [normalizers.Precompiled(spm.precompiled_charsmap)] if spm.precompiled_charsmap else []
    )
    if spm.remove_extra_whitespaces:
        # SentencePiece drops leading and trailing spaces and keeps one of each inner run
        steps += [normalizers.Strip(left=True, right=True), normalizers.Replace(Regex(" {2,}"), " ")]
    if steps:
        tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement=SPACE, prepend_scheme="always" if spm.add_dummy_prefix else "never", split=True
    )
    tokenizer.decoder = decoders.Metaspace(
        replacement=SPACE, prepend_scheme="always" if spm.add_dummy_prefix else "never"
    )
    return tokenizer


__all__ = ["SentencePieceModel", "read_sentencepiece_model", "sentencepiece_to_tokenizer"]
