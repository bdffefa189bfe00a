"""``sentvec train CONFIG``: a TOML file in, a trained model and a JSON summary out."""

from __future__ import annotations

import json

from sentvec import SentenceTransformer
from sentvec.cli import main

ROWS = [
    ("the man is eating food", "a man is eating bread", 0.9),
    ("a girl is carrying a baby", "the woman is carrying a baby", 0.8),
    ("a man is riding a horse", "the cat sat on the mat", 0.0),
    ("a man is playing the guitar", "he is playing a violin", 0.6),
]


def _config(tmp_path, model_folder, loss='name = "CoSENTLoss"\nscale = 10.0'):
    data = tmp_path / "pairs.jsonl"
    data.write_text("\n".join(json.dumps({"sentence1": a, "sentence2": b, "score": s}) for a, b, s in ROWS))
    config = tmp_path / "train.toml"
    config.write_text(f"""
[model]
name = "{model_folder.as_posix()}"
max_seq_length = 12

[data]
train = "pairs.jsonl"

[loss]
{loss}

[schedule]
num_train_epochs = 2
per_device_train_batch_size = 2
learning_rate = 1e-3
warmup_ratio = 0.25
lr_scheduler_type = "cosine"
logging_steps = 1
disable_tqdm = true

[output]
dir = "out"
save_steps = 2
""")
    return config


def test_train_from_a_toml_config(tiny_folder, tmp_path, capsys):
    before = SentenceTransformer(str(tiny_folder), device="cpu").encode(["the man is eating food"])
    assert main(["train", str(_config(tmp_path, tiny_folder)), "-q"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["global_step"] == 4 and summary["rows"] == 4
    trained = SentenceTransformer(str(tmp_path / "out" / "final"), device="cpu")
    assert trained.max_seq_length == 12
    assert not (trained.encode(["the man is eating food"]) == before).all()
    assert (tmp_path / "out" / "checkpoint-2" / "training_state.pt").is_file()
    log = (tmp_path / "out" / "train_log.jsonl").read_text().splitlines()
    assert sum("loss" in json.loads(line) for line in log) == 4


def test_bad_configs_are_named(tiny_folder, tmp_path, capsys):
    assert main(["train", str(_config(tmp_path, tiny_folder, loss='name = "NoSuchLoss"')), "-q"]) == 1
    assert "NoSuchLoss" in capsys.readouterr().err
    assert main(["train", str(_config(tmp_path, tiny_folder, loss='name = "CoSENTLoss"\nwidth = 3')), "-q"]) == 1
    assert "do not fit" in capsys.readouterr().err
    (tmp_path / "bad.toml").write_text("[model]\nname = 1\n[data]\n[loss]\n[sechdule]\n")
    assert main(["train", str(tmp_path / "bad.toml"), "-q"]) == 1
    assert "sechdule" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "missing.toml"), "-q"]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_train_plot_draws_the_log(tiny_folder, tmp_path, capsys):
    """--plot draws the run's own log: one loss point per logged step."""
    out = tmp_path / "curves.png"
    assert main(["train", str(_config(tmp_path, tiny_folder)), "-q", "--plot", str(out)]) == 0
    assert out.is_file() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from sentvec.plot import training_curves

    figure = training_curves(tmp_path / "out" / "train_log.jsonl")
    steps = figure.axes[0].lines[0].get_xdata()
    assert list(steps) == [1, 2, 3, 4]
    capsys.readouterr()
    assert main(["train", str(_config(tmp_path, tiny_folder)), "-q", "--plot", str(tmp_path / "curves.txt")]) == 2
    assert "--plot" in (err := capsys.readouterr().err) and "must end in" in err
