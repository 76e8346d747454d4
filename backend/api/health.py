"""Liveness and readiness probes (no authentication, no data)."""

from __future__ import annotations

import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from backend.api.keys import CONTEXT
from backend.api.problems import problem
from backend.storage.migrations import schema_status

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Prometheus exposition (no personal data in any label)."""
    body = generate_latest()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    db = request.app[CONTEXT].db
    try:
        status = await schema_status(db)
        # During a failover the pool may still hold a connection to the old primary, now a
        # standby: reads work there, writes do not. Ready means the service can write.
        read_only = await db.fetch("SHOW transaction_read_only")
    except Exception as error:  # any failure to reach the database means "not ready"
        log.warning("readiness check failed: %s", type(error).__name__)
        return problem(503, "Not ready", "The database cannot be reached.")
    if read_only and read_only[0][0] == "on":
        await db.pool.expire_connections()  # the next connections look for the primary
        return problem(503, "Not ready", "The database accepts no writes (a standby).")
    if not status.current:
        return problem(
            503,
            "Not ready",
            f"The database schema is at version {status.applied}, expected {status.expected}.",
        )
    return web.json_response({"status": "ready", "schema": status.applied})
