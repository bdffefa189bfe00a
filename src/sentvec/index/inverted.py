"""An inverted index of sparse vectors: for each vocabulary term, the documents that weight it and by how much.

A query scores only the documents that share one of its (few) active terms, so search costs the length of
those posting lists, not the size of the corpus times the vocabulary. Stored as three arrays
(``term_starts`` (V + 1,), ``documents`` (nnz,), ``weights`` (nnz,)), which :meth:`save` writes as ``.npy``
files and :meth:`load` memory-maps.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from torch import Tensor

from sentvec.index.scores import top_k

_FILES = ("term_starts", "documents", "weights")


class InvertedIndex:
    """Posting lists of a (documents, vocabulary) sparse matrix; :meth:`search` gives dot-product top-k.

    Args:
        term_starts: (V + 1,) where each term's postings start in ``documents`` and ``weights``.
        documents: (nnz,) the documents of each posting, by term then document.
        weights: (nnz,) their weights.
        count: the documents indexed.
    """

    def __init__(self, term_starts: np.ndarray, documents: np.ndarray, weights: np.ndarray, count: int) -> None:
        self.term_starts, self.documents, self.weights, self.count = term_starts, documents, weights, int(count)

    @property
    def vocabulary_size(self) -> int:
        """The vectors' width: the model's vocabulary."""
        return len(self.term_starts) - 1

    @classmethod
    def from_sparse(cls, embeddings: Tensor) -> InvertedIndex:
        """Index the rows of a (N, V) sparse (or dense) tensor; row i is document i."""
        matrix = (embeddings if embeddings.is_sparse else embeddings.to_sparse()).coalesce()
        rows, terms = matrix.indices().numpy()
        values = matrix.values().float().numpy()
        keep = values != 0
        rows, terms, values = rows[keep], terms[keep], values[keep]
        order = np.lexsort((rows, terms))  # by term, then by document
        counts = np.bincount(terms, minlength=matrix.shape[1])
        starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return cls(starts, rows[order].astype(np.int32), values[order].astype(np.float32), matrix.shape[0])

    def scores(self, query: Tensor) -> np.ndarray:
        """Dot product of one 1-D query vector (sparse or dense) with every document: shape ``(count,)``."""
        vector = (query if query.is_sparse else query.to_sparse()).coalesce()
        if vector.shape[0] != self.vocabulary_size:
            raise ValueError(
                f"the query vector has {vector.shape[0]} dimensions, the index {self.vocabulary_size}: "
                "encode queries with the model that encoded the documents"
            )
        scores = np.zeros(self.count, dtype=np.float32)
        for term, weight in zip(vector.indices()[0].tolist(), vector.values().float().tolist()):
            start, stop = self.term_starts[term], self.term_starts[term + 1]
            if weight and stop > start:
                np.add.at(scores, self.documents[start:stop], weight * self.weights[start:stop])
        return scores

    def search(self, queries: Tensor, k: int = 10) -> list[list[tuple[int, float]]]:
        """Each query row's ``k`` best ``(document, score)`` by decreasing score, ties by increasing document.
        Documents sharing no active term with a query (score 0) are no hits."""
        if k < 1:
            raise ValueError(f"k={k}; it must be at least 1")
        rows = queries.unsqueeze(0) if queries.dim() == 1 else queries
        if rows.is_sparse:
            rows = rows.coalesce()
            return [top_k(self.scores(rows[i]), k) for i in range(rows.shape[0])]
        return [top_k(self.scores(row), k) for row in rows]

    def save(self, folder: str | os.PathLike[str]) -> None:
        """Write the posting lists into ``folder`` (created) as ``.npy`` files."""
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        for name in _FILES:
            np.save(path / f"{name}.npy", getattr(self, name))
        np.save(path / "count.npy", np.array([self.count], dtype=np.int64))

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> InvertedIndex:
        """Memory-map the posting lists :meth:`save` wrote.

        Raises:
            ValueError: posting lists that do not add up.
        """
        path = Path(folder)
        arrays = [np.load(path / f"{name}.npy", mmap_mode="r") for name in _FILES]
        count = int(np.load(path / "count.npy")[0])
        if arrays[0][-1] != len(arrays[1]) or len(arrays[1]) != len(arrays[2]):
            raise ValueError(f"the inverted index in {path} is corrupt: its posting lists do not add up; rebuild it")
        return cls(arrays[0], arrays[1], arrays[2], count=count)
