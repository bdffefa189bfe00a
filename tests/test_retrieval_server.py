"""The server's /search with a ``mode``: dense, bm25 and hybrid over an index built with BM25."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("bm25s")
httpx = pytest.importorskip("httpx")

from conftest import tiny_sentence_model_folder  # noqa: E402
from sentvec import SentenceTransformer  # noqa: E402
from sentvec.index import Index  # noqa: E402
from sentvec.server import create_app  # noqa: E402
from test_server import running  # noqa: E402


def test_search_route_modes(tmp_path: Path) -> None:
    model = SentenceTransformer(str(tiny_sentence_model_folder(tmp_path / "tiny")), device="cpu")
    corpus = tmp_path / "docs.txt"
    corpus.write_text(
        "the cat sat on the mat\na dog barked\nzebra quartet tonight\ntwo men pushed carts\n", encoding="utf-8"
    )
    index = Index.build(str(corpus), model, str(tmp_path / "docs.index"), bm25="en", show_progress_bar=False)
    plain = Index.build(str(corpus), model, str(tmp_path / "plain.index"), show_progress_bar=False)
    with running(create_app(model, model_name="tiny", index=index)) as url:

        def post(body: dict) -> httpx.Response:
            return httpx.post(f"{url}/search", json=body, timeout=30)

        bm25 = post({"query": "zebra", "k": 3, "mode": "bm25"})
        assert bm25.status_code == 200 and [h["id"] for h in bm25.json()["hits"]] == [3]
        hybrid = post({"query": "zebra", "k": 3, "mode": "hybrid"}).json()["hits"]
        assert hybrid == index.search("zebra", k=3, model=model, mode="hybrid")
        dense = post({"query": "zebra", "k": 3}).json()["hits"]
        assert dense == index.search("zebra", k=3, model=model)
        bad = post({"query": "zebra", "mode": "splade"})
        assert bad.status_code == 422 and bad.json()["error"]["param"] == "mode"
    with running(create_app(model, model_name="tiny", index=plain)) as url:
        answer = httpx.post(f"{url}/search", json={"query": "zebra", "mode": "hybrid"}, timeout=30)
        assert answer.status_code == 422 and "--bm25" in answer.json()["error"]["message"]
