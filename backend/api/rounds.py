"""Staff-triggered prompt rounds: send today's question again, now."""

from __future__ import annotations

from aiohttp import web

from backend.api import schemas
from backend.api.keys import CONTEXT, staff_of
from backend.api.registry import API, Access
from backend.api.responses import reply
from backend.services.rounds import start_round


@API.post(
    "/regions/{region}/rounds",
    access=Access.WRITE,
    response=schemas.RoundOut,
    status=202,
    summary="Send the daily prompt now to who has not answered the current slot (once per slot)",
    tags=("rounds",),
)
async def post_round(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    region = request.match_info["region"]
    staff = staff_of(request)
    staff.require_write(region)
    ctx.regions.require(region)
    result = await start_round(ctx, region, origin="staff", staff=staff)
    return reply(schemas.RoundOut(round_id=result.round_id, prompts=result.prompts), 202)
