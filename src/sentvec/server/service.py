"""The embedding service behind the routes: prompts, tokenization, limits, admission and the batcher."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import cast

import numpy as np
from fastapi.concurrency import run_in_threadpool

from sentvec.model import SentenceTransformer
from sentvec.server.batching import Batcher, BatchFailed, QueueFull, ShuttingDown
from sentvec.server.errors import APIError, unprocessable
from sentvec.server.metrics import Metrics
from sentvec.server.schemas import Inputs, cut_text
from sentvec.server.settings import ServerSettings


class EmbeddingService:
    """Everything between a checked request and its vectors: prompts, tokenization, limits, the batcher."""

    def __init__(self, model: SentenceTransformer, settings: ServerSettings) -> None:
        from tokenizers import Tokenizer as RustTokenizer

        self.model = model
        self.settings = settings
        self.name = settings.model_name or getattr(model, "model_name_or_path", None) or "sentvec"
        self._held = 0  # requests admitted and not yet answered (see admitted())
        self._held_lock = threading.Lock()
        self.metrics = Metrics(lambda: self._held)
        self.batcher = Batcher(
            model,
            max_batch_tokens=settings.max_batch_tokens,
            max_queue=settings.max_queue,
            on_batch=self.metrics.on_batch,
        )
        self.tokenizer = model.tokenizer
        # A copy without truncation, to count the tokens of over-long inputs and for /tokenize. It is
        # never changed after this, so request threads can share it.
        self._untruncated = RustTokenizer.from_str(self.tokenizer._tokenizer.to_str())
        self._untruncated.no_truncation()
        self._untruncated.no_padding()
        self.dimension = int(cast(int, model.get_embedding_dimension()))  # a served model always has one
        self.vocab_size = int(model.transformer.config.vocab_size)

    @property
    def max_seq_length(self) -> int:
        """The longest input, in tokens, the model embeds."""
        return int(cast(int, self.model.max_seq_length))

    # ------------------------------------------------------------------ preparing inputs

    def prompt(self, prompt_name: str | None) -> str | None:
        """The prompt text ``encode()`` would use: ``prompt_name``'s, else the model's default one."""
        prompts = getattr(self.model, "prompts", {}) or {}
        if prompt_name is not None and prompt_name not in prompts:
            have = ", ".join(sorted(prompts)) or "none"
            raise unprocessable(
                f"prompt_name={prompt_name!r} is not one of this model's prompts ({have})",
                "prompt_name",
                "unknown_prompt",
            )
        name = prompt_name or getattr(self.model, "default_prompt_name", None)
        return (prompts.get(name) or None) if name else None

    def prepare(
        self, inputs: Inputs, param: str | Callable[[int], str], truncate: bool, prompt_name: str | None = None
    ) -> tuple[list[list[int]], int | None]:
        """Token-id sequences for the batcher, and the prompt length pooling may need.

        Texts go through the model's own tokenizer (truncating at ``max_seq_length`` when ``truncate``);
        token ids are checked against the vocabulary and passed on as they are. ``param`` names the
        field in errors (``input`` gives ``input[3]``), or is a function from an item's index to its name.
        """
        limit = self.max_seq_length
        name = param if callable(param) else lambda i: f"{param}[{i}]"
        if inputs.ids is not None:
            sequences = []
            for i, seq in enumerate(inputs.ids):
                bad = next((t for t in seq if not 0 <= t < self.vocab_size), None)
                if bad is not None:
                    raise unprocessable(
                        f"{name(i)} holds token id {bad}, outside this model's vocabulary (0 to {self.vocab_size - 1})",
                        name(i),
                        "invalid_token_id",
                    )
                if len(seq) > limit and not truncate:
                    raise self._too_long(name(i), len(seq), sum(len(s) > limit for s in inputs.ids))
                sequences.append(seq[:limit])
            return sequences, None
        texts = inputs.texts or []
        prompt = self.prompt(prompt_name)
        if prompt:
            texts = [prompt + text for text in texts]
        # Very long texts are tokenized by a prefix: their first max_seq_length tokens are all that is kept.
        cut = [cut_text(text, limit) for text in texts]
        encodings = self.tokenizer.encode(cut)
        whole = [i for i, e in enumerate(encodings) if cut[i] is not texts[i] and not e.overflowing]
        if whole:  # the prefix did not fill max_seq_length after all: tokenize the whole text
            cut_texts = [texts[i] for i in whole]
            for i, encoding in zip(whole, self.tokenizer.encode(cut_texts)):
                encodings[i], cut[i] = encoding, texts[i]
        over = [i for i, e in enumerate(encodings) if e.overflowing]
        if over and not truncate:
            first = cut[over[0]]
            # encode_batch, unlike encode, lets other threads (the event loop) run while it works
            count = len(self._untruncated.encode_batch([first.lower() if self.tokenizer.lowercase else first])[0])
            raise self._too_long(name(over[0]), count, len(over), at_least=first is not texts[over[0]])
        prompt_length = None
        if prompt:
            # as encode() counts it: the prompt's tokens without the closing special token
            prompt_length = len(self.tokenizer.encode([prompt])[0].ids) - 1
        return [e.ids for e in encodings], prompt_length

    def _too_long(self, item: str, count: int, how_many: int, at_least: bool = False) -> APIError:
        others = f" ({how_many} inputs are over the limit)" if how_many > 1 else ""
        return unprocessable(
            f"{item} has {'more than ' if at_least else ''}{count} tokens; this model takes at most {self.max_seq_length} "
            f'(max_seq_length){others}. Shorten it, send "truncate": true (TEI routes), or start the server '
            "with --auto-truncate",
            item,
            "too_many_tokens",
        )

    # ------------------------------------------------------------------ embedding

    async def embed(
        self, inputs: Inputs, param: str | Callable[[int], str], truncate: bool, prompt_name: str | None = None
    ) -> tuple[np.ndarray, int]:
        """(len(inputs), dim) float32 vectors as the model gives them, and the number of tokens embedded.

        Call it within :meth:`admitted`."""
        sequences, prompt_length = await run_in_threadpool(self.prepare, inputs, param, truncate, prompt_name)
        try:
            future = self.batcher.submit(sequences, prompt_length)
        except QueueFull as err:
            raise self._refuse(str(err)) from None
        except ShuttingDown as err:
            raise APIError(503, f"{err}; retry shortly", code="not_ready") from None
        try:
            vectors = await asyncio.wrap_future(future)
        except BatchFailed as err:
            raise APIError(500, str(err), code="model_error") from None
        except ShuttingDown as err:
            raise APIError(503, str(err), code="not_ready") from None
        tokens = sum(len(s) for s in sequences)
        self.metrics.inputs.inc(len(sequences))
        self.metrics.tokens.inc(tokens)
        return vectors, tokens

    @contextmanager
    def admitted(self) -> Iterator[None]:
        """Hold one of the ``max_queue`` places while a request is worked on; 429 when none is free.

        Every route that makes the server work (embeddings, similarity, search, tokenize) passes through
        here, before any of that work, so one kind of request cannot crowd out the others unbounded.
        """
        with self._held_lock:
            if self._held >= self.settings.max_queue:
                raise self._refuse(f"{self._held} requests are already held (max_queue={self.settings.max_queue})")
            self._held += 1
        try:
            yield
        finally:
            with self._held_lock:
                self._held -= 1

    @property
    def held(self) -> int:
        """Requests admitted and not yet answered."""
        return self._held

    def _refuse(self, why: str) -> APIError:
        return APIError(
            429,
            f"the server is at capacity: {why}; retry after {self.settings.retry_after} s",
            code="queue_full",
            headers={"Retry-After": str(self.settings.retry_after)},
        )

    def check_dimensions(self, dimensions: int | None) -> None:
        """422 when a request asks for more ``dimensions`` than the model's embeddings have."""
        if dimensions is not None and dimensions > self.dimension:
            raise unprocessable(
                f"dimensions={dimensions}, but this model's embeddings have {self.dimension}; "
                f"ask for 1 to {self.dimension}",
                "dimensions",
                "invalid_dimensions",
            )
