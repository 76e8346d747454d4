"""Every console page declared once: method, path, who may open it.

The same declaration installs the route and lets the guard (backend/console/guard.py) check
the member's role for every page in one place, with the API's own roles
(backend/api/registry.py): a viewer may read, staff may change their regions' data, admins
manage staff. Regions are checked inside every service call besides.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from backend.api.registry import Access, Handler, Routes


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


PAGES = Routes(PageSpec, "page_spec")


def spec_of(request: web.Request) -> PageSpec | None:
    return PAGES.spec_of(request)
