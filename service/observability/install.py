"""Wiring of the observability parts into an app."""

from __future__ import annotations

from fastapi import FastAPI

from service.observability.metrics import Metrics
from service.observability.middleware import RequestContextMiddleware
from service.observability.router import router


def install_observability(app: FastAPI, metrics: Metrics) -> None:
    """Serve ``/metrics`` and wrap every request; call it after every other middleware is
    added, so that this one is outermost and sees their responses too."""
    app.state.metrics = metrics
    app.include_router(router)
    app.add_middleware(RequestContextMiddleware, metrics=metrics, routes=app.router.routes)
