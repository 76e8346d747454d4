"""The HTTP application: health probes at the root, the staff API under /api/v1."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from backend.api import (  # noqa: F401 - importing a route module declares its routes
    broadcasts,
    cases,
    escalations,
    exports,
    health,
    openapi,
    rounds,
    staff_admin,
)
from backend.api.auth import FailedLogins, bearer_auth
from backend.api.keys import CONTEXT, DEEP_LINK
from backend.api.problems import problem_middleware, request_ids
from backend.api.registry import API
from backend.services.context import ServiceContext

API_PREFIX = "/api/v1"


def create_api(
    ctx: ServiceContext,
    deep_link: Callable[..., str],
    staff_api: bool = True,
    trusted_proxy_hops: int = 0,
) -> web.Application:
    """Build the aiohttp application; the caller adds the bot's routes and lifecycles.

    Health, readiness and metrics are always served; the staff API only if ``staff_api``.
    ``trusted_proxy_hops``: how many proxies in front of us append to X-Forwarded-For.
    """
    app = web.Application(middlewares=[request_ids, problem_middleware], client_max_size=256 * 1024)
    app[CONTEXT] = ctx
    app.add_routes(health.routes)
    if not staff_api:
        return app

    api = web.Application(
        middlewares=[problem_middleware, bearer_auth(FailedLogins(), trusted_proxy_hops)]
    )
    api[CONTEXT] = ctx
    api[DEEP_LINK] = deep_link
    api.add_routes(openapi.routes)
    API.install(api)
    app.add_subapp(API_PREFIX, api)
    return app
