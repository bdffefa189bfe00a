"""Router: different pipelines for different inputs, e.g. one for queries and one for documents.

``Router({"query": [...], "document": [...]})`` as a model's first step: ``encode_query`` runs the
query route, ``encode_document`` the document route, and ``encode(..., task=...)`` any named route.
``Asym`` is its old name.
"""

from __future__ import annotations

import ast
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from torch import nn

from sentvec.modules.module import InputModule, Module, _local_folder
from sentvec.modules.registry import load_module, type_name
from sentvec.paths import read_json, write_json

logger = logging.getLogger(__name__)

CONFIG_FILE = "router_config.json"
RouteKey = tuple[str | None, str | None]


class Router(InputModule):
    """Route inputs to one of several module sequences by task (and modality).

    Args:
        sub_modules: route name -> the modules of that route, first to last.
        default_route: the route used when ``encode`` gets no task. Default: the first route, unless
            ``allow_empty_key=False``.
        allow_empty_key: allow inputs without a task (then ``default_route`` defaults to the first route).
        route_mappings: ``(task, modality) -> route``; None in a key matches anything. Looked up in order
            (task, modality), (task, None), (None, modality), (None, None); then a route named like the task.
    """

    config_keys = ["default_route", "allow_empty_key", "route_mappings"]
    config_file_name = CONFIG_FILE
    forward_kwargs = {"task", "modality"}

    def __init__(
        self,
        sub_modules: dict[str, Iterable[nn.Module]] | None,
        default_route: str | None = None,
        allow_empty_key: bool = True,
        route_mappings: dict[RouteKey, str] | None = None,
    ) -> None:
        super().__init__()
        if not sub_modules:
            raise ValueError("Router sub_modules cannot be empty; give at least one route, e.g. {'query': [module]}")
        self.sub_modules = nn.ModuleDict(
            {
                name: modules if isinstance(modules, nn.Sequential) else nn.Sequential(*modules)
                for name, modules in sub_modules.items()
            }
        )
        if default_route is not None and default_route not in self.sub_modules:
            raise ValueError(f"Default route '{default_route}' not found in route keys: {list(self.sub_modules)}")
        if default_route is None and allow_empty_key:
            default_route = next(iter(self.sub_modules))
        self.default_route = default_route
        self.allow_empty_key = allow_empty_key
        # Multimodal keys are sorted tuples, so ("text", "image") and ("image", "text") are one key.
        self.route_mappings: dict[RouteKey, str] = {
            (task, _normal(modality)): route for (task, modality), route in (route_mappings or {}).items()
        }
        for key, route in self.route_mappings.items():
            if route not in self.sub_modules:
                raise ValueError(
                    f"route_mappings contains mapping to '{route}' which is not in sub_modules "
                    f"({list(self.sub_modules)}); key {key}"
                )

    @classmethod
    def for_query_document(
        cls,
        query_modules: list[nn.Module],
        document_modules: list[nn.Module],
        default_route: str | None = "document",
        allow_empty_key: bool = True,
        route_mappings: dict[RouteKey, str] | None = None,
    ) -> Router:
        """A Router with a ``query`` and a ``document`` route (documents by default)."""
        return cls(
            {"query": query_modules, "document": document_modules},
            default_route=default_route,
            allow_empty_key=allow_empty_key,
            route_mappings=route_mappings,
        )

    # ------------------------------------------------------------------ routing

    def _get_routes_string(self) -> str:
        """The routes for error messages: each route name, and each mapping as ``task=..., modality=...``."""
        names = [f"task='{name}'" for name in self.sub_modules]
        names += [
            f"(task={task!r}, modality={modality!r}) -> {route!r}"
            for (task, modality), route in self.route_mappings.items()
        ]
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]

    def _resolve_route_name(self, task: str | None = None, modality: Any = None) -> str | None:
        """The route for this task and modality, or None: the mappings first (see the class docstring),
        then a route named like the task, then one named like the modality."""
        modality = _normal(modality)
        for key in ((task, modality), (task, None), (None, modality), (None, None)):
            if key in self.route_mappings:
                return self.route_mappings[key]
        if task is not None and task in self.sub_modules:
            return task
        if task is None and isinstance(modality, str) and modality in self.sub_modules:
            return modality
        return None

    def _resolve_route(self, task: str | None = None, modality: Any = None) -> str:
        """:meth:`_resolve_route_name`, else the default route, else an error naming the routes."""
        route = self._resolve_route_name(task, modality)
        if route is not None:
            return route
        if task is not None:
            raise ValueError(f"No route found for task type '{task}'. Available routes: {self._get_routes_string()}")
        if self.training and self.default_route is None:
            raise ValueError(
                "You must provide a `router_mapping` argument on the training arguments, or set a "
                "default route in the `Router`, so each data set column maps to a route"
            )
        if self.default_route is not None:
            return self.default_route
        raise ValueError(
            f"Could not determine route for task=None, modality={modality!r}. Available routes: "
            f"{self._get_routes_string()}. Consider specifying the `task` parameter in `model.encode`, "
            "or setting a default route in the `Router`."
        )

    def preprocess(
        self,
        inputs: list[Any],
        prompt: str | None = None,
        task: str | None = None,
        modality: str | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Features of the route's first module, with ``task`` (and ``modality`` when given) added.

        Inputs may be one-key dicts ``{"query": text}`` (the old Asym form): the key is the task.
        """
        inputs = list(inputs)
        if inputs and isinstance(inputs[0], dict):
            tasks = {next(iter(item)) for item in inputs}
            if len(tasks) > 1:
                raise ValueError(
                    "You cannot pass a list of dictionaries with different task types "
                    f"({sorted(tasks)}) in one batch; encode each task separately"
                )
            task = task or tasks.pop()
            inputs = [next(iter(item.values())) for item in inputs]
        route = self._resolve_route(task, modality or "text")
        first = self._route(route)[0]
        if hasattr(first, "preprocess"):
            features = first.preprocess(inputs, prompt=prompt)
        else:
            if prompt:
                inputs = self._prepend_prompt(inputs, prompt)
            features = first.tokenize(inputs) if hasattr(first, "tokenize") else {}
        features = dict(features)
        features["task"] = task if task is not None else route
        if modality is not None:
            features["modality"] = modality
        return features

    def tokenize(self, texts: list[Any], **kwargs: Any) -> dict[str, Any]:
        """Features of ``texts`` made by the chosen route's first step (see :meth:`preprocess`)."""
        return self.preprocess(texts, **kwargs)

    def forward(
        self, features: dict[str, Any], task: str | None = None, modality: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """Run the steps of the route ``task`` (or ``modality``, else the default route) on ``features``."""
        task = task if task is not None else features.get("task")
        modality = modality if modality is not None else features.get("modality", "text")
        route = self._resolve_route(task, modality)
        call_kwargs = {"task": task, "modality": modality, **kwargs} if task is not None else {**kwargs}
        if modality is not None and "modality" not in call_kwargs:
            call_kwargs["modality"] = modality
        for module in self._route(route):
            accepted: set[str] = getattr(module, "forward_kwargs", set())
            features = module(features, **{k: v for k, v in call_kwargs.items() if k in accepted})
        return features

    def _route(self, name: str) -> Any:
        """The modules of route ``name``, looked up in ``sub_modules`` itself (a subclass of ModuleDict that
        watches lookups, as sentence-transformers' tests use, sees each one)."""
        return self.sub_modules[name]

    def _routes(self) -> dict[str, Any]:
        """Route name -> its modules (an ``nn.Sequential``), typed loosely: routed steps are any module."""
        return dict(self.sub_modules.items())

    def accepted_forward_kwargs(self) -> set[str]:
        """The keyword arguments this Router takes: its own and those any routed module takes."""
        names = set(self.forward_kwargs)
        for route in self._routes().values():
            for module in route:
                names |= set(getattr(module, "forward_kwargs", ()) or ())
        return names

    # ------------------------------------------------------------------ properties

    @property
    def modalities(self) -> list[Any]:
        """Every modality some route's first module reads (text unless a module says otherwise)."""
        found: list[Any] = []
        for route in self._routes().values():
            for modality in getattr(route[0], "modalities", ["text"]) if len(route) else []:
                if modality not in found:
                    found.append(modality)
        return found

    def on_model_ready(self, model: nn.Module) -> None:
        """Pass the model-ready hook on to the routed modules (the model does not see them itself)."""
        for route in self._routes().values():
            for module in route:
                hook = getattr(module, "on_model_ready", None)
                if hook is not None:
                    hook(model)

    @property
    def tokenizer(self) -> Any:
        """The tokenizer of the first route's first step (None if it has none)."""
        first = next(iter(self._routes().values()))[0]
        return getattr(first, "tokenizer", None)

    @property
    def max_seq_length(self) -> int | None:
        """The largest token limit of the routes' first steps (None when none has one). Settable: sets every route."""
        found = [getattr(route[0], "max_seq_length", None) for route in self._routes().values() if len(route)]
        lengths: list[int] = [n for n in found if n is not None]
        return max(lengths) if lengths else None

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        firsts = [route[0] for route in self._routes().values() if len(route) and hasattr(route[0], "max_seq_length")]
        if not firsts:
            logger.warning("No modules have a max_seq_length attribute; nothing to set in this Router")
        for module in firsts:
            module.max_seq_length = value

    def get_embedding_dimension(self) -> int | None:
        """The output size of the first route (routes should agree; a warning says when they do not)."""
        dims = [_route_dimension(route) for route in self._routes().values()]
        known = [d for d in dims if d is not None]
        if len(set(known)) > 1:
            logger.warning(
                "Different embedding dimensions across the Router's routes: %s", dict(zip(self.sub_modules, dims))
            )
        return dims[0] if dims else None

    get_sentence_embedding_dimension = get_embedding_dimension

    def get_config_dict(self) -> dict[str, Any]:
        """The settings ``router_config.json`` records beside the routes."""
        return {
            "default_route": self.default_route,
            "allow_empty_key": self.allow_empty_key,
            "route_mappings": self.route_mappings,
        }

    # ------------------------------------------------------------------ saving

    def save(
        self, output_path: str | os.PathLike[str], *args: Any, safe_serialization: bool = True, **kwargs: Any
    ) -> None:
        """Each route's modules in ``{route}_{i}_{Class}/`` and ``router_config.json`` naming them."""
        folder = Path(output_path)
        types: dict[str, str] = {}
        structure: dict[str, list[str]] = {}
        for route, modules in self._routes().items():
            structure[route] = []
            for idx, module in enumerate(modules):
                name = f"{route}_{idx}_{type(module).__name__}"
                (folder / name).mkdir(parents=True, exist_ok=True)
                module.save(folder / name)
                types[name] = type_name(module)
                structure[route].append(name)
        config = self.get_config_dict()
        config["route_mappings"] = {str(key): value for key, value in self.route_mappings.items()}
        write_json(folder / CONFIG_FILE, {"types": types, "structure": structure, "parameters": config})

    @classmethod
    def load(
        cls,
        model_name_or_path: str | os.PathLike[str],
        subfolder: str = "",
        trust_remote_code: bool = False,
        **kwargs: Any,
    ) -> Router:
        """Load a Router and every route's steps from ``router_config.json`` (or a legacy Asym ``config.json``)."""
        folder = _local_folder(model_name_or_path, subfolder, kwargs)
        config_path = folder / CONFIG_FILE if (folder / CONFIG_FILE).is_file() else folder / "config.json"
        config = read_json(config_path)
        loaded: dict[str, nn.Module] = {}
        routes: dict[str, list[nn.Module]] = {}
        for route, names in config["structure"].items():
            routes[route] = []
            for name in names:
                if name not in loaded:
                    loaded[name] = load_module(
                        config["types"][name], folder / name if name else folder, trust_remote_code=trust_remote_code
                    )
                routes[route].append(loaded[name])
        parameters = dict(config.get("parameters", {}))
        mappings = parameters.pop("route_mappings", None) or {}
        parameters["route_mappings"] = {_parse_key(key): value for key, value in mappings.items()}
        steps: dict[str, Iterable[nn.Module]] = dict(routes)
        return cls(steps, **{k: v for k, v in parameters.items() if k in cls.config_keys})

    def extra_repr(self) -> str:
        """Default route and route names, for ``repr``."""
        return f"default_route={self.default_route!r}, routes={list(self.sub_modules)}"


def _route_dimension(route: nn.Sequential) -> int | None:
    for module in reversed(list(route)):
        for name in ("get_embedding_dimension", "get_sentence_embedding_dimension"):
            method = getattr(module, name, None)
            if method is not None:
                dim = method()
                if dim is not None:
                    return dim
    return None


def _parse_key(key: str | list[Any] | tuple[Any, ...]) -> RouteKey:
    """A route_mappings key as saved: ``"('query', 'text')"`` (or a JSON list)."""
    value = ast.literal_eval(key) if isinstance(key, str) else key
    if not (isinstance(value, list | tuple) and len(value) == 2):
        raise ValueError(f"route_mappings key {key!r} is not a (task, modality) pair")
    return (value[0], _normal(value[1]))


def _normal(modality: Any) -> Any:
    """A modality as routes compare it: a name, or a sorted tuple of names for a multimodal input."""
    return tuple(sorted(modality)) if isinstance(modality, list | tuple) else modality


Asym = Router  # the name before sentence-transformers 5

__all__ = ["Asym", "Module", "Router"]
