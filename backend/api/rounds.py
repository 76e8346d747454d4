"""Staff-triggered prompt rounds: send today's question again, now."""

from __future__ import annotations

from aiohttp import web

from backend.api.keys import CONTEXT, staff_of
from backend.services.rounds import start_round

routes = web.RouteTableDef()


@routes.post("/regions/{region}/rounds")
async def post_round(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    region = request.match_info["region"]
    staff_of(request).require_write(region)
    ctx.regions.require(region)
    result = await start_round(ctx, region, origin="staff")
    return web.json_response(
        {"round_id": str(result.round_id) if result.round_id else None, "prompts": result.prompts},
        status=202,
    )
