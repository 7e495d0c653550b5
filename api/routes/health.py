import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import literal, select

from api.schemas import Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "PostgreSQL or Redis is unreachable."}},
)
async def readyz(request: Request) -> JSONResponse:
    """PostgreSQL and Redis are reachable."""
    state = request.app.state

    async def postgres() -> None:
        await state.db.scalar(select(literal(1)))

    checks = {"postgres": postgres(), "redis": state.redis.ping()}
    results = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check, timeout=2.0)
            results[name] = "ok"
        except Exception as exc:
            results[name] = f"unavailable: {type(exc).__name__}"
    ready = all(v == "ok" for v in results.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": results},
        status_code=200 if ready else 503,
        headers={} if ready else {"Retry-After": "2"},
    )


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics() -> Response:
    """Prometheus metrics."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
