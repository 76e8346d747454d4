"""RFC 9457 problem responses, and the one middleware that maps every error to one.

Bad input of any kind answers 4xx with a body naming the field or the reason; only a real bug
answers 500, and then without internals (the traceback goes to the log, without request data).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from backend.domain.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from backend.logs import REQUEST_ID
from backend.storage.database import UNAVAILABLE

log = logging.getLogger(__name__)

PROBLEM_TYPE = "https://symptom-diary.example/problems/"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    kind: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + (kind or title.lower().replace(" ", "-")),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return web.Response(
        status=status,
        text=json.dumps(body),
        content_type="application/problem+json",
        headers=headers,
    )


def field_error(field: str, detail: str) -> dict[str, str]:
    return {"field": field, "pointer": "#/" + field.replace(".", "/"), "detail": detail}


def validation_problem(error: ValidationError) -> web.Response:
    details = error.errors(include_url=False)
    if details and details[0]["type"] == "json_invalid":
        return problem(400, "Malformed JSON", "The request body is not valid JSON.")
    errors = []
    for item in details:
        field = ".".join(str(part) for part in item["loc"]) or "body"
        errors.append(field_error(field, item["msg"]))
    summary = "; ".join(f"{e['field']}: {e['detail']}" for e in errors)
    return problem(422, "Invalid request", summary, kind="invalid-request", errors=errors)


def domain_problem(error: DomainError) -> web.Response:
    if isinstance(error, Invalid):
        return problem(
            422,
            "Invalid request",
            f"{error.field}: {error.detail}",
            kind="invalid-request",
            errors=[field_error(error.field, error.detail)],
        )
    if isinstance(error, NotFound):
        return problem(404, "Not found", error.detail)
    if isinstance(error, Forbidden):
        return problem(403, "Forbidden", error.detail)
    if isinstance(error, Conflict):
        return problem(409, "Conflict", error.detail)
    return problem(400, "Bad request", error.detail)


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ValidationError as error:
        return validation_problem(error)
    except DomainError as error:
        return domain_problem(error)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return problem(
            error.status,
            error.reason,
            error.text
            if error.text and error.text != f"{error.status}: {error.reason}"
            else error.reason,
            headers={k: v for k, v in error.headers.items() if k.lower() == "allow"},
        )
    except UNAVAILABLE as error:
        # The database is restarting or out of reach: not the client's fault, and worth a retry.
        log.warning(
            "database unavailable in %s %s: %s",
            request.method,
            request.rel_url.path,
            type(error).__name__,
        )
        return problem(
            503,
            "Service unavailable",
            "The database cannot be reached; please try again.",
            headers={"Retry-After": "5"},
        )
    except Exception:
        # Log the route, never the body: it may hold personal data.
        log.exception("unhandled error in %s %s", request.method, request.rel_url.path)
        return problem(500, "Internal error", "Something went wrong on our side.")


@web.middleware
async def request_ids(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every log line while handling a request names it; the id goes back in the answer."""
    given = request.headers.get("X-Request-Id", "")
    request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex[:16]
    token = REQUEST_ID.set(request_id)
    try:
        response = await handler(request)
    except web.HTTPException as error:
        error.headers["X-Request-Id"] = request_id
        raise
    finally:
        REQUEST_ID.reset(token)
    response.headers["X-Request-Id"] = request_id
    return response
