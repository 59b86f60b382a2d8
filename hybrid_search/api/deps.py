"""Typed route dependencies, the FastAPI template's ``deps.py`` way.

``create_app`` puts what the routes serve on ``app.state`` once; these getters read it back with
its type, and the ``Annotated`` aliases (``SearcherDep``, ``SettingsDep``, ...) are what a route
declares as a parameter. A route never reads ``app.state`` itself.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from hybrid_search.api.facets import FilterValues
from hybrid_search.config import Settings
from hybrid_search.observability.observer import Observer
from hybrid_search.searcher import Searcher

__all__ = [
    "FilterValuesDep",
    "ModelLoad",
    "ModelLoadDep",
    "ObserverDep",
    "SearcherDep",
    "SettingsDep",
    "get_filter_values",
    "get_model_load",
    "get_observer",
    "get_searcher",
    "get_settings",
]


@dataclass
class ModelLoad:
    """The embedding model's warm-up: ``ready`` once it ended, ``error`` when it failed."""

    ready: threading.Event = field(default_factory=threading.Event)
    error: str | None = None


def get_searcher(request: Request) -> Searcher:
    searcher: Searcher = request.app.state.searcher
    return searcher


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_observer(request: Request) -> Observer:
    observer: Observer = request.app.state.observer
    return observer


def get_filter_values(request: Request) -> FilterValues:
    values: FilterValues = request.app.state.filter_values
    return values


def get_model_load(request: Request) -> ModelLoad:
    model: ModelLoad = request.app.state.model
    return model


SearcherDep = Annotated[Searcher, Depends(get_searcher)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ObserverDep = Annotated[Observer, Depends(get_observer)]
FilterValuesDep = Annotated[FilterValues, Depends(get_filter_values)]
ModelLoadDep = Annotated[ModelLoad, Depends(get_model_load)]
