"""The OpenAPI 3.1 document, generated from the route declarations and their pydantic models
(the same ones that validate requests), served at /api/v1/openapi.json."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from backend.api import schemas
from backend.api.registry import API, Routes, RouteSpec

ERRORS = {
    400: "Malformed request",
    401: "Missing, unknown, expired or revoked token",
    403: "The role may not do this",
    404: "Not found (also: of another region)",
    405: "Method not allowed",
    413: "Request body too large",
    422: "Invalid request: the problem names the field",
    429: "Too many failed authentication attempts",
    503: "The database cannot be reached; try again",
}
PROBLEM = {"$ref": "#/components/schemas/Problem"}
_PATH_PARAM = re.compile(r"{(\w+)}")


def _models(api: Routes[RouteSpec]) -> list[tuple[type[BaseModel], str]]:
    seen: list[tuple[type[BaseModel], str]] = [(schemas.Problem, "serialization")]
    for spec in api.specs:
        for model, mode in (
            (spec.body, "validation"),
            (spec.query, "validation"),
            (spec.response, "serialization"),
        ):
            if model is not None and (model, mode) not in seen:
                seen.append((model, mode))
    return seen


def build(api: Routes[RouteSpec] = API, version: str = "1") -> dict[str, Any]:
    models = _models(api)
    refs, definitions = models_json_schema(models, ref_template="#/components/schemas/{model}")
    paths: dict[str, Any] = {}
    for spec in api.specs:
        path = "/api/v1" + spec.path
        paths.setdefault(path, {})[spec.method.lower()] = _operation(spec, refs)
    paths["/api/v1/openapi.json"] = {"get": _health("This document")}
    paths["/healthz"] = {"get": _health("Alive")}
    paths["/readyz"] = {"get": _health("Database reachable and schema current")}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Symptom Diary staff API",
            "version": version,
            "description": "Cases, diaries, alerts and broadcasts of the caller's regions.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


def _operation(spec: RouteSpec, refs: dict) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": spec.operation_id,
        "summary": spec.summary,
        "tags": list(spec.tags),
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _PATH_PARAM.findall(spec.path)
        ],
        "responses": {},
    }
    if spec.query is not None:
        operation["parameters"] += _query_parameters(spec.query)
    if spec.body is not None:
        operation["requestBody"] = {
            "required": spec.body_required,
            "content": {"application/json": {"schema": refs[(spec.body, "validation")]}},
        }
    if spec.status == 204:
        operation["responses"]["204"] = {"description": "Done"}
    elif spec.produces == "application/json":
        schema = refs[(spec.response, "serialization")] if spec.response else {}
        operation["responses"][str(spec.status)] = {
            "description": "Success",
            "content": {"application/json": {"schema": schema}},
        }
    else:
        operation["responses"][str(spec.status)] = {
            "description": "Success",
            "content": {spec.produces: {"schema": {"type": "string"}}},
        }
    statuses = [400, 401, 403, 404, 405, 413, 422, 429, 503, *spec.extra_statuses]
    for status in sorted(set(statuses)):
        operation["responses"][str(status)] = {
            "description": ERRORS.get(status, "Conflict with the current state"),
            "content": {"application/problem+json": {"schema": PROBLEM}},
        }
    return operation


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    properties = model.model_json_schema(ref_template="#/components/schemas/{model}")
    return [
        {
            "name": name,
            "in": "query",
            "required": field.is_required(),
            "schema": properties["properties"][name],
        }
        for name, field in model.model_fields.items()
    ]


def _health(summary: str) -> dict[str, Any]:
    return {
        "summary": summary,
        "security": [],
        "tags": ["health"],
        "responses": {
            "200": {
                "description": "OK",
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            "503": {
                "description": "Not ready",
                "content": {"application/problem+json": {"schema": PROBLEM}},
            },
        },
    }


routes = web.RouteTableDef()


@routes.get("/openapi.json")
async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(build())
