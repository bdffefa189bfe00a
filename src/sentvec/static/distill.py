"""distill(): turn a sentence embedding model (the teacher) into a static model.

1. Vocabulary: every token of the teacher's tokenizer, plus whole words you pass (added to the tokenizer
   as single-word tokens, so they win over their sub-word pieces). A SentencePiece teacher (the
   Universal Sentence Encoder, ``use-multilingual-v3``) keeps its pieces: its ``sp.model`` is converted
   to a ``tokenizers`` Unigram tokenizer with the same ids (:mod:`sentvec.static.spm`), so that
   sentence-transformers' ``StaticEmbedding`` can read the student too.
2. One vector per token: the teacher encodes each token alone (with its special tokens, as model2vec
   does) and the outputs are mean-pooled (a Transformer teacher's token outputs; a Universal Sentence
   Encoder's sentence embedding of ``<s> piece </s>``).
3. Optional regression on a corpus (as tokenlearn does): the vectors are trained so that the mean of a
   text's token vectors points where the teacher's embedding of the text points (cosine loss, Adam,
   early stopping on a held-out tenth of the corpus).
4. Dimensionality reduction: PCA to ``pca_dims``; with a corpus, the axes come from the texts'
   embeddings, which is what the model is used for, rather than from the token table.
5. Token weighting: SIF weights ``a / (a + p)`` with p the token's Zipf probability from its rank in
   the vocabulary (its id order, special and removed tokens left out; ``apply_zipf``), folded into the rows; after a fit, the trained row lengths
   carry the weights of the tokens the corpus has.

The result is a :class:`~sentvec.static.model.StaticModel`; ``save()`` writes a folder that sentvec
and sentence-transformers 6.x load.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from tokenizers import AddedToken, Tokenizer, normalizers

from sentvec.static.model import StaticModel
from sentvec.static.spm import NORMAL, read_sentencepiece_model, sentencepiece_to_tokenizer
from sentvec.types import TextEncoder

logger = logging.getLogger(__name__)


def distill(
    teacher: str | os.PathLike[str] | TextEncoder,
    *,
    vocabulary: Iterable[str] | None = None,
    corpus: Sequence[str] | None = None,
    pca_dims: int | None = 256,
    apply_zipf: bool = True,
    sif_coefficient: float | None = 1e-4,
    token_remove_pattern: str | None = r"\[unused\d+\]",
    epochs: int = 30,
    learning_rate: float = 0.005,
    device: str | None = None,
    batch_size: int = 256,
    show_progress_bar: bool | None = None,
    seed: int = 0,
) -> StaticModel:
    """Distil a static model from ``teacher``.

    Args:
        teacher: a model name or folder (resolved like ``SentenceTransformer(name)``) or a loaded sentvec
            ``SentenceTransformer`` whose first module is a Transformer with a fast tokenizer, or a
            UniversalSentenceEncoder (SentencePiece pieces; ``"use-multilingual-v3"``).
        vocabulary: extra words to add to the tokenizer as whole tokens, each with its own vector
            (Transformer teachers only).
        corpus: texts to fit the vectors to the teacher's embeddings of them (the better the corpus
            matches your texts, the better the model). None: no fit, only the token vectors.
        pca_dims: output dimensions (None: keep the teacher's; never more than it has).
        apply_zipf: weight tokens by SIF with Zipf probabilities from their vocabulary rank.
        sif_coefficient: the SIF ``a``; None turns weighting off.
        token_remove_pattern: tokens whose text matches this regex get a zero vector (``[unused12]``).
        epochs: most passes over the corpus in the fit (it stops earlier when held-out loss rises).
        learning_rate: Adam step size of the fit.
        device: where the teacher (and the fit) run; default CUDA when available.
        batch_size: texts per teacher forward pass and per fit step.
        show_progress_bar: default: when this logger is at INFO or DEBUG.
        seed: for the held-out split and the order of fit batches.

    Returns:
        A StaticModel whose ``save(folder)`` writes a sentence-transformers folder.
    """

    from sentvec.model import SentenceTransformer
    from sentvec.modules import Transformer, UniversalSentenceEncoder

    if pca_dims is not None and pca_dims < 1:
        raise ValueError(f"pca_dims={pca_dims}; give a positive number of dimensions, or None to keep the teacher's")
    if sif_coefficient is not None and not 0 < sif_coefficient < 1:
        raise ValueError(f"sif_coefficient={sif_coefficient}; it must be between 0 and 1 (1e-4 is usual), or None")
    if corpus is not None:
        corpus = [t for t in _checked(corpus, "corpus") if t.strip()]
        if len(corpus) < 20:
            raise ValueError(f"corpus has {len(corpus)} non-empty texts; a fit needs at least 20 (or pass corpus=None)")
    if show_progress_bar is None:
        show_progress_bar = logger.getEffectiveLevel() in (logging.INFO, logging.DEBUG)
    model = teacher if isinstance(teacher, SentenceTransformer) else SentenceTransformer(str(teacher), device=device)
    first = model[0] if len(model) else None
    if isinstance(first, Transformer):
        tokenizer, table, keep = _transformer_table(
            first, vocabulary, token_remove_pattern, batch_size, show_progress_bar
        )
    elif isinstance(first, UniversalSentenceEncoder):
        if vocabulary is not None:
            raise ValueError(
                "vocabulary= adds words to WordPiece/BPE tokenizers; a SentencePiece teacher "
                "(use-multilingual-v3) keeps its own pieces: pass vocabulary=None"
            )
        tokenizer, table, keep = _sentencepiece_table(model, first, token_remove_pattern, batch_size, show_progress_bar)
    else:
        raise ValueError(
            "the teacher's first module must be a Transformer or a UniversalSentenceEncoder "
            "(a static model cannot be distilled from it)"
        )
    size = len(table)
    logger.info("token vectors: %d of %d tokens from the teacher", len(keep), size)
    skipped = np.setdiff1d(np.arange(size, dtype=np.int64), keep)
    weights = np.ones(size, dtype=np.float32)
    if apply_zipf and sif_coefficient is not None:
        # rank = place among the kept tokens: the hundreds of [unused] slots early in BERT's vocabulary are no words
        weights[keep] = _zipf_sif_weights(len(keep), sif_coefficient)
    dims = min(pca_dims or table.shape[1], table.shape[1])

    if corpus is None:
        basis, mean = _pca(table[keep], dims)
        table = ((table - mean) @ basis) * weights[:, None]
    else:
        targets = np.asarray(
            model.encode(
                corpus,
                batch_size=batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=show_progress_bar,
            )
        )
        logger.info("fit: the teacher embedded %d corpus texts", len(corpus))
        table = (table - table[keep].mean(axis=0)) * weights[:, None]
        table[skipped] = 0.0
        ids, offsets = _bags(tokenizer, corpus)
        table = _fit(
            table,
            ids,
            offsets,
            targets,
            keep,
            epochs=epochs,
            learning_rate=learning_rate,
            batch_size=batch_size,
            device=str(model.device),
            seed=seed,
            show_progress_bar=show_progress_bar,
        )
        sentences = _bag_means(table, ids, offsets)
        basis, mean = _pca(sentences, dims)
        table = (table - mean) @ basis
    table[skipped] = 0.0
    return StaticModel(table.astype(np.float32), tokenizer)


# --------------------------------------------------------------------------- the token table, per teacher kind


def _transformer_table(
    transformer: Any,
    vocabulary: Iterable[str] | None,
    token_remove_pattern: str | None,
    batch_size: int,
    progress: bool,
) -> tuple[Tokenizer, np.ndarray, np.ndarray]:
    """(student tokenizer, one row per token id, ids that keep a row) for a Transformer teacher: each
    token (or added word) is encoded alone with its special tokens and the outputs mean-pooled."""
    import torch

    source: Tokenizer = transformer.tokenizer._tokenizer
    tokenizer = _student_tokenizer(source, lowercase=transformer.do_lower_case)
    added = _add_words(tokenizer, source, vocabulary or ())
    size = tokenizer.get_vocab_size(with_added_tokens=True)
    # special and removed tokens keep a zero row
    skip = _skipped_ids(tokenizer, token_remove_pattern, also=[transformer.tokenizer.pad_id])
    keep = np.array([i for i in range(size) if i not in skip], dtype=np.int64)
    sequences = _token_sequences(source, tokenizer, keep, added)
    with torch.inference_mode():
        vectors = _teacher_token_vectors(transformer, sequences, batch_size, progress)
    table = np.zeros((size, vectors.shape[1]), dtype=np.float32)
    table[keep] = vectors
    return tokenizer, table, keep


def _sentencepiece_table(
    model: Any, encoder: Any, token_remove_pattern: str | None, batch_size: int, progress: bool
) -> tuple[Tokenizer, np.ndarray, np.ndarray]:
    """The same for a SentencePiece teacher (the Universal Sentence Encoder): the student tokenizer is the
    teacher's SentencePiece model converted to a ``tokenizers`` Unigram one (same ids), and a piece's row
    is the teacher's sentence embedding of the piece alone (``<s> piece </s>``)."""
    import torch

    spm_file = encoder.tokenizer.model_file
    tokenizer = sentencepiece_to_tokenizer(spm_file)
    pieces = read_sentencepiece_model(spm_file).pieces
    regex = _remove_regex(token_remove_pattern)
    # control, unknown, user-defined placeholder and unused pieces keep a zero row
    keep = np.array(
        [
            i
            for i, (piece, _, kind) in enumerate(pieces)
            if kind == NORMAL and (regex is None or not regex.fullmatch(piece))
        ],
        dtype=np.int64,
    )
    if not len(keep):
        raise ValueError(f"token_remove_pattern {token_remove_pattern!r} removes every token; loosen it")
    bos, eos = 1, 2  # the ids the encoder's own tokenizer puts around every text
    table = np.zeros((len(pieces), model.get_sentence_embedding_dimension()), dtype=np.float32)
    step = max(batch_size, 1024)
    starts = range(0, len(keep), step)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="Token vectors", unit="batch")
    device = model.device
    with torch.inference_mode():
        for start in starts:
            rows = keep[start : start + step]
            ids = torch.stack([torch.full((len(rows),), bos), torch.from_numpy(rows), torch.full((len(rows),), eos)], 1)
            features = {"input_ids": ids.to(device), "attention_mask": torch.ones_like(ids).to(device)}
            table[rows] = model(features)["sentence_embedding"].float().cpu().numpy()
    return tokenizer, table, keep


# --------------------------------------------------------------------------- vocabulary


def _checked(texts: Iterable[str], what: str) -> list[str]:
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"{what}[{i}] is a {type(text).__name__}; {what} must hold strings")
    return texts


def _student_tokenizer(source: Tokenizer, *, lowercase: bool) -> Tokenizer:
    """A copy of the teacher's tokenizer that reads whole texts: no truncation, no padding."""
    tokenizer = Tokenizer.from_str(source.to_str())
    tokenizer.no_truncation()
    tokenizer.no_padding()
    if lowercase:  # the teacher lowercased texts outside its tokenizer; the student must do it inside
        steps = [normalizers.Lowercase()] + ([tokenizer.normalizer] if tokenizer.normalizer is not None else [])
        tokenizer.normalizer = normalizers.Sequence(steps)
    return tokenizer


def _add_words(tokenizer: Tokenizer, source: Tokenizer, words: Iterable[str]) -> dict[int, list[int]]:
    """Add each word the tokenizer splits into pieces as one token; return new id -> the teacher's ids
    of the word (with special tokens), which is what the teacher encodes for its vector."""
    new: list[str] = []
    seen: set[str] = set()
    for i, word in enumerate(_checked(words, "vocabulary")):
        word = word.strip()
        if not word or any(c.isspace() for c in word):
            raise ValueError(f"vocabulary[{i}] = {word!r}; give single words (no spaces, not empty)")
        form = tokenizer.normalizer.normalize_str(word) if tokenizer.normalizer is not None else word
        if form in seen or len(tokenizer.encode(form, add_special_tokens=False).ids) <= 1:
            continue
        seen.add(form)
        new.append(form)
    if not new:
        return {}
    tokenizer.add_tokens([AddedToken(w, single_word=True, normalized=True) for w in new])
    pieces: dict[int, list[int]] = {}
    for word in new:
        word_id = tokenizer.token_to_id(word)
        assert word_id is not None  # every word was just added
        pieces[word_id] = source.encode(word, add_special_tokens=True).ids
    return pieces


def _remove_regex(pattern: str | None) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as err:
        raise ValueError(f"token_remove_pattern {pattern!r} is not a valid regex: {err}") from None


def _skipped_ids(tokenizer: Tokenizer, pattern: str | None, also: Iterable[int] = ()) -> set[int]:
    """Ids whose row stays zero: special tokens (never produced without add_special_tokens, except the
    unknown token) and tokens matching ``pattern``."""
    regex = _remove_regex(pattern)
    skip = {i for i, t in tokenizer.get_added_tokens_decoder().items() if t.special}
    # Older tokenizer files keep the specials in the model's vocabulary: find them by their roles.
    probe = tokenizer.encode("a", add_special_tokens=True)
    skip |= {i for i, special in zip(probe.ids, probe.special_tokens_mask) if special}
    unknown = getattr(tokenizer.model, "unk_token", None)
    unknown_id = tokenizer.token_to_id(unknown) if isinstance(unknown, str) else None
    if unknown_id is not None:
        skip.add(unknown_id)
    skip |= set(also)
    if regex is not None:
        skip |= {i for token, i in tokenizer.get_vocab(with_added_tokens=False).items() if regex.fullmatch(token)}
    if len(skip) >= tokenizer.get_vocab_size(with_added_tokens=True):
        raise ValueError(f"token_remove_pattern {pattern!r} removes every token; loosen it")
    return skip


def _token_sequences(
    source: Tokenizer, tokenizer: Tokenizer, ids: np.ndarray, added: dict[int, list[int]]
) -> list[list[int]]:
    """The teacher's input for each token: its special prefix, the token, its special suffix."""
    probe = source.encode("a", add_special_tokens=True)
    first = probe.special_tokens_mask.index(0)
    prefix, suffix = probe.ids[:first], probe.ids[first + 1 :]
    return [added[i] if i in added else [*prefix, int(i), *suffix] for i in ids]


def _zipf_sif_weights(size: int, sif_coefficient: float) -> np.ndarray:
    """SIF weights ``a / (a + p)`` for ranks 1..size, with p Zipf's probability of the rank."""
    inverse_rank = 1.0 / np.arange(2, size + 2)
    probability = inverse_rank / inverse_rank.sum()
    return (sif_coefficient / (sif_coefficient + probability)).astype(np.float32)


# --------------------------------------------------------------------------- teacher


def _teacher_token_vectors(transformer: Any, sequences: list[list[int]], batch_size: int, progress: bool) -> np.ndarray:
    """Mean of the teacher's output over each sequence (all its tokens, special ones included)."""
    import torch

    device = next(transformer.parameters()).device
    order = np.argsort([len(s) for s in sequences], kind="stable")
    out = np.zeros((len(sequences), transformer.get_word_embedding_dimension()), dtype=np.float32)
    step = max(batch_size, 1024)  # single tokens are short: big batches cost little memory
    starts = range(0, len(order), step)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="Token vectors", unit="batch")
    max_length = transformer.max_seq_length
    for start in starts:
        rows = order[start : start + step]
        batch = [sequences[i][:max_length] for i in rows]
        width = max(len(s) for s in batch)
        ids = torch.zeros((len(batch), width), dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for r, seq in enumerate(batch):
            ids[r, : len(seq)] = torch.tensor(seq)
            mask[r, : len(seq)] = 1
        features = {
            "input_ids": ids.to(device),
            "attention_mask": mask.to(device),
            "token_type_ids": torch.zeros_like(ids).to(device),
        }
        tokens = transformer(features)["token_embeddings"].float()
        weights = features["attention_mask"].unsqueeze(-1).float()
        out[rows] = ((tokens * weights).sum(1) / weights.sum(1)).cpu().numpy()
    return out


# --------------------------------------------------------------------------- PCA and the fit


def _pca(rows: np.ndarray, dims: int) -> tuple[np.ndarray, np.ndarray]:
    """(basis (D, dims), mean (D,)) of the principal axes of ``rows``."""
    rows = rows.astype(np.float64)
    mean = rows.mean(axis=0)
    covariance = np.cov(rows - mean, rowvar=False)
    values, vectors = np.linalg.eigh(covariance)
    basis = vectors[:, np.argsort(values)[::-1][:dims]]
    return basis.astype(np.float32), mean.astype(np.float32)


def _bags(tokenizer: Tokenizer, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Flat token ids of ``texts`` and the offset where each text starts (plus the total at the end)."""
    encodings = tokenizer.encode_batch_fast(texts, add_special_tokens=False)
    lengths = np.array([len(e.ids) for e in encodings], dtype=np.int64)
    ids = np.fromiter((i for e in encodings for i in e.ids), dtype=np.int64, count=int(lengths.sum()))
    return ids, np.concatenate(([0], np.cumsum(lengths)))


def _bag_means(table: np.ndarray, ids: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    lengths = np.diff(offsets)
    nonempty = lengths > 0
    out = np.zeros((len(lengths), table.shape[1]), dtype=np.float32)
    out[nonempty] = np.add.reduceat(table[ids], offsets[:-1][nonempty], axis=0) / lengths[nonempty, None]
    return out


def _fit(
    table: np.ndarray,
    ids: np.ndarray,
    offsets: np.ndarray,
    targets: np.ndarray,
    keep: np.ndarray,
    *,
    epochs: int,
    learning_rate: float,
    batch_size: int,
    device: str,
    seed: int,
    show_progress_bar: bool,
) -> np.ndarray:
    """Train the rows so that each text's mean row has the teacher's direction (1 - cosine loss).

    A tenth of the texts is held out; the rows of the epoch with the lowest held-out loss are kept.
    Rows of tokens the training texts never use keep their start values.
    """
    import torch

    generator = np.random.default_rng(seed)
    count = len(offsets) - 1
    order = generator.permutation(count)
    held = order[: max(1, count // 10)]
    train = order[len(held) :]
    lengths = np.diff(offsets)
    torch.manual_seed(seed)
    # Sparse gradients: a step touches only the rows of its texts' tokens, not the whole table.
    embedding = torch.nn.EmbeddingBag.from_pretrained(
        torch.from_numpy(table.copy()), freeze=False, mode="mean", sparse=True
    ).to(device)
    optimizer = torch.optim.SparseAdam(list(embedding.parameters()), lr=learning_rate * _scale(table[keep]))
    target = torch.from_numpy(np.ascontiguousarray(targets, dtype=np.float32)).to(device)

    def batch(rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        parts = [ids[offsets[r] : offsets[r + 1]] for r in rows]
        flat = torch.from_numpy(np.concatenate(parts) if parts else np.zeros(0, np.int64)).to(device)
        starts = torch.from_numpy(np.concatenate(([0], np.cumsum(lengths[rows])[:-1]))).to(device)
        return flat, starts

    def loss_of(rows: np.ndarray) -> torch.Tensor:
        flat, starts = batch(rows)
        predicted = embedding(flat, starts)
        return (1 - torch.nn.functional.cosine_similarity(predicted, target[rows], dim=1)).mean()

    def held_loss() -> float:
        with torch.no_grad():
            return float(
                sum(loss_of(held[i : i + 4096]).item() * len(held[i : i + 4096]) for i in range(0, len(held), 4096))
                / len(held)
            )

    # The steps are small sparse updates: extra threads mostly wait on each other (on a busy machine,
    # two threads ran an epoch five times slower than one).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(
            embedding,
            optimizer,
            loss_of,
            held_loss,
            train,
            generator,
            epochs=epochs,
            batch_size=batch_size,
            show_progress_bar=show_progress_bar,
        )
    finally:
        torch.set_num_threads(threads)


def _train(
    embedding: Any,
    optimizer: Any,
    loss_of: Any,
    held_loss: Any,
    train: np.ndarray,
    generator: np.random.Generator,
    *,
    epochs: int,
    batch_size: int,
    show_progress_bar: bool,
) -> np.ndarray:
    """The epochs of :func:`_fit`; returns the rows of the epoch with the lowest held-out loss."""
    best_loss, best = held_loss(), embedding.weight.detach().clone()
    logger.info("fit: held-out loss %.4f before training", best_loss)
    rounds = range(epochs)
    if show_progress_bar:
        from tqdm.auto import tqdm

        rounds = tqdm(rounds, desc="Fit", unit="epoch")
    for epoch in rounds:
        generator.shuffle(train)
        for i in range(0, len(train), batch_size):
            optimizer.zero_grad()
            loss_of(train[i : i + batch_size]).backward()
            optimizer.step()
        loss = held_loss()
        logger.info("fit: epoch %d held-out loss %.4f", epoch + 1, loss)
        if loss < best_loss:
            best_loss, best = loss, embedding.weight.detach().clone()
        elif loss > best_loss * 1.002:  # past the best point: the rest would only overfit
            break
    return best.cpu().numpy()


def _scale(rows: np.ndarray) -> float:
    """Typical absolute size of the table's entries, so the step size does not depend on the teacher's scale."""
    return float(np.sqrt(np.mean(np.square(rows)))) or 1.0


__all__ = ["distill"]
