"""Every API route declared once: path, method, who may call it, and the pydantic models of
its query, body and response.

The same declaration installs the route, lets the access middleware enforce the role for
every route in one place, validates requests, and produces the OpenAPI document
(backend/api/openapi.py), so the document cannot drift from what the code accepts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

from aiohttp import web
from pydantic import BaseModel

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Access(StrEnum):
    """Who may call a route (regions are checked inside every query besides)."""

    READ = "read"  # any staff role, within its regions
    WRITE = "write"  # staff and admins, within their regions
    ADMIN = "admin"  # admins only


ROLE_ACCESS = {
    "viewer": {Access.READ},
    "staff": {Access.READ, Access.WRITE},
    "admin": {Access.READ, Access.WRITE, Access.ADMIN},
}


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str  # relative to /api/v1, with {placeholders}
    handler: Handler
    access: Access
    summary: str
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    body_required: bool = True
    response: type[BaseModel] | None = None
    status: int = 200
    produces: str = "application/json"
    tags: tuple[str, ...] = ()
    extra_statuses: tuple[int, ...] = field(default_factory=tuple)

    @property
    def operation_id(self) -> str:
        return self.handler.__name__


S = TypeVar("S", bound="Declared")


class Declared(Protocol):
    method: str
    path: str
    handler: Handler


class Routes(Generic[S]):
    """Route declarations of one kind (``spec``), installed on an aiohttp application; each
    handler carries its declaration as the attribute ``attribute``."""

    def __init__(self, spec: Callable[..., S], attribute: str) -> None:
        self.specs: list[S] = []
        self._spec = spec
        self._attribute = attribute

    def route(self, method: str, path: str, **options: Any) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            spec = self._spec(method=method, path=path, handler=handler, **options)
            self.specs.append(spec)
            setattr(handler, self._attribute, spec)
            return handler

        return register

    def get(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **options)

    def post(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, **options)

    def patch(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route("PATCH", path, **options)

    def delete(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route("DELETE", path, **options)

    def install(self, app: web.Application) -> None:
        for spec in self.specs:
            app.router.add_route(spec.method, spec.path, spec.handler)

    def spec_of(self, request: web.Request) -> S | None:
        """The declaration of the route that matched ``request`` (None for unknown routes)."""
        handler = getattr(request.match_info, "handler", None)
        return getattr(handler, self._attribute, None)


API = Routes(RouteSpec, "route_spec")  # every /api/v1 route, declared in the route modules


def spec_of(request: web.Request) -> RouteSpec | None:
    return API.spec_of(request)
