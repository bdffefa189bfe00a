"""WhitespaceTokenizer: the word-level tokenizer of word-embedding models (GloVe, Levy, ...).

Splits on whitespace, optionally lowercases, drops stop words, and maps each word to its row in the
vocabulary; a word not in the vocabulary is retried with surrounding punctuation stripped, then
lowercased, and dropped if still unknown.
"""

from __future__ import annotations

import os
import string
from collections.abc import Iterable
from pathlib import Path

from sentvec.paths import read_json, write_json

CONFIG_FILE = "whitespacetokenizer_config.json"


class WhitespaceTokenizer:
    """Words -> vocabulary ids.

    Args:
        vocab: the words, in row order of the embedding table.
        stop_words: words left out.
        do_lower_case: lowercase the text before looking words up.
    """

    def __init__(self, vocab: Iterable[str] = (), stop_words: Iterable[str] = (), do_lower_case: bool = False) -> None:
        self.stop_words = set(stop_words)
        self.do_lower_case = do_lower_case
        self.set_vocab(vocab)

    def get_vocab(self) -> list[str]:
        """The vocabulary, in id order."""
        return self.vocab

    def set_vocab(self, vocab: Iterable[str]) -> None:
        """Replace the vocabulary (ids follow the order given)."""
        self.vocab = list(vocab)
        self.word2idx = {word: idx for idx, word in enumerate(self.vocab)}

    def tokenize(self, text: str, **kwargs: object) -> list[int]:
        """The ids of the known, non-stop words of ``text``."""
        if self.do_lower_case:
            text = text.lower()
        ids = []
        for word in text.split():
            if word in self.stop_words:
                continue
            for candidate in (word, word.strip(string.punctuation), word.strip(string.punctuation).lower()):
                if not candidate or candidate in self.stop_words:
                    break
                if candidate in self.word2idx:
                    ids.append(self.word2idx[candidate])
                    break
        return ids

    def save(self, output_path: str | os.PathLike[str]) -> None:
        """Write the vocabulary, stop words and casing into ``output_path``."""
        write_json(
            Path(output_path) / CONFIG_FILE,
            {"vocab": self.vocab, "stop_words": sorted(self.stop_words), "do_lower_case": self.do_lower_case},
        )

    @classmethod
    def load(cls, input_path: str | os.PathLike[str]) -> WhitespaceTokenizer:
        """Load a tokenizer saved by :meth:`save`."""
        config = read_json(Path(input_path) / CONFIG_FILE)
        return cls(config.get("vocab", []), config.get("stop_words", []), bool(config.get("do_lower_case", False)))


__all__ = ["WhitespaceTokenizer"]
