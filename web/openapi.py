"""The OpenAPI 3.1 document of ``/api/v1`` (``GET /api/v1/openapi.json``).

Written by hand next to the routes (``web.api``, ``web.openlineage``) rather than generated:
the routes are few and plain Flask, and a generator would need the views rewritten for it.
``tests/test_api_v1.py`` compares the document's paths and methods with the app's URL map
(a route added without its entry fails it) and fuzzes every operation with schemathesis.
"""

from __future__ import annotations

from typing import Any

__all__ = ["document"]

_ERROR = {"$ref": "#/components/schemas/Error"}


def _text(name: str, description: str, *, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": {"type": "string", "maxLength": 4096}}


_LIMIT = {"name": "limit", "in": "query", "description": "items per page", "schema": {"type": "integer", "minimum": 1,
                                                                                       "maximum": 1000}}
_CURSOR = {"name": "cursor", "in": "query", "description": "the `next` of the previous page",
           "schema": {"type": "string"}}
_REF = _text("ref", "an entity: guid, qualifiedName, type:qualifiedName, models:/name@alias, models:/name/N, runs:/id",
             required=True)


def _errors(*codes: int) -> dict[str, Any]:
    words = {400: "malformed request", 401: "credentials needed", 404: "not found", 413: "body too large"}
    return {str(c): {"description": words[c], "content": {"application/json": {"schema": _ERROR}}} for c in codes}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"200": {"description": description, "content": {"application/json": {"schema": schema}}}}


def _page(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": ["items", "next"],
            "properties": {"items": {"type": "array", "items": item}, "next": {"type": ["string", "null"]}}}


def document() -> dict[str, Any]:
    lineage_params = [_REF, {"name": "direction", "in": "query", "schema": {"type": "string",
                                                                          "enum": ["INPUT", "OUTPUT", "BOTH"]}},
                      {"name": "depth", "in": "query", "schema": {"type": "integer", "minimum": 0}}]
    object_schema = {"type": "object"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "ML lineage catalog API", "version": "1",
                 "description": "The catalog's own JSON API. Atlas's v2 API is served under /api/atlas/v2."},
        "servers": [{"url": "/"}],
        "components": {
            "schemas": {
                "Error": {"type": "object", "required": ["errorCode", "errorMessage"],
                          "properties": {"errorCode": {"type": "string"}, "errorMessage": {"type": "string"}}},
                "EntityHeader": {"type": "object", "required": ["guid", "typeName", "qualifiedName"], "properties": {
                    "guid": {"type": "string"}, "typeName": {"type": "string"}, "qualifiedName": {"type": "string"},
                    "name": {"type": ["string", "null"]}, "status": {"type": "string"},
                    "classifications": {"type": "array", "items": {"type": "string"}}}},
            },
            "securitySchemes": {"basic": {"type": "http", "scheme": "basic"},
                                "bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{}, {"basic": []}, {"bearer": []}],
        "paths": {
            "/api/v1/openapi.json": {"get": {"operationId": "openapi", "summary": "This document",
                                             "responses": _json("the OpenAPI document", object_schema)}},
            "/api/v1/entities": {"get": {
                "operationId": "entities", "summary": "Search entities by name or qualifiedName",
                "parameters": [_text("q", "text the name or qualifiedName contains"),
                               _text("type", "an entity type (its subtypes included)"),
                               _text("classification", "a classification, direct or propagated"), _LIMIT, _CURSOR],
                "responses": {**_json("a page of entity headers", _page({"$ref": "#/components/schemas/EntityHeader"})),
                              **_errors(400, 401)}}},
            "/api/v1/entities/{type_name}/{qualified_name}": {"get": {
                "operationId": "entity", "summary": "One entity (AtlasEntity JSON)",
                "parameters": [{"name": "type_name", "in": "path", "required": True, "schema": {"type": "string"}},
                               {"name": "qualified_name", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "responses": {**_json("the entity", object_schema), **_errors(401, 404)}}},
            "/api/v1/lineage": {"get": {
                "operationId": "lineage",
                "summary": "AtlasLineageInfo around an entity; depthCapped says when depth went past the most allowed",
                "parameters": lineage_params,
                "responses": {**_json("AtlasLineageInfo", object_schema), **_errors(400, 401, 404)}},
                "post": {
                "operationId": "openLineage", "summary": "Take OpenLineage RunEvents (as Marquez does); needs a steward",
                "requestBody": {"required": True, "content": {"application/json": {"schema": object_schema}}},
                "responses": {"201": {"description": "taken"}, **_errors(400, 401, 413)}}},
            "/api/v1/checks": {"get": {
                "operationId": "checks", "summary": "The compliance checks of a subject, newest first",
                "parameters": [_REF, _LIMIT, _CURSOR],
                "responses": {**_json("a page of evidence records", _page(object_schema)),
                              **_errors(400, 401, 404)}}},
            "/api/v1/scoring-runs": {"get": {
                "operationId": "scoringRuns", "summary": "The scoring runs of a deployment, newest first",
                "parameters": [_REF, _LIMIT, _CURSOR],
                "responses": {**_json("a page of scoring runs", _page(object_schema)), **_errors(400, 401, 404)}}},
            "/api/v1/audit": {"get": {
                "operationId": "audit", "summary": "Audit events, newest first (of one entity with ref)",
                "parameters": [_text("ref", "an entity (as for lineage); all entities without it"), _LIMIT, _CURSOR],
                "responses": {**_json("a page of audit events", _page(object_schema)), **_errors(400, 401, 404)}}},
            "/api/v1/impact": {"get": {
                "operationId": "impact", "summary": "Everything downstream of an entity, with owners",
                "parameters": [_REF, {**_LIMIT, "schema": {"type": "integer", "minimum": 1, "maximum": 10000}},
                               _CURSOR],
                "responses": {**_json("a page of impact rows", _page(object_schema)), **_errors(400, 401, 404)}}},
        },
    }
