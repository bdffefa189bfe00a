"""A thin layer over ``tokenizers.Tokenizer``: texts in, padded id tensors out, truncation visible."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tokenizers import Encoding
from tokenizers import Tokenizer as _RustTokenizer
from tokenizers.implementations import BertWordPieceTokenizer

from sentvec.paths import MAX_TOKENIZER_BYTES, check_regular_file, read_json, read_limited

if TYPE_CHECKING:
    from torch import Tensor

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


_SPECIAL_NAMES = ("[CLS]", "[SEP]", "[PAD]", "[MASK]", "<s>", "</s>", "<pad>", "<mask>")


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
        # Tokens produced so far (after truncation): what the model was given, for throughput reports.
        self.tokens_seen = 0
        # For unknown_counts(): the unknown token's id (WordPiece and BPE vocabularies name one) and the
        # ids of special tokens, which are not text and do not count.
        unk_token = getattr(tokenizer.model, "unk_token", None)
        self.unk_id: int | None = tokenizer.token_to_id(unk_token) if isinstance(unk_token, str) else None
        special = {i for i, t in tokenizer.get_added_tokens_decoder().items() if t.special}
        # Tokenizers built in code may not register the tokens their post-processor adds; the usual names do.
        special |= {i for t in (pad_token, *_SPECIAL_NAMES) if (i := tokenizer.token_to_id(t)) is not None}
        self._special_ids = np.array(sorted(special - {self.unk_id}), dtype=np.int64)
        self.lowercase = lowercase
        self._files: dict[str, bytes] = {}  # file name -> contents, kept so save() works after the folder is gone
        self.max_length = max_length

    @property
    def max_length(self) -> int:
        """Token sequences are truncated to this many tokens, special tokens included."""
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
        settings = read_json(folder / "tokenizer_config.json", required=False, expect=dict)
        special = read_json(folder / "special_tokens_map.json", required=False, expect=dict)
        if (folder / "tokenizer.json").exists():
            # Read by us, not by the Rust side, so a FIFO or /dev/zero behind the name is refused, not read forever.
            text = read_limited(folder / "tokenizer.json", MAX_TOKENIZER_BYTES)
            try:
                rust = _RustTokenizer.from_str(text.decode("utf-8"))
            except Exception as err:  # the Rust side raises a bare Exception for bad files
                raise ValueError(
                    f"{folder / 'tokenizer.json'} could not be read ({err}); the file is corrupt"
                ) from None
        elif (folder / "vocab.txt").exists():
            check_regular_file(folder / "vocab.txt", limit=MAX_TOKENIZER_BYTES)
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

    def encode(self, texts: list[str], *, add_special_tokens: bool = True) -> list[Encoding]:
        """Tokenize texts without padding (truncated to ``max_length``), in parallel; ``add_special_tokens=False``
        leaves out the model's ``[CLS]``/``[SEP]`` (or ``<s>``/``</s>``)."""
        if self.lowercase:
            texts = [t.lower() for t in texts]
        encodings = self._tokenizer.encode_batch(texts, add_special_tokens=add_special_tokens)
        self.tokens_seen += sum(len(e.ids) for e in encodings)
        return encodings

    def encode_pairs(self, pairs: list[tuple[str, str]]) -> list[Encoding]:
        """Tokenize text pairs as one sequence each (``[CLS] a [SEP] b [SEP]``, token types 0 then 1),
        the longer text truncated first when the pair exceeds ``max_length``; for cross-encoders."""
        if self.lowercase:
            pairs = [(a.lower(), b.lower()) for a, b in pairs]
        return self._tokenizer.encode_batch([(a, b) for a, b in pairs])

    def collate(self, encodings: list[Encoding]) -> dict[str, Any]:
        """Pad encodings into one batch of torch tensors (right padding, to the longest)."""
        import torch  # the torch-free runtime (sentvec.lite) uses collate_numpy and never gets here

        return {name: torch.from_numpy(array) for name, array in self.collate_numpy(encodings).items()}

    def collate_numpy(self, encodings: list[Encoding]) -> dict[str, np.ndarray]:
        """Pad encodings into one batch of numpy arrays: int64 ids, mask and token types, bool ``truncated``."""
        width = max((len(e.ids) for e in encodings), default=0)
        ids = np.full((len(encodings), width), self.pad_id, dtype=np.int64)
        types = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            n = len(encoding.ids)
            ids[row, :n] = encoding.ids
            types[row, :n] = encoding.type_ids
            mask[row, :n] = 1
        truncated = np.array([bool(e.overflowing) for e in encodings], dtype=bool)
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types, "truncated": truncated}

    def unknown_counts(self, features: dict[str, Any]) -> tuple[int, int]:
        """``(unknown, total)``: how many of a collated batch's text tokens (special tokens left out) are the
        unknown token. A high share means the vocabulary does not cover the texts' language."""
        if self.unk_id is None:
            return 0, 0
        ids = np.asarray(features["input_ids"])  # torch tensors (on the CPU) and numpy arrays alike
        text = np.asarray(features["attention_mask"]).astype(bool) & ~np.isin(ids, self._special_ids)
        return int((text & (ids == self.unk_id)).sum()), int(text.sum())

    def count_tokens(self, text: str) -> int:
        """Number of tokens ``text`` becomes, special tokens included, before truncation."""
        self._tokenizer.no_truncation()
        try:
            return len(self._tokenizer.encode(text).ids)
        finally:
            self._tokenizer.enable_truncation(max_length=self._max_length)

    def decode(self, ids: list[int] | Tensor) -> str:
        """Turn ids back into text, special tokens dropped."""
        if not isinstance(ids, list):
            ids = ids.tolist()
        return self._tokenizer.decode(ids, skip_special_tokens=True)

    @property
    def vocab_size(self) -> int:
        """Size of the base vocabulary (added tokens not counted)."""
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
