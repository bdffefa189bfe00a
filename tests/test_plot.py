"""sentvec.plot: each picture is written, non-empty, of the requested size, and holds the right numbers
(read back from the Figure's artists, not from pixels); the `sentvec plot` commands; the playground's
routes."""

from __future__ import annotations

import json
import re
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from conftest import tiny_sentence_model_folder  # noqa: E402
from sentvec import SentenceTransformer, cli  # noqa: E402
from sentvec import plot as svplot  # noqa: E402

TEXTS = ["A man is eating food.", "Someone is having a meal.", "A cat sleeps on the sofa.", "The stock fell 3%."]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> SentenceTransformer:
    return SentenceTransformer(str(tiny_sentence_model_folder(tmp_path_factory.mktemp("plot") / "tiny")), device="cpu")


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the PNG's IHDR chunk."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def assert_png(path: Path, figsize: tuple[float, float], dpi: int = 100) -> None:
    assert path.stat().st_size > 1000
    assert png_size(path) == (round(figsize[0] * dpi), round(figsize[1] * dpi))
    assert not list(path.parent.glob(f".{path.name}.*")), "a temporary file was left behind"


# ------------------------------------------------------------------ similarity heatmap


def test_heatmap_plots_the_given_matrix_and_writes_each_value(tmp_path: Path) -> None:
    scores = np.array([[1.0, 0.25, -0.5], [0.25, 1.0, 0.125], [-0.5, 0.125, 1.0]])
    path = tmp_path / "heat.png"
    figure = svplot.similarity_heatmap(TEXTS[:3], scores, path=path, figsize=(6, 4), dpi=80)
    assert_png(path, (6, 4), 80)
    axes = figure.axes[0]
    np.testing.assert_array_equal(np.asarray(axes.images[0].get_array()), scores)
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in axes.texts}
    assert cells == {(i, j): f"{scores[i, j]:.2f}" for i in range(3) for j in range(3)}
    assert [t.get_text() for t in axes.get_yticklabels()] == TEXTS[:3]


def test_heatmap_from_a_model_is_the_models_similarity(tiny: SentenceTransformer) -> None:
    figure = svplot.similarity_heatmap(TEXTS, model=tiny, labels=["a", "b", "c", "d"], values=False)
    vectors = tiny.encode(TEXTS, convert_to_tensor=True)
    expected = tiny.similarity(vectors, vectors).numpy()
    np.testing.assert_allclose(np.asarray(figure.axes[0].images[0].get_array()), expected, rtol=1e-6, atol=1e-6)
    assert not figure.axes[0].texts
    assert [t.get_text() for t in figure.axes[0].get_xticklabels()] == ["a", "b", "c", "d"]


def test_heatmap_long_labels_are_cut() -> None:
    figure = svplot.similarity_heatmap(["x" * 100, "y"], np.eye(2), label_width=10)
    assert figure.axes[0].get_yticklabels()[0].get_text() == "x" * 9 + "…"


def test_heatmap_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="3x3 matrix for 3 texts"):
        svplot.similarity_heatmap(TEXTS[:3], np.eye(2))
    with pytest.raises(ValueError, match="scores or a model"):
        svplot.similarity_heatmap(TEXTS[:3])
    with pytest.raises(ValueError, match="must end in .png or .svg"):
        svplot.similarity_heatmap(TEXTS[:2], np.eye(2), path="heat.jpg")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        svplot.similarity_heatmap(TEXTS[:2], np.eye(2), path="no/such/folder/heat.png")


CHINESE = ["一个男人在吃饭。", "猫在沙发上睡觉。"]


def test_chinese_labels_use_a_cjk_font() -> None:
    family = svplot.find_cjk_font()
    if family is None:
        pytest.skip("no CJK font installed (apt-get install fonts-noto-cjk)")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "Glyph missing" from matplotlib, no warning from us
        figure = svplot.similarity_heatmap(CHINESE, np.eye(2))
        figure.canvas.draw()
    label = figure.axes[0].get_yticklabels()[0]
    assert label.get_text() == CHINESE[0]
    assert label.get_fontfamily()[0] == family


def test_chinese_labels_without_a_cjk_font_warn_with_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(svplot, "find_cjk_font", lambda: None)
    with pytest.warns(UserWarning, match="no CJK font is installed.*fonts-noto-cjk") as record:
        svplot.similarity_heatmap(CHINESE, np.eye(2), path=tmp_path / "zh.png")
    assert len(record) == 1, "one clear warning, not one per missing glyph"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        svplot.similarity_heatmap(TEXTS[:2], np.eye(2))  # Latin text needs no CJK font: no warning


# ------------------------------------------------------------------ corpus map


def _offsets(figure) -> np.ndarray:
    return np.vstack([c.get_offsets() for c in figure.axes[0].collections])


def test_pca_map_matches_the_covariance_eigenvectors(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(40, 8)) * np.array([5, 3, 1, 1, 1, 1, 1, 1])
    path = tmp_path / "map.png"
    figure = svplot.corpus_map(embeddings=vectors, method="pca", path=path, figsize=(5, 4))
    assert_png(path, (5, 4))
    got = _offsets(figure)
    centred = vectors - vectors.mean(axis=0)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(centred, rowvar=False))
    top = eigenvectors[:, np.argsort(eigenvalues)[::-1][:2]]
    expected = centred @ top
    for k in range(2):  # an eigenvector's sign is arbitrary
        sign = np.sign(got[:, k] @ expected[:, k])
        np.testing.assert_allclose(got[:, k], sign * expected[:, k], atol=1e-9)
    assert figure.axes[0].get_xlabel() == "PCA 1"


def test_map_colours_by_label_in_first_seen_order(tiny: SentenceTransformer) -> None:
    labels = ["food", "food", "animal", "money"]
    figure = svplot.corpus_map(TEXTS, model=tiny, labels=labels, method="pca")
    axes = figure.axes[0]
    assert [t.get_text() for t in axes.get_legend().get_texts()] == ["food", "animal", "money"]
    assert [len(c.get_offsets()) for c in axes.collections] == [2, 1, 1]
    colours = [tuple(c.get_facecolor()[0]) for c in axes.collections]
    assert len(set(colours)) == 3
    coords, _ = svplot.project_2d(tiny.encode(TEXTS), "pca")
    np.testing.assert_allclose(_offsets(figure), coords[[0, 1, 2, 3]], atol=1e-5)


def test_map_html_has_hover_text_and_no_network(tmp_path: Path) -> None:
    pytest.importorskip("plotly")
    vectors = np.random.default_rng(1).normal(size=(6, 4))
    texts = [f"sentence number {i}" for i in range(6)]
    path = tmp_path / "map.html"
    svplot.corpus_map(texts, embeddings=vectors, labels=["a", "b"] * 3, path=path, method="pca")
    html = path.read_text(encoding="utf-8")
    assert all(t in html for t in texts)
    assert not re.search(r"<script[^>]*\bsrc=", html), "the page must not load a script from elsewhere"
    assert "Plotly.newPlot" in html


def test_map_umap_without_umap_learn_says_how(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    if importlib.util.find_spec("umap") is not None:
        pytest.skip("umap-learn is installed")
    with pytest.raises(ImportError, match="pip install umap-learn"):
        svplot.project_2d(np.eye(5), "umap")
    assert svplot.project_2d(np.eye(5), "auto")[1] == "pca"


def test_map_bad_input() -> None:
    with pytest.raises(ValueError, match="labels has 2 items for 3 texts"):
        svplot.corpus_map(embeddings=np.eye(3), labels=["a", "b"])
    with pytest.raises(ValueError, match="at least 2 embeddings"):
        svplot.corpus_map(embeddings=np.ones((1, 3)))


# ------------------------------------------------------------------ STS scatter


def test_sts_scatter_plots_the_pairs_and_the_fit(tmp_path: Path) -> None:
    gold = np.array([0.0, 1.0, 2.5, 4.0, 5.0])
    predicted = np.array([0.1, 0.3, 0.5, 0.8, 0.9])
    path = tmp_path / "sts.png"
    figure = svplot.sts_scatter(gold, predicted, path, title="t")
    assert_png(path, (6, 5))
    axes = figure.axes[0]
    np.testing.assert_array_equal(axes.collections[0].get_offsets(), np.column_stack([gold, predicted]))
    slope, intercept = np.polyfit(gold, predicted, 1)
    xs, ys = axes.lines[0].get_data()
    np.testing.assert_allclose(ys, slope * np.asarray(xs) + intercept)


# ------------------------------------------------------------------ training curves

# The records the trainer writes to train_log.jsonl: loss every logging_steps, eval_ metrics after each
# evaluation, and a summary at the end.
LOG = [
    {"step": 10, "epoch": 0.1, "loss": 8.7, "learning_rate": 1.8e-05},
    {"step": 20, "epoch": 0.2, "loss": 6.5, "learning_rate": 1.5e-05},
    {"step": 20, "epoch": 0.2, "eval_sts-dev_pearson_cosine": 0.80, "eval_sts-dev_spearman_cosine": 0.81},
    {"step": 30, "epoch": 0.3, "loss": 5.0, "learning_rate": 1.1e-05},
    {"step": 40, "epoch": 0.4, "loss": 4.2, "learning_rate": 0.7e-05},
    {"step": 40, "epoch": 0.4, "eval_sts-dev_pearson_cosine": 0.83, "eval_sts-dev_spearman_cosine": 0.84},
    {"step": 40, "epoch": 0.4, "train_loss": 4.0, "global_step": 40, "train_runtime": 12.5},
]


def write_log(folder: Path, records=LOG) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "train_log.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_training_curves_loss_and_metric_per_step(tmp_path: Path) -> None:
    write_log(tmp_path / "run")
    path = tmp_path / "curves.png"
    figure = svplot.training_curves(tmp_path / "run", path, figsize=(7, 5))
    assert_png(path, (7, 5))
    loss_axes, eval_axes = figure.axes
    steps, loss = loss_axes.lines[0].get_data()
    assert list(steps) == [10, 20, 30, 40] and list(loss) == [8.7, 6.5, 5.0, 4.2]
    assert len(eval_axes.lines) == 1  # the spearman one by default
    steps, metric = eval_axes.lines[0].get_data()
    assert list(steps) == [20, 40] and list(metric) == [0.81, 0.84]
    assert eval_axes.get_legend().get_texts()[0].get_text() == "sts-dev_spearman_cosine"


def test_training_curves_chosen_metrics_and_loss_only(tmp_path: Path) -> None:
    log = write_log(tmp_path)
    figure = svplot.training_curves(log, metrics=["sts-dev_pearson_cosine", "eval_sts-dev_spearman_cosine"])
    assert [list(line.get_ydata()) for line in figure.axes[1].lines] == [[0.80, 0.83], [0.81, 0.84]]
    only_loss = svplot.training_curves([r for r in LOG if "loss" in r])
    assert len(only_loss.axes) == 1 and list(only_loss.axes[0].lines[0].get_ydata()) == [8.7, 6.5, 5.0, 4.2]
    with pytest.raises(ValueError, match="'eval_accuracy' is not in the training log"):
        svplot.training_curves(log, metrics=["accuracy"])


def test_training_log_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "train_log.jsonl"
    path.write_text(json.dumps(LOG[0]) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2 is not JSON"):
        svplot.training_curves(path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        svplot.training_curves(tmp_path / "nothing")
    with pytest.raises(ValueError, match="no loss and no evaluation"):
        svplot.training_curves([LOG[-1]])


# ------------------------------------------------------------------ recall against memory

FIGURES = [
    {"dim": 384, "precision": "float32", "bytes_per_vector": 1536, "recall": 1.0},
    {"dim": 384, "precision": "int8", "bytes_per_vector": 384, "recall": 0.820, "rescored": 0.991},
    {"dim": 384, "precision": "binary", "bytes_per_vector": 48, "recall": 0.658, "rescored": 0.754},
    {"dim": 128, "precision": "float32", "bytes_per_vector": 512, "recall": 0.685},
    {"dim": 128, "precision": "binary", "bytes_per_vector": 16, "recall": 0.415, "rescored": 0.506},
]


def test_recall_memory_one_line_per_dim_sorted_by_bytes(tmp_path: Path) -> None:
    source = tmp_path / "figures.json"
    source.write_text(json.dumps({"rows": FIGURES}), encoding="utf-8")
    path = tmp_path / "recall.png"
    figure = svplot.recall_memory(source, path)
    assert_png(path, (7, 4.5))
    axes = figure.axes[0]
    lines = {line.get_label(): line.get_data() for line in axes.lines}
    assert [list(v) for v in lines["dim 384"]] == [[48, 384, 1536], [0.658, 0.820, 1.0]]
    assert [list(v) for v in lines["dim 384, rescored"]] == [[48, 384], [0.754, 0.991]]
    assert [list(v) for v in lines["dim 128"]] == [[16, 512], [0.415, 0.685]]
    assert axes.get_xscale() == "log"
    assert sorted(t.get_text() for t in axes.texts) == sorted(r["precision"] for r in FIGURES)


def test_recall_memory_takes_a_dict_and_names_a_missing_field() -> None:
    figure = svplot.recall_memory(
        {"int8": {"bytes_per_vector": 384, "recall": 0.9}, "binary": {"bytes_per_vector": 48, "recall": 0.7}}
    )
    assert [list(v) for v in figure.axes[0].lines[0].get_data()] == [[48, 384], [0.7, 0.9]]
    with pytest.raises(ValueError, match="has no 'recall'"):
        svplot.recall_memory([{"precision": "int8", "bytes_per_vector": 384}])


# ------------------------------------------------------------------ the `sentvec plot` commands


@pytest.fixture
def with_tiny(monkeypatch: pytest.MonkeyPatch, tiny: SentenceTransformer) -> SentenceTransformer:
    monkeypatch.setattr(cli, "_load_model", lambda name, **_: tiny)
    return tiny


def test_cli_plot_similarity(tmp_path: Path, with_tiny, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sim.png"
    assert cli.main(["plot", "similarity", *TEXTS[:3], "--out", str(out)]) == 0
    assert png_size(out)[0] > 100 and f"wrote {out}" in capsys.readouterr().err


def test_cli_plot_map_with_labels(tmp_path: Path, with_tiny) -> None:
    corpus = tmp_path / "corpus.tsv"
    corpus.write_text("".join(f"{'ab'[i % 2]}\t{t}\n" for i, t in enumerate(TEXTS)), encoding="utf-8")
    assert cli.main(["plot", "map", str(corpus), "--labels", "--out", str(tmp_path / "map.png")]) == 0
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    labels = tmp_path / "labels.txt"
    labels.write_text("x\ny\n", encoding="utf-8")
    assert cli.main(["plot", "map", str(texts), "--labels", str(labels), "--out", str(tmp_path / "m.png")]) == 2
    assert not (tmp_path / "m.png").exists()


def test_cli_plot_training_and_recall(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_log(tmp_path / "run")
    assert cli.main(["plot", "training", str(tmp_path / "run"), "--out", str(tmp_path / "t.png")]) == 0
    (tmp_path / "f.json").write_text(json.dumps(FIGURES), encoding="utf-8")
    assert cli.main(["plot", "recall", str(tmp_path / "f.json"), "-o", str(tmp_path / "r.svg")]) == 0
    assert (tmp_path / "r.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")
    assert cli.main(["plot", "training", str(tmp_path / "run"), "--out", str(tmp_path / "t.jpg")]) == 2
    assert "must end in .png or .svg" in capsys.readouterr().err
    assert cli.main(["plot", "training", str(tmp_path / "none"), "--out", str(tmp_path / "t.png")]) == 2


# ------------------------------------------------------------------ the playground routes


def test_playground_page_and_script_are_served_without_a_key(tiny: SentenceTransformer) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from sentvec.server import create_app

    with TestClient(create_app(tiny, api_key="k")) as client:
        page = client.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert '<script src="playground.js"></script>' in page.text
        script = client.get("/playground.js")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        assert "http://" not in script.text and "https://" not in script.text  # nothing but this server
        assert "Bearer " in script.text
        assert (
            client.post("/similarity", json={"inputs": {"source_sentence": "a", "sentences": ["b"]}}).status_code == 401
        )
