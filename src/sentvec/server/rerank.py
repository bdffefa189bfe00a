"""``POST /rerank`` (text-embeddings-inference shape), served by a cross-encoder fixed at start.

A request scores ``query`` against each of ``texts`` with :meth:`CrossEncoder.predict` and answers
``[{"index", "score"[, "text"]}]`` best first. The cross-encoder runs one request at a time behind a
lock (it is not part of the embedding batcher); requests beyond ``max_queue`` waiting for it are
refused with 429, as embedding requests are.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, Literal, cast

from fastapi.concurrency import run_in_threadpool
from pydantic import StrictBool, StrictStr
from torch import nn

from sentvec.cross_encoder.model import CrossEncoder
from sentvec.server.errors import APIError, bad_request, unprocessable
from sentvec.server.schemas import _Request, cut_text
from sentvec.tokenizer import Tokenizer


class RerankRequest(_Request):
    """``POST /rerank`` (TEI): ``raw_scores`` gives logits without the model's activation (sigmoid);
    ``truncate`` defaults to the server's ``--auto-truncate``."""

    query: StrictStr
    texts: list[StrictStr]
    raw_scores: StrictBool = False
    return_text: StrictBool = False
    truncate: StrictBool | None = None
    truncation_direction: Literal["Right", "right"] = "Right"


class RerankService:
    """Checks a rerank request against the server's limits and scores it with the cross-encoder.

    Args:
        reranker: a loaded :class:`~sentvec.CrossEncoder` with one label.
        max_client_batch_size: most texts in one request.
        max_queue: most rerank requests held at once (running or waiting for the model).
        refuse: builds the 429 error from a reason (the embedding service's, so both read the same).
        name: the reranker's name, for /info.
    """

    def __init__(
        self,
        reranker: CrossEncoder,
        *,
        max_client_batch_size: int,
        max_queue: int,
        refuse: Callable[[str], APIError],
        name: str | None = None,
    ) -> None:
        from tokenizers import Tokenizer as RustTokenizer

        if getattr(reranker, "num_labels", 1) != 1:
            raise ValueError(
                f"the reranker has {reranker.num_labels} labels; /rerank needs a cross-encoder with "
                "one output (a relevance score), such as a cross-encoder/ms-marco-* model"
            )
        self.reranker = reranker
        self._tokenizer = cast(Tokenizer, reranker.tokenizer)  # a loaded cross-encoder always has one
        self.name = name or getattr(reranker, "model_name_or_path", None) or "reranker"
        self.max_client_batch_size = max_client_batch_size
        self.max_queue = max_queue
        self._refuse = refuse
        self._lock = threading.Lock()  # one model call at a time: requests do not race on the weights or device
        # ...and requests wait for it on the event loop, not each in a worker thread that other routes need
        self._turn = asyncio.Lock()
        self._held = 0
        self._held_lock = threading.Lock()
        # without truncation: to count the tokens of an over-long pair for the 422 message
        self._untruncated = RustTokenizer.from_str(self._tokenizer._tokenizer.to_str())
        self._untruncated.no_truncation()
        self._untruncated.no_padding()

    def check(self, req: RerankRequest) -> None:
        """400 for an empty query or text, 422 for too many texts."""
        if not req.query:
            raise bad_request(
                "query is an empty string; send the text to rank the texts against", "query", "empty_input"
            )
        if not req.texts:
            raise bad_request("texts is an empty list; send at least one text to rank", "texts", "empty_input")
        if len(req.texts) > self.max_client_batch_size:
            raise unprocessable(
                f"texts has {len(req.texts)} items; this server takes at most "
                f"{self.max_client_batch_size} per request (--max-client-batch-size): split it "
                "into several requests",
                "texts",
                "too_many_inputs",
            )
        for i, text in enumerate(req.texts):
            if not text:
                raise bad_request(
                    f"texts[{i}] is an empty string; send some text or leave it out", f"texts[{i}]", "empty_input"
                )

    def _pairs(self, query: str, texts: list[str], truncate: bool) -> list[tuple[str, str]]:
        """The (query, text) pairs to score: very long texts cut to a prefix that still fills max_length
        (tokenizing all of a megabyte only to keep its start takes seconds); 422 for a pair longer than
        max_length unless ``truncate``."""
        tokenizer = self._tokenizer
        limit = cast(int, self.reranker.max_length)  # a loaded cross-encoder always has both
        pairs = [(cut_text(query, limit), cut_text(t, limit)) for t in texts]
        encodings = tokenizer.encode_pairs(pairs)
        for i, ((q, t), encoding) in enumerate(zip(pairs, encodings)):
            if (q is not query or t is not texts[i]) and not encoding.overflowing:
                pairs[i] = (query, texts[i])  # the prefixes did not fill max_length: keep the whole texts
                encodings[i] = tokenizer.encode_pairs([pairs[i]])[0]
        over = [i for i, e in enumerate(encodings) if e.overflowing]
        if not over or truncate:
            return pairs
        query_text, text = pairs[over[0]]
        if tokenizer.lowercase:
            query_text, text = query_text.lower(), text.lower()
        # encode_batch, unlike encode, lets other threads (the event loop) run while it works
        count = len(self._untruncated.encode_batch([(query_text, text)])[0])
        at_least = "more than " if pairs[over[0]] != (query, texts[over[0]]) else ""
        others = f" ({len(over)} texts are over the limit)" if len(over) > 1 else ""
        item = f"texts[{over[0]}]"
        raise unprocessable(
            f"query + {item} make {at_least}{count} tokens; the reranker takes at most {limit} "
            f'(max_length){others}. Shorten them, send "truncate": true, or start the server with --auto-truncate',
            item,
            "too_many_tokens",
        )

    def _score(self, req: RerankRequest, truncate: bool) -> list[float]:
        pairs = self._pairs(req.query, req.texts, truncate)
        with self._lock:
            scores = self.reranker.predict(
                pairs,
                activation_fn=nn.Identity() if req.raw_scores else None,
                show_progress_bar=False,
                convert_to_numpy=True,
            )
        return [float(s) for s in scores]

    async def rerank(self, req: RerankRequest, truncate: bool) -> list[dict[str, Any]]:
        """``[{"index", "score"[, "text"]}]`` by decreasing score (ties keep the request's order)."""
        self.check(req)
        with self._held_lock:
            if self._held >= self.max_queue:
                raise self._refuse(f"{self._held} rerank requests are already held (max_queue={self.max_queue})")
            self._held += 1
        try:
            async with self._turn:
                scores = await run_in_threadpool(self._score, req, truncate)
        except APIError:
            raise
        except Exception as err:  # a model failure fails this request only
            raise APIError(
                500, f"the reranker failed on this request: {type(err).__name__}: {err}", code="model_error"
            ) from None
        finally:
            with self._held_lock:
                self._held -= 1
        order = sorted(range(len(scores)), key=lambda i: -scores[i])
        return [{"index": i, "score": scores[i], **({"text": req.texts[i]} if req.return_text else {})} for i in order]
