"""A thin layer over ``tokenizers.Tokenizer``: texts in, padded id tensors out, truncation visible."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Encoding
from tokenizers import Tokenizer as _RustTokenizer
from torch import Tensor

from sentvec.paths import read_json

# Files that describe a tokenizer; copied verbatim when a model is saved so other libraries read them.
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "sentencepiece.bpe.model",
    "spiece.model",
    "added_tokens.json",
)


class Tokenizer:
    """Turns a batch of texts into ``input_ids``, ``attention_mask`` and ``token_type_ids`` tensors.

    Texts longer than ``max_length`` tokens are truncated (as in sentence-transformers); the
    ``truncated`` entry of the output says which ones were.
    """

    def __init__(self, tokenizer: _RustTokenizer, pad_token: str, *, max_length: int, lowercase: bool = False) -> None:
        pad_id = tokenizer.token_to_id(pad_token)
        if pad_id is None:
            raise ValueError(f"the pad token {pad_token!r} is not in the tokenizer's vocabulary")
        self._tokenizer = tokenizer
        self.pad_token = pad_token
        self.pad_id = pad_id
        self.lowercase = lowercase
        self._files: dict[str, bytes] = {}  # file name -> contents, kept so save() works after the folder is gone
        self.max_length = max_length

    @property
    def max_length(self) -> int:
        return self._max_length

    @max_length.setter
    def max_length(self, value: int) -> None:
        self._max_length = value
        # tokenizer.json may carry its own truncation and padding settings; ours replace them.
        # Padding is ours too (see collate), so texts can be tokenized once and batched later.
        self._tokenizer.enable_truncation(max_length=value)
        self._tokenizer.no_padding()

    @classmethod
    def from_folder(cls, folder: Path, *, max_length: int, lowercase: bool = False) -> Tokenizer:
        """Load ``tokenizer.json`` (or, for BERT-style models, ``vocab.txt``) from a model folder."""
        settings = read_json(folder / "tokenizer_config.json", required=False)
        special = read_json(folder / "special_tokens_map.json", required=False)
        if (folder / "tokenizer.json").is_file():
            try:
                rust = _RustTokenizer.from_file(str(folder / "tokenizer.json"))
            except Exception as err:  # the Rust side raises a bare Exception for bad files
                raise ValueError(f"{folder / 'tokenizer.json'} could not be read ({err}); the file is corrupt") from None
        elif (folder / "vocab.txt").is_file():
            rust = _wordpiece_from_vocab(folder / "vocab.txt", settings, special)
        else:
            raise FileNotFoundError(
                f"{folder} has no tokenizer.json (nor vocab.txt); re-save the model with a fast tokenizer"
            )
        pad = _token_text(settings.get("pad_token")) or _token_text(special.get("pad_token"))
        padding = rust.padding
        if pad is None and padding:
            pad = padding["pad_token"]
        if pad is None:
            pad = next((t for t in ("[PAD]", "<pad>") if rust.token_to_id(t) is not None), None)
        if pad is None:
            raise ValueError(f"the tokenizer in {folder} names no pad token; add pad_token to tokenizer_config.json")
        tokenizer = cls(rust, pad, max_length=max_length, lowercase=lowercase)
        tokenizer._files = {name: (folder / name).read_bytes() for name in TOKENIZER_FILES if (folder / name).is_file()}
        return tokenizer

    def __call__(self, texts: list[str]) -> dict[str, Any]:
        """Tokenize a batch, padded to its longest text. ``truncated`` is a bool tensor, one per text."""
        return self.collate(self.encode(texts))

    def encode(self, texts: list[str]) -> list[Encoding]:
        """Tokenize texts without padding (truncated to ``max_length``), in parallel."""
        if self.lowercase:
            texts = [t.lower() for t in texts]
        return self._tokenizer.encode_batch(texts)

    def encode_pairs(self, pairs: list[tuple[str, str]]) -> list[Encoding]:
        """Tokenize text pairs as one sequence each (``[CLS] a [SEP] b [SEP]``, token types 0 then 1),
        the longer text truncated first when the pair exceeds ``max_length``; for cross-encoders."""
        if self.lowercase:
            pairs = [(a.lower(), b.lower()) for a, b in pairs]
        return self._tokenizer.encode_batch([(a, b) for a, b in pairs])

    def collate(self, encodings: list[Encoding]) -> dict[str, Any]:
        """Pad encodings into one batch of tensors (right padding, to the longest)."""
        width = max((len(e.ids) for e in encodings), default=0)
        ids = np.full((len(encodings), width), self.pad_id, dtype=np.int64)
        types = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            n = len(encoding.ids)
            ids[row, :n] = encoding.ids
            types[row, :n] = encoding.type_ids
            mask[row, :n] = 1
        return {
            "input_ids": torch.from_numpy(ids),
            "attention_mask": torch.from_numpy(mask),
            "token_type_ids": torch.from_numpy(types),
            "truncated": torch.tensor([bool(e.overflowing) for e in encodings], dtype=torch.bool),
        }

    def count_tokens(self, text: str) -> int:
        """Number of tokens ``text`` becomes, special tokens included, before truncation."""
        self._tokenizer.no_truncation()
        try:
            return len(self._tokenizer.encode(text).ids)
        finally:
            self._tokenizer.enable_truncation(max_length=self._max_length)

    def decode(self, ids: list[int] | Tensor) -> str:
        """Turn ids back into text, special tokens dropped."""
        if isinstance(ids, Tensor):
            ids = ids.tolist()
        return self._tokenizer.decode(ids, skip_special_tokens=True)

    @property
    def vocab_size(self) -> int:
        return self._tokenizer.get_vocab_size()

    def save(self, folder: Path) -> None:
        """Copy the tokenizer files this tokenizer was read from into ``folder``."""
        if not self._files:
            self._tokenizer.save(str(folder / "tokenizer.json"))
            return
        for name, content in self._files.items():
            (folder / name).write_bytes(content)


def _wordpiece_from_vocab(vocab: Path, settings: dict[str, Any], special: dict[str, Any]) -> _RustTokenizer:
    """A BERT WordPiece tokenizer from ``vocab.txt`` and the settings of ``tokenizer_config.json``.

    For folders that ship no tokenizer.json (bert-base-chinese and text2vec-base-chinese on some
    revisions). The settings and their defaults are those of transformers' BertTokenizer:
    ``do_lower_case`` (True), ``tokenize_chinese_chars`` (True: a space around every CJK character,
    so each becomes its own token), ``strip_accents`` (None: strip when lowercasing).
    """
    from tokenizers.implementations import BertWordPieceTokenizer

    def token(name: str, default: str) -> str:
        return _token_text(settings.get(name)) or _token_text(special.get(name)) or default

    strip_accents = settings.get("strip_accents")
    return BertWordPieceTokenizer(
        str(vocab),
        unk_token=token("unk_token", "[UNK]"),
        sep_token=token("sep_token", "[SEP]"),
        cls_token=token("cls_token", "[CLS]"),
        pad_token=token("pad_token", "[PAD]"),
        mask_token=token("mask_token", "[MASK]"),
        clean_text=True,
        handle_chinese_chars=bool(settings.get("tokenize_chinese_chars", True)),
        strip_accents=None if strip_accents is None else bool(strip_accents),
        lowercase=bool(settings.get("do_lower_case", True)),
    )._tokenizer


def _token_text(token: Any) -> str | None:
    """Special tokens are stored either as text or as ``{"content": text, ...}``."""
    if isinstance(token, dict):
        return token.get("content")
    return token if isinstance(token, str) else None
