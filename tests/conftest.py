"""Shared fixtures: tiny random models built in memory, the real all-MiniLM-L6-v2, and the shared data.

Before anything imports sentvec, every cache the library or its dependencies write (the sentvec model and
ONNX cache, the Hugging Face caches, matplotlib's font cache, torch's) is pointed at a folder the test
suite owns, ``<checkout>/.test-cache`` (git-ignored; ``$SENTVEC_TEST_CACHE`` moves it). The suite never
writes the user's real caches, and keeps what it fetched (all-MiniLM-L6-v2) between runs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEST_CACHE = Path(os.environ.get("SENTVEC_TEST_CACHE") or REPO / ".test-cache").resolve()


def _isolate_caches(root: Path) -> None:
    """Point the caches at ``root``: set before sentvec, huggingface_hub or matplotlib read them."""
    os.environ["SENTVEC_HOME"] = str(root / "sentvec")
    os.environ["HF_HOME"] = str(root / "huggingface")
    # These take precedence over HF_HOME; a user's setting would send the suite's downloads there.
    for var in (
        "HF_HUB_CACHE",
        "HUGGINGFACE_HUB_CACHE",
        "HF_DATASETS_CACHE",
        "TRANSFORMERS_CACHE",
        "SENTENCE_TRANSFORMERS_HOME",
        "HF_XET_CACHE",
    ):
        os.environ.pop(var, None)
    os.environ["XDG_CACHE_HOME"] = str(root / "xdg")
    os.environ["MPLCONFIGDIR"] = str(root / "matplotlib")
    os.environ["TORCH_HOME"] = str(root / "torch")


_isolate_caches(TEST_CACHE)

import pytest  # noqa: E402
import torch  # noqa: E402

# The shared data sets (../shared/data beside the checkout, or $SENTVEC_DATA). A fresh clone has none:
# tests that need them skip, through shared_data() below. Setting SENTVEC_DATA says the data is there
# (CI does), so a missing file then fails the test instead of skipping it.
DATA_REQUIRED = bool(os.environ.get("SENTVEC_DATA"))
SHARED_DATA = Path(os.environ.get("SENTVEC_DATA") or REPO.parent / "shared" / "data")


def shared_data(relpath: str) -> Path:
    """``SHARED_DATA / relpath``; skips the calling test (or fixture) with a reason when it is absent.

    With ``$SENTVEC_DATA`` set the data is expected, and an absent file fails instead.
    """
    path = SHARED_DATA / relpath
    if path.exists():
        return path
    if DATA_REQUIRED:
        pytest.fail(f"{path} is missing; SENTVEC_DATA={os.environ['SENTVEC_DATA']!r} should hold {relpath}")
    pytest.skip(f"needs {relpath} from the shared data folder, not found in {SHARED_DATA}; set SENTVEC_DATA")


def needs_shared_data(*relpaths: str) -> pytest.MarkDecorator:
    """A skip marker for tests (or ``pytestmark`` for modules) that read these shared data paths.

    Never skips when ``$SENTVEC_DATA`` is set: a missing file then fails the test where it is read.
    """
    missing = [p for p in relpaths if not (SHARED_DATA / p).exists()]
    return pytest.mark.skipif(
        bool(missing) and not DATA_REQUIRED,
        reason=f"needs {', '.join(missing)} from the shared data folder, not found in {SHARED_DATA}; set SENTVEC_DATA",
    )


WORDS = (
    "the a an is are was weather lovely today it so sunny outside he she drove to stadium man woman "
    "eating food bread girl carrying baby riding horse playing violin guitar two men pushed carts "
    "through woods white monkey drums cheetah running behind its prey cat dog sat on mat happy sad "
    "good bad movie great terrible fun boring and or not very"
).split()


def tiny_tokenizer_json(folder: Path, *, roberta_style: bool = False) -> None:
    """Write a small WordPiece tokenizer.json (BERT special tokens, or RoBERTa's ids with <pad>=1)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    if roberta_style:
        specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
        cls, sep, unk = "<s>", "</s>", "<unk>"
    else:
        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        cls, sep, unk = "[CLS]", "[SEP]", "[UNK]"
    vocab = {tok: i for i, tok in enumerate(specials + WORDS + [".", ",", "!", "'", "?", "##s", "##ing"])}
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token=unk))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{cls} $A {sep}",
        pair=f"{cls} $A {sep} $B:1 {sep}:1",
        special_tokens=[(cls, vocab[cls]), (sep, vocab[sep])],
    )
    tokenizer.save(str(folder / "tokenizer.json"))
    # Make `transformers` read tokenizer.json as it is, rather than rebuild a family tokenizer from vocab files.
    (folder / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "PreTrainedTokenizerFast",
                "pad_token": specials[0] if not roberta_style else "<pad>",
                "cls_token": cls,
                "sep_token": sep,
                "unk_token": unk,
                "mask_token": specials[4],
                "model_max_length": 512,
            }
        )
    )


TINY_VOCAB = 5 + len(WORDS) + 7


def tiny_hf_model(family: str, folder: Path, *, seed: int = 0):
    """A randomly initialised `transformers` encoder of the family, saved with safetensors into ``folder``."""
    import transformers

    torch.manual_seed(seed)
    sizes = dict(
        vocab_size=TINY_VOCAB,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    if family == "bert":
        config = transformers.BertConfig(max_position_embeddings=64, **sizes)
    elif family == "roberta":
        config = transformers.RobertaConfig(max_position_embeddings=66, pad_token_id=1, type_vocab_size=1, **sizes)
    elif family == "xlm-roberta":
        config = transformers.XLMRobertaConfig(max_position_embeddings=66, pad_token_id=1, type_vocab_size=1, **sizes)
    elif family == "mpnet":
        config = transformers.MPNetConfig(max_position_embeddings=66, pad_token_id=1, **sizes)
    elif family == "distilbert":
        config = transformers.DistilBertConfig(
            vocab_size=TINY_VOCAB,
            dim=32,
            n_layers=2,
            n_heads=4,
            hidden_dim=37,
            max_position_embeddings=64,
            dropout=0.0,
            attention_dropout=0.0,
        )
    else:
        raise ValueError(family)
    model = transformers.AutoModel.from_config(config).eval()
    # Random init leaves LayerNorms at 1/0 and biases at 0; perturb them so the test sees them.
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "LayerNorm" in name or "layer_norm" in name or name.endswith("bias"):
                param.add_(torch.randn_like(param) * 0.1)
    model.save_pretrained(folder, safe_serialization=True)
    return model


def tiny_sentence_model_folder(
    folder: Path, *, family: str = "bert", pooling: str = "mean", normalize: bool = False, max_seq_length: int = 16
) -> Path:
    """A complete sentence-transformers folder around a tiny random encoder (legacy file layout)."""
    folder.mkdir(parents=True, exist_ok=True)
    tiny_hf_model(family, folder)
    tiny_tokenizer_json(folder, roberta_style=family in ("roberta", "xlm-roberta", "mpnet"))
    (folder / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": max_seq_length, "do_lower_case": False})
    )
    (folder / "1_Pooling").mkdir(exist_ok=True)
    flags = {
        f"pooling_mode_{m}": m == pooling for m in ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens")
    }
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 32, **flags}))
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
        (folder / "2_Normalize").mkdir(exist_ok=True)
    (folder / "modules.json").write_text(json.dumps(modules))
    return folder


@pytest.fixture
def tiny_folder(tmp_path: Path) -> Path:
    """A tiny BERT sentence model folder with mean pooling, max_seq_length 16."""
    return tiny_sentence_model_folder(tmp_path / "tiny")


@pytest.fixture(scope="session")
def minilm_folder() -> Path:
    """The real all-MiniLM-L6-v2 folder (fetched into the cache by the model store on first use)."""
    from sentvec.store import resolve_model_folder

    return resolve_model_folder("all-MiniLM-L6-v2")


@pytest.fixture(scope="session")
def minilm(minilm_folder: Path):
    from sentvec import SentenceTransformer

    return SentenceTransformer(str(minilm_folder), device="cpu")


@pytest.fixture(scope="session")
def reference_minilm(minilm_folder: Path):
    """sentence-transformers' own model on the same folder: the reference we compare against."""
    from sentence_transformers import SentenceTransformer as Reference

    return Reference(str(minilm_folder), device="cpu")


# --------------------------------------------------------------------------- long tests


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--long",
        action="store_true",
        help="also run the tests marked long (the default run leaves them out; CI runs them)",
    )


def _run_long(config: pytest.Config) -> bool:
    # Any -m expression decides on its own (`-m long` runs only them); SENTVEC_LONG=1 is --long for scripts.
    return bool(config.getoption("--long") or config.getoption("markexpr") or os.environ.get("SENTVEC_LONG") == "1")


def pytest_report_header(config: pytest.Config) -> str | None:
    if _run_long(config):
        return None
    return "tests marked long are left out: `make test-long` (or pytest --long) runs them, as CI does"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the tests marked ``long`` unless asked for, so the default run stays short."""
    if _run_long(config):
        return
    long = [item for item in items if item.get_closest_marker("long") is not None]
    if long:
        config.hook.pytest_deselected(items=long)
        items[:] = [item for item in items if item.get_closest_marker("long") is None]
