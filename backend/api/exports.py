"""CSV exports for other systems: a region's line list and a case's diary."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from aiohttp import web

from backend.api.keys import CONTEXT, staff_of
from backend.api.registry import API, Access
from backend.api.requests import uuid_param
from backend.domain.csv_cells import csv_cell
from backend.services import exports


def _csv(rows: Iterable[list], filename: str) -> web.Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        # Every text cell is defused, not only today's free-text columns: a column added later
        # cannot forget it.
        writer.writerow([csv_cell(value) for value in row])
    return web.Response(
        text=buffer.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@API.get(
    "/regions/{region}/cases.csv",
    access=Access.READ,
    produces="text/csv",
    summary="The region's line list as CSV",
    tags=("exports",),
)
async def line_list_csv(request: web.Request) -> web.Response:
    region = request.match_info["region"]
    rows = await exports.line_list(request.app[CONTEXT], staff_of(request), region)
    return _csv(rows, f"{region}-cases.csv")


@API.get(
    "/cases/{case_id}/entries.csv",
    access=Access.READ,
    produces="text/csv",
    summary="A case's diary as CSV",
    tags=("exports",),
)
async def diary_csv(request: web.Request) -> web.Response:
    case_id = uuid_param(request, "case_id", "case")
    rows = await exports.diary(request.app[CONTEXT], staff_of(request), case_id)
    return _csv(rows, f"case-{case_id}-entries.csv")
