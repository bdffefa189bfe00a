"""SparseEncoder: texts -> sparse vectors over the vocabulary (SPLADE), at sentence-transformers' surface.

>>> from sentvec.sparse_encoder import SparseEncoder
>>> model = SparseEncoder("sentvec/splade-tiny")
>>> docs = model.encode_document(["The cat sat on the mat.", "Stocks fell sharply."])   # (2, 30522) sparse COO
>>> query = model.encode_query("where did the cat sit?")
>>> model.similarity(query, docs)         # dot products, (1, 2)
>>> model.decode(query, top_k=5)          # [('cat', 2.1), ('sit', 1.7), ...]

Inference-free (queries cost a tokenisation and a table lookup; documents run SPLADE), as in sentence-transformers:

>>> from sentvec.modules import Router
>>> from sentvec.sparse_encoder import MLMTransformer, SparseStaticEmbedding, SpladePooling
>>> mlm = MLMTransformer("naver/splade-v3")
>>> query = SparseStaticEmbedding(mlm.tokenizer, weight=None)     # one weight per token (e.g. IDF), trainable
>>> pooling = SpladePooling("max", embedding_dimension=mlm.get_word_embedding_dimension())
>>> model = SparseEncoder(modules=[Router.for_query_document([query], [mlm, pooling])], similarity_fn_name="dot")

Each dimension is a vocabulary token and a vector's few non-zero weights say which terms (the text's own and
related ones) matter: it searches like BM25 with learned term weights (an inverted index, see
:mod:`sentvec.sparse_encoder.inverted`).

CSR ("Beyond Matryoshka" sparse coding): a SentenceTransformer's steps then a
:class:`~sentvec.sparse_encoder.SparseAutoEncoder`, whose dimensions are learned latents rather than tokens.
``SparseEncoder(folder)`` of a folder saved as a SentenceTransformer adds a new (untrained) one, as
sentence-transformers does:

>>> model = SparseEncoder("sentence-transformers/all-MiniLM-L6-v2")   # warns: Converting ... to SparseEncoder.
>>> [type(m).__name__ for m in model]     # ['Transformer', 'Pooling', 'Normalize', 'SparseAutoEncoder']
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from sentvec._version import __version__
from sentvec.model import SentenceTransformer, output_dimension
from sentvec.model_folder import load_folder, saved_model_type, staged_save, write_licence_files, write_settings
from sentvec.modules import Router, registry, type_name
from sentvec.paths import read_json, write_json
from sentvec.sparse_encoder.modules import TYPE_NAMES, MLMTransformer, SparseAutoEncoder, SpladePooling

# Warnings keep the logger name users filter on (sentvec.model).
logger = logging.getLogger("sentvec.model")


class SparseEncoder(SentenceTransformer):
    """Load or assemble a sparse encoder (SPLADE, or CSR) and encode texts into sparse vectors.

    Args:
        model_name_or_path: a SparseEncoder folder (modules.json naming MLMTransformer and SpladePooling, a
            Router of an inference-free model, or a CSR model's steps ending in a SparseAutoEncoder), a bare
            ``*ForMaskedLM`` folder (SPLADE max pooling is added), a SentenceTransformer folder (a new
            SparseAutoEncoder is added, with a warning), or a name the model store resolves.
        modules: build from these modules instead: ``[MLMTransformer, SpladePooling]``, for an inference-free
            model ``[Router.for_query_document([SparseStaticEmbedding], [MLMTransformer, SpladePooling])]``, or
            for CSR ``[Transformer, Pooling, SparseAutoEncoder]``.
        max_active_dims: keep at most this many non-zero weights per vector (the largest); None keeps all (a
            CSR model's default is its SparseAutoEncoder's ``k``).
        device, prompts, default_prompt_name, cache_folder, revision, token, local_files_only, allow_pickle:
            as for :class:`~sentvec.SentenceTransformer`.
        similarity_fn_name: ``"dot"`` (default; SPLADE's) or ``"cosine"``.
    """

    default_similarity_fn_name = "dot"

    def __init__(
        self,
        model_name_or_path: str | os.PathLike[str] | None = None,
        *,
        modules: Iterable[nn.Module] | None = None,
        device: str | None = None,
        prompts: dict[str, str] | None = None,
        default_prompt_name: str | None = None,
        cache_folder: str | None = None,
        revision: str | None = None,
        local_files_only: bool = False,
        token: bool | str | None = None,
        similarity_fn_name: str | None = None,
        max_active_dims: int | None = None,
        allow_pickle: bool = False,
        **kwargs: Any,
    ) -> None:
        if modules is not None and model_name_or_path is not None:
            raise ValueError("pass either model_name_or_path or modules, not both")
        super().__init__(
            model_name_or_path,
            modules=modules,
            device=device,
            prompts=prompts,
            default_prompt_name=default_prompt_name,
            cache_folder=cache_folder,
            revision=revision,
            local_files_only=local_files_only,
            token=token,
            similarity_fn_name=similarity_fn_name,
            allow_pickle=allow_pickle,
            **kwargs,
        )
        if max_active_dims is not None and max_active_dims < 1:
            raise ValueError(f"max_active_dims={max_active_dims}; it must be at least 1 (or None for all)")
        if max_active_dims is not None:
            self.max_active_dims: int | None = max_active_dims
        if self.max_active_dims is None:  # a CSR model keeps its autoencoder's k by default
            self.max_active_dims = next((m.k for m in self if isinstance(m, SparseAutoEncoder)), None)
        self._active_dims: int | None = None

    def _load_folder(
        self,
        folder: Path,
        *,
        allow_pickle: bool,
        trust_remote_code: bool = False,
        known: dict[str, type] | None = None,
    ) -> tuple[list[nn.Module], dict[str, Any]]:
        """A SparseEncoder folder's modules (or a bare masked-LM folder with SPLADE max pooling) and settings.

        A folder saved as a SentenceTransformer keeps its steps and settings and gets a new
        :class:`SparseAutoEncoder` on top (a CSR model to train), as sentence-transformers does; one that already
        holds a sparse step (a SPLADE folder that records no model type) loads as it is.
        """
        if not (folder / "modules.json").is_file():  # a bare *ForMaskedLM folder: SPLADE's usual max pooling
            settings = read_json(folder / "config_sentence_transformers.json", required=False, expect=dict)
            transformer = MLMTransformer.load(folder, allow_pickle=allow_pickle)
            return [transformer, SpladePooling("max", "relu", transformer.config.vocab_size)], settings
        # the sparse steps are in the registry every folder is read through (sentvec.modules.registry)
        modules, settings = load_folder(
            folder, allow_pickle=allow_pickle, trust_remote_code=trust_remote_code, known=known
        )
        saved = saved_model_type(folder)
        if saved == "SentenceTransformer" and not _has_sparse_step(modules):
            logger.warning("Converting %s model %s to %s.", saved, folder, self.model_type)
            modules.append(_new_autoencoder(modules, folder))
        return modules, settings

    def _parse_model_config(self, config: dict[str, Any]) -> None:
        """The SentenceTransformer settings, plus the folder's ``max_active_dims``."""
        super()._parse_model_config(config)
        self.max_active_dims = config.get("max_active_dims")

    def get_embedding_dimension(self) -> int | None:
        """The length of every sparse vector: the vocabulary size, or a CSR model's ``hidden_dim``."""
        last = self[-1] if len(self) else None
        if isinstance(last, SparseAutoEncoder):
            return last.hidden_dim
        first = self[0] if len(self) else None
        if isinstance(first, MLMTransformer):
            return first.config.vocab_size
        return first.get_embedding_dimension() if isinstance(first, Router) else None

    get_sentence_embedding_dimension = get_embedding_dimension

    # ------------------------------------------------------------------ encoding

    def encode(  # type: ignore[override]
        self,
        inputs: str | Iterable[str] | None = None,
        prompt_name: str | None = None,
        prompt: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        convert_to_tensor: bool = True,
        convert_to_sparse_tensor: bool = True,
        save_to_cpu: bool = False,
        device: str | None = None,
        max_active_dims: int | None = None,
        **kwargs: Any,
    ) -> Tensor | list[Tensor]:
        """Encode texts into sparse vectors.

        Args:
            inputs: one string or an iterable of strings.
            prompt_name, prompt, batch_size, show_progress_bar, device: as :meth:`SentenceTransformer.encode`.
            convert_to_tensor: one (N, vocab) tensor (a 1-D one for a single string); False: a list of 1-D tensors.
            convert_to_sparse_tensor: sparse COO tensors (the default); False gives dense ones.
            save_to_cpu: accepted for compatibility: results are always gathered on the CPU.
            max_active_dims: keep this many largest weights per vector (default: the model's ``max_active_dims``).

        Returns:
            Sparse COO tensor(s) of non-negative float32 weights, one dimension per vocabulary token.
        """
        if kwargs.get("output_value", "sentence_embedding") != "sentence_embedding":
            raise ValueError("a SparseEncoder gives sentence embeddings only")
        kwargs.pop("output_value", None)
        active = max_active_dims if max_active_dims is not None else self.max_active_dims
        if active is not None and active < 1:
            raise ValueError(f"max_active_dims={active}; it must be at least 1 (or None for all)")
        self._active_dims = active
        if active is not None and "max_active_dims" in self.get_model_kwargs():  # a step that prunes itself (CSR)
            kwargs["max_active_dims"] = active
        try:
            encoded: Any = super().encode(
                inputs,
                prompt_name=prompt_name,
                prompt=prompt,
                batch_size=batch_size,
                show_progress_bar=show_progress_bar,
                convert_to_numpy=False,
                convert_to_tensor=False,
                device=device,
                **kwargs,
            )
        finally:
            self._active_dims = None
        single = isinstance(inputs, str)
        rows: list[Tensor] = [encoded] if single else list(encoded)
        if not convert_to_sparse_tensor:
            rows = [row.to_dense() for row in rows]
        if not convert_to_tensor:
            return rows[0] if single else rows
        if single:
            return rows[0]
        return _stack(rows, self.get_embedding_dimension() or 0, sparse=convert_to_sparse_tensor)

    def _outputs(  # type: ignore[override]  # per-model state (max_active_dims): not static here
        self,
        out: dict[str, Any],
        count: int,
        output_value: Any,
        truncate_dim: int | None,
        normalize: bool,
    ) -> list[Any]:
        """Each text's vector, pruned to ``max_active_dims`` and made sparse per batch (a dense (N, vocab)
        matrix of a whole corpus would not fit in memory)."""
        vectors = out["sentence_embedding"].float()
        if normalize:
            vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
        if self._active_dims is not None and self._active_dims < vectors.shape[1]:
            top = torch.topk(vectors, self._active_dims, dim=1)
            vectors = torch.zeros_like(vectors).scatter_(1, top.indices, top.values)
        return [row.cpu().to_sparse() for row in vectors]

    def _empty(self, truncate_dim: int | None) -> Tensor:
        return torch.sparse_coo_tensor(
            torch.empty((2, 0), dtype=torch.long),
            torch.empty(0),
            (0, self.get_embedding_dimension() or 0),
            check_invariants=False,
        )

    # ------------------------------------------------------------------ reading vectors

    def decode(
        self, embeddings: Tensor, top_k: int | None = None
    ) -> list[tuple[str, float]] | list[list[tuple[str, float]]]:
        """The tokens and weights of sparse vector(s), largest weight first: a list of ``(token, weight)`` for a
        1-D vector, one such list per row for a 2-D one. ``top_k`` keeps the largest few."""
        dense = embeddings.to_dense() if embeddings.is_sparse else embeddings
        rows = dense.unsqueeze(0) if dense.dim() == 1 else dense
        tokenizer = self.tokenizer._tokenizer  # the `tokenizers` object: id -> token text
        decoded = []
        for row in rows.float().cpu():
            ids = torch.nonzero(row).flatten()
            weights = row[ids]
            order = torch.argsort(weights, descending=True, stable=True)[:top_k]
            decoded.append([(tokenizer.id_to_token(int(ids[i])), float(weights[i])) for i in order])
        return decoded[0] if dense.dim() == 1 else decoded

    def similarity(self, embeddings1: Any, embeddings2: Any) -> Tensor:
        """Every vector of the first batch against every one of the second: (N1, N2) dense, by
        ``similarity_fn_name`` (dot product by default). Takes sparse or dense tensors."""
        a, b = _as_2d(embeddings1), _as_2d(embeddings2)
        if self.similarity_fn_name == "dot" and (a.is_sparse or b.is_sparse):
            product = torch.sparse.mm(a.coalesce(), b.t().coalesce()) if a.is_sparse else a @ b.t().to_dense()
            return product.to_dense() if product.is_sparse else product
        return super().similarity(a.to_dense() if a.is_sparse else a, b.to_dense() if b.is_sparse else b)

    def similarity_pairwise(self, embeddings1: Any, embeddings2: Any) -> Tensor:
        """Score ``embeddings1[i]`` against ``embeddings2[i]`` (sparse or dense) for each i: (N,) tensor."""
        a, b = _as_2d(embeddings1), _as_2d(embeddings2)
        return super().similarity_pairwise(a.to_dense() if a.is_sparse else a, b.to_dense() if b.is_sparse else b)

    @staticmethod
    def sparsity(embeddings: Tensor) -> dict[str, float]:
        """``active_dims`` (mean non-zero weights per vector) and ``sparsity_ratio`` (the share of zeros)."""
        rows = _as_2d(embeddings)
        if rows.is_sparse:
            rows = rows.coalesce()
            active = float((rows.values() != 0).sum()) / max(1, rows.shape[0])
        else:
            active = float((rows != 0).sum()) / max(1, rows.shape[0])
        return {"active_dims": active, "sparsity_ratio": 1.0 - active / rows.shape[1] if rows.shape[1] else 0.0}

    # ------------------------------------------------------------------ saving

    def save(
        self,
        path: str | os.PathLike[str],
        model_name: str | None = None,
        create_model_card: bool = True,
        safe_serialization: bool = True,
        **kwargs: Any,
    ) -> None:
        """Write a sentence-transformers SparseEncoder folder: MLMTransformer at the root and 1_SpladePooling/,
        for an inference-free model the Router at the root with one folder per routed step
        (``query_0_SparseStaticEmbedding/``, ``document_0_MLMTransformer/``, ``document_1_SpladePooling/``), for
        CSR the Transformer at the root, then ``1_Pooling/``... and ``N_SparseAutoEncoder/``."""
        if not safe_serialization:
            raise ValueError("sentvec writes safetensors only; safe_serialization=False is not supported")
        with staged_save(path) as staging:
            entries = []
            module: Any
            for idx, module in enumerate(self):
                _check_savable(module, f"module {idx}")
                sub = "" if idx == 0 else f"{idx}_{type(module).__name__}"
                (staging / sub).mkdir(exist_ok=True)
                module.save(staging / sub)
                entries.append({"idx": idx, "name": str(idx), "path": sub, "type": type_name(module)})
            write_json(staging / "modules.json", entries)
            write_settings(
                staging,
                {**self._settings(), "model_type": "SparseEncoder", "max_active_dims": self.max_active_dims},
            )
            write_licence_files(staging, self._licence_files)
            if create_model_card:
                (staging / "README.md").write_text(
                    f"# {model_name or Path(path).name}\n\nA sparse encoder saved by sentvec {__version__}; "
                    "it loads in `sentvec.sparse_encoder.SparseEncoder` and sentence-transformers' "
                    "`SparseEncoder`.\n",
                    encoding="utf-8",
                )

    save_pretrained = save


def _as_2d(embeddings: Any) -> Tensor:
    tensor = embeddings if isinstance(embeddings, Tensor) else torch.as_tensor(embeddings)
    if isinstance(embeddings, list) and embeddings and isinstance(embeddings[0], Tensor):
        tensor = torch.stack(embeddings)
    return tensor.unsqueeze(0) if tensor.dim() == 1 else tensor


def _stack(rows: list[Tensor], width: int, *, sparse: bool) -> Tensor:
    if not sparse:
        return torch.stack(rows) if rows else torch.empty((0, width))
    indices, values = [], []
    for number, row in enumerate(rows):
        row = row.coalesce()
        indices.append(torch.stack([torch.full_like(row.indices()[0], number), row.indices()[0]]))
        values.append(row.values())
    if not rows:
        return torch.sparse_coo_tensor(
            torch.empty((2, 0), dtype=torch.long), torch.empty(0), (0, width), check_invariants=False
        )
    return torch.sparse_coo_tensor(
        torch.cat(indices, dim=1), torch.cat(values), (len(rows), width), check_invariants=False
    ).coalesce()


def _check_savable(module: nn.Module, where: str) -> None:
    """Refuse a step sentence-transformers' SparseEncoder could not load back (a Router's routed steps too)."""
    if isinstance(module, Router):
        for route, steps in module._routes().items():
            for number, step in enumerate(steps):
                _check_savable(step, f"{where}, route {route!r} step {number}")
    elif type(module) not in TYPE_NAMES and not registry.TYPE_NAMES.get(type(module), "").startswith(
        "sentence_transformers."
    ):
        raise TypeError(f"{where} ({type(module).__name__}) cannot be saved in a SparseEncoder folder")


def _has_sparse_step(modules: list[nn.Module]) -> bool:
    """Whether any of ``modules`` (or a step a Router holds) is one of the sparse encoders' own steps."""
    return any(type(step) in TYPE_NAMES for module in modules for step in module.modules())


def _new_autoencoder(modules: list[nn.Module], folder: Path) -> SparseAutoEncoder:
    """An untrained CSR autoencoder for the embeddings ``modules`` give, sized as sentence-transformers sizes the
    one it adds to a SentenceTransformer: 4x the embedding size, k a quarter of it, k_aux a half."""
    size = output_dimension(modules)
    if size is None:
        raise ValueError(
            f"{folder} holds no step that says its embedding size, so no SparseAutoEncoder can be sized for it"
        )
    return SparseAutoEncoder(input_dim=size, hidden_dim=4 * size, k=size // 4, k_aux=size // 2)
