"""The playground page in a real browser: headless Chromium (Debian's ``chromium``, driven by Playwright;
skipped when either is missing) opens ``/`` of a running server, enters two sentences, and the score the
page shows must be the one ``/similarity`` answers. Saves a screenshot next to the test's files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")
sync_api = pytest.importorskip("playwright.sync_api")

from sentvec.server import create_app  # noqa: E402
from test_server import running  # noqa: E402

CHROMIUM = os.environ.get("SENTVEC_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (apt-get install chromium)")

PAIR = ["A man is eating food.", "Someone is having a meal."]


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def _shown_scores(page) -> tuple[float, list[list[float]]]:
    page.wait_for_selector("#score[data-score]", timeout=30_000)
    score = float(page.get_attribute("#score", "data-score"))
    cells = page.eval_on_selector_all(
        "td.cell", "tds => tds.map(td => [Number(td.dataset.i), Number(td.dataset.j), Number(td.dataset.score)])"
    )
    n = max(i for i, _, _ in cells) + 1
    matrix = [[0.0] * n for _ in range(n)]
    for i, j, value in cells:
        matrix[i][j] = value
    return score, matrix


def test_playground_score_is_the_apis(browser, minilm, tmp_path: Path) -> None:
    with running(create_app(minilm, model_name="all-MiniLM-L6-v2")) as url:
        api = httpx.post(
            f"{url}/similarity", json={"inputs": {"source_sentence": PAIR[0], "sentences": PAIR}}, timeout=30
        ).json()
        page = browser.new_page(viewport={"width": 900, "height": 600})
        page.goto(f"{url}/")
        page.wait_for_function("document.getElementById('model').textContent.includes('all-MiniLM-L6-v2')")
        assert not page.is_visible("#api-key")  # an open server: no key field
        page.fill("#sentences", "\n".join(PAIR))
        page.click("#compare")
        score, matrix = _shown_scores(page)
        page.screenshot(path=str(tmp_path / "playground.png"))
        assert score == pytest.approx(api[1], abs=1e-6)
        assert page.inner_text("#score") == f"{api[1]:.4f}"
        assert matrix[0] == pytest.approx(api, abs=1e-6)
        assert matrix[1][0] == pytest.approx(api[1], abs=1e-6)
        assert matrix[0][0] == pytest.approx(1.0, abs=1e-5)
    assert (tmp_path / "playground.png").stat().st_size > 1000


def test_playground_asks_for_the_key_and_sends_it(browser, minilm, tmp_path: Path) -> None:
    with running(create_app(minilm, model_name="all-MiniLM-L6-v2", api_key="s3cret")) as url:
        page = browser.new_page()
        page.goto(f"{url}/")
        page.wait_for_selector("#api-key", state="visible", timeout=30_000)  # /info answered 401
        assert "needs an API key" in page.inner_text("#model")
        page.fill("#sentences", "\n".join(PAIR))
        page.fill("#api-key", "wrong")
        page.click("#compare")
        page.wait_for_function("document.getElementById('status').className === 'error'")
        assert "401" in page.inner_text("#status")
        page.fill("#api-key", "s3cret")
        page.click("#compare")
        score, _ = _shown_scores(page)
        api = httpx.post(
            f"{url}/similarity",
            headers={"Authorization": "Bearer s3cret"},
            timeout=30,
            json={"inputs": {"source_sentence": PAIR[0], "sentences": [PAIR[1]]}},
        ).json()
        assert score == pytest.approx(api[0], abs=1e-6)


def test_playground_search_box_shows_the_index_hits(browser, minilm, tmp_path: Path) -> None:
    from sentvec.index import Index

    docs = [
        "A man is eating food.",
        "A monkey is playing drums.",
        "The weather is lovely today.",
        "Someone is riding a horse.",
        "A cheetah is running behind its prey.",
    ]
    corpus = tmp_path / "docs.txt"
    corpus.write_text("\n".join(docs) + "\n", encoding="utf-8")
    index = Index.build(str(corpus), minilm, str(tmp_path / "docs.index"))
    with running(create_app(minilm, model_name="all-MiniLM-L6-v2", index=index)) as url:
        api = httpx.post(f"{url}/search", json={"query": "an animal runs fast", "k": 3}, timeout=30).json()["hits"]
        assert api[0]["text"] == "A cheetah is running behind its prey." and len(api) == 3
        page = browser.new_page(viewport={"width": 900, "height": 700})
        page.goto(f"{url}/")
        page.wait_for_selector("#search-box:not([hidden])", timeout=30_000)
        page.fill("#query", "an animal runs fast")
        page.click("#search")
        page.wait_for_function("document.body.dataset.searched", timeout=30_000)
        shown = page.eval_on_selector_all("#hits li", "lis => lis.map(li => [li.dataset.id, Number(li.dataset.score)])")
        page.screenshot(path=str(tmp_path / "playground-search.png"))
    assert [i for i, _ in shown[:3]] == [str(hit["id"]) for hit in api]
    assert [s for _, s in shown[:3]] == pytest.approx([hit["score"] for hit in api], abs=1e-6)
