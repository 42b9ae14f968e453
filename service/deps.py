"""Typed dependencies: the state and every feature service, each built once in ``create_app``
(``service/app.py``) and kept on ``app.state`` under its attribute name here."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.admin.service import AdminService
from service.ask.service import AskService
from service.chat.service import ChatService
from service.citations.service import CitationsService
from service.observability.metrics import Metrics
from service.papers.service import PapersService
from service.runtime.state import ServiceState
from service.search.service import SearchService
from service.settings import Settings


def _state(request: Request) -> ServiceState:
    return request.app.state.service


def _settings(request: Request) -> Settings:
    return _state(request).settings


def _search(request: Request) -> SearchService:
    return request.app.state.search


def _ask(request: Request) -> AskService:
    return request.app.state.ask


def _chat(request: Request) -> ChatService:
    return request.app.state.chat


def _papers(request: Request) -> PapersService:
    return request.app.state.papers


def _admin(request: Request) -> AdminService:
    return request.app.state.admin


def _metrics(request: Request) -> Metrics:
    return request.app.state.metrics


def _citations(request: Request) -> CitationsService:
    return request.app.state.citations


StateDep = Annotated[ServiceState, Depends(_state)]
SettingsDep = Annotated[Settings, Depends(_settings)]
SearchServiceDep = Annotated[SearchService, Depends(_search)]
AskServiceDep = Annotated[AskService, Depends(_ask)]
ChatServiceDep = Annotated[ChatService, Depends(_chat)]
PapersServiceDep = Annotated[PapersService, Depends(_papers)]
AdminServiceDep = Annotated[AdminService, Depends(_admin)]
MetricsDep = Annotated[Metrics, Depends(_metrics)]
CitationsServiceDep = Annotated[CitationsService, Depends(_citations)]
