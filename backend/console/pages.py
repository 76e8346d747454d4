"""Every console page declared once: method, path, who may open it.

The same declaration installs the route and lets the guard (backend/console/guard.py) check
the member's role for every page in one place, with the API's own roles
(backend/api/registry.py): a viewer may read, staff may change their regions' data, admins
manage staff. Regions are checked inside every service call besides.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from backend.api.registry import Access

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class PageSpec:
    method: str
    path: str  # relative to /console
    handler: Handler
    # None: open without signing in (the sign-in pages); else a signed-in member's role must
    # grant it.
    access: Access | None
    # For the sign-in steps: the pending session stage this page continues.
    stage: str | None = None
    # Opened by a page itself (event streams), not by the member: the session's idle time
    # goes on.
    background: bool = False


class Pages:
    def __init__(self) -> None:
        self.specs: list[PageSpec] = []

    def route(self, method: str, path: str, **options: Any) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            spec = PageSpec(method=method, path=path, handler=handler, **options)
            self.specs.append(spec)
            handler.page_spec = spec  # type: ignore[attr-defined]
            return handler

        return register

    def get(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **options)

    def post(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, **options)

    def install(self, app: web.Application) -> None:
        for spec in self.specs:
            app.router.add_route(spec.method, spec.path, spec.handler)


def spec_of(request: web.Request) -> PageSpec | None:
    handler = getattr(request.match_info, "handler", None)
    return getattr(handler, "page_spec", None)


PAGES = Pages()
