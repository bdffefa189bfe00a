"""Data-parallel training under torchrun: two CPU processes (gloo) end with the same weights, each
trained on its own shard, and only rank 0 writes checkpoints. Slow (starts processes): SENTVEC_SLOW=1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

WORKER = """
import os, sys
import torch
torch.set_num_threads(1)
from sentvec import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments, losses
folder, out = sys.argv[1], sys.argv[2]
model = SentenceTransformer(folder, device="cpu")
pairs = [("the man is eating food", "a man is eating bread"), ("a girl is carrying a baby", "the woman is carrying a baby"),
         ("a man is riding a horse", "the cat sat on the mat"), ("a man is playing the guitar", "he is playing a violin")] * 2
data = {"anchor": [p[0] for p in pairs], "positive": [p[1] for p in pairs]}
args = SentenceTransformerTrainingArguments(output_dir=out, num_train_epochs=2, per_device_train_batch_size=2,
                                            learning_rate=1e-3, save_steps=2, logging_steps=1, disable_tqdm=True)
loss = losses.MultipleNegativesRankingLoss(model, gather_across_devices=True)
result = SentenceTransformerTrainer(model, args, train_dataset=data, loss=loss).train()
total = sum(p.detach().double().sum().item() for p in model.parameters())
print("RESULT", os.environ["RANK"], result["global_step"], repr(total), flush=True)
"""


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("SENTVEC_SLOW") != "1", reason="starts two torchrun processes; SENTVEC_SLOW=1")
def test_two_processes_train_in_step(tiny_folder, tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).resolve().parents[1] / "src"), os.environ.get("PYTHONPATH", "")]
        ),
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node=2",
            str(script),
            str(tiny_folder),
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = sorted(line.split()[1:] for line in done.stdout.splitlines() if line.startswith("RESULT"))
    assert [r[0] for r in results] == ["0", "1"]
    # 8 rows, 2 processes, batch 2: 2 steps per epoch, 2 epochs
    assert {r[1] for r in results} == {"4"}
    assert results[0][2] == results[1][2]  # DDP keeps the replicas identical
    assert sorted(p.name for p in (tmp_path / "out").glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
