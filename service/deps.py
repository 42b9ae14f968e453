"""Typed dependencies: the state and the feature services, from ``app.state``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.ask.service import AskService
from service.citations.service import CitationsService
from service.papers.service import PapersService
from service.search.service import SearchService
from service.settings import Settings
from service.state import ServiceState


def _state(request: Request) -> ServiceState:
    return request.app.state.service


def _settings(request: Request) -> Settings:
    return _state(request).settings


def _search(request: Request) -> SearchService:
    return request.app.state.search


def _ask(request: Request) -> AskService:
    return request.app.state.ask


def _papers(request: Request) -> PapersService:
    return request.app.state.papers


def _citations(request: Request) -> CitationsService:
    return request.app.state.citations


StateDep = Annotated[ServiceState, Depends(_state)]
SettingsDep = Annotated[Settings, Depends(_settings)]
SearchServiceDep = Annotated[SearchService, Depends(_search)]
AskServiceDep = Annotated[AskService, Depends(_ask)]
PapersServiceDep = Annotated[PapersService, Depends(_papers)]
CitationsServiceDep = Annotated[CitationsService, Depends(_citations)]
