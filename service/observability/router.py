"""``GET /metrics``: the Prometheus text exposition of the app's own registry."""

from __future__ import annotations

from fastapi import APIRouter, Response

from service.deps import MetricsDep
from service.observability.metrics import CONTENT_TYPE

router = APIRouter(tags=["operations"])


@router.get("/metrics", include_in_schema=False)
def metrics(registry: MetricsDep) -> Response:
    return Response(registry.render(), media_type=CONTENT_TYPE)
