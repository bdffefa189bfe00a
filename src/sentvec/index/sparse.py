"""Sparse (SPLADE) vectors in an index folder: an inverted index over every stored document, for mode="sparse".

Built when the dense build completes, like BM25, by a :class:`~sentvec.sparse_encoder.SparseEncoder` whose name
and fingerprint the manifest records, so that queries are encoded by the same model.
"""

from __future__ import annotations

import shutil

from sentvec.index.inverted import InvertedIndex
from sentvec.index.manifest import InvalidIndexError, model_fingerprint, write_manifest
from sentvec.index.storage import StoredIndex
from sentvec.sparse_encoder.model import SparseEncoder

#: The inverted index's folder inside an index folder.
INDEX_FOLDER = "sparse"


def _load_encoder(name: str, device: str | None = None) -> SparseEncoder:
    return SparseEncoder(name, device=device)


def build_index_sparse(
    index: StoredIndex, model: str | SparseEncoder, batch_size: int = 32, show_progress_bar: bool = False
) -> None:
    """Encode every document of a complete index with ``model`` (a SparseEncoder or its name), save the
    inverted index in the index folder and record it in the manifest (written last).

    Raises:
        InvalidIndexError: the index is not complete.
    """
    if not index.complete:
        raise InvalidIndexError(f"index {index.path} is not complete; finish the build before adding sparse vectors")
    name = model if isinstance(model, str) else (model.model_name_or_path or "<in-memory model>")
    encoder = _load_encoder(model) if isinstance(model, str) else model
    texts = [index.document(row)["text"] for row in range(index.count)]
    vectors = encoder.encode_document(texts, batch_size=batch_size, show_progress_bar=show_progress_bar)
    inverted = InvertedIndex.from_sparse(vectors)
    folder = index.path / INDEX_FOLDER
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    inverted.save(tmp)
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    index.manifest["sparse"] = {
        "model": name,
        "fingerprint": model_fingerprint(encoder),
        "count": index.count,
        "folder": INDEX_FOLDER,
        "active_dims": encoder.sparsity(vectors)["active_dims"],
        "bytes": sum(f.stat().st_size for f in folder.iterdir()),
    }
    write_manifest(index.path, index.manifest)
    index._sparse = (inverted, encoder)


def search_sparse(
    index: StoredIndex, texts: list[str], k: int, model: SparseEncoder | None = None
) -> list[list[tuple[int, float]]]:
    """Each text's ``k`` best ``(row, dot product)`` through the index's inverted index.

    The inverted index and the query encoder are kept on ``index`` for the next query.

    Raises:
        InvalidIndexError: no sparse vectors, unreadable or stale ones, or a query model other than the
            one that encoded the documents.
    """
    entry = index.manifest.get("sparse")
    if not entry:
        raise InvalidIndexError(
            f"index {index.path} has no sparse vectors; build it with "
            "`sentvec index build CORPUS --out INDEX --sparse MODEL` or Index.build(..., sparse=MODEL)"
        )
    if index._sparse is None:
        try:
            inverted = InvertedIndex.load(index.path / entry["folder"])
        except (OSError, ValueError) as err:
            raise InvalidIndexError(
                f"index {index.path} is corrupt: its sparse vectors cannot be read ({err}); rebuild it with --overwrite"
            ) from None
        if inverted.count != index.count:
            raise InvalidIndexError(
                f"the sparse vectors of {index.path} cover {inverted.count} of {index.count} "
                "documents; rebuild it with --overwrite"
            )
        index._sparse = (inverted, None)
    inverted, encoder = index._sparse
    encoder = model or encoder or _load_encoder(entry["model"])
    if model_fingerprint(encoder) != entry["fingerprint"]:
        raise InvalidIndexError(
            f"the sparse vectors of {index.path} come from {entry['model']!r} (fingerprint "
            f"{entry['fingerprint']}); query with that model"
        )
    index._sparse = (inverted, encoder)
    return inverted.search(encoder.encode_query(texts), k)
