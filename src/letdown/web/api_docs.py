"""The API's OpenAPI document and a reference page for it, for members only.

The document tells a stranger every route, body and limit: it is served only to someone
logged in (a session or an API token). The page is drawn on the server from that same
document, with no script at all, instead of Swagger UI or ReDoc: nothing to load from a
CDN, nothing to vendor and keep up to date, and nothing that needs the Content Security
Policy loosened. Scripts and tools (schemathesis, code generators) read
``/openapi.json`` with their token.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from letdown.web.deps import IdentityDep
from letdown.web.templating import render

router = APIRouter(include_in_schema=False)

METHODS = ("get", "post", "put", "patch", "delete")


@router.get("/openapi.json")
def openapi_document(request: Request, who: IdentityDep) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/docs", response_class=HTMLResponse)
def reference(request: Request, who: IdentityDep) -> HTMLResponse:
    """Every operation: method, path, what it does, its parameters and answers."""
    document = request.app.openapi()
    groups: dict[str, list[dict[str, Any]]] = {}
    for path, item in document.get("paths", {}).items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            tag = (operation.get("tags") or ["other"])[0]
            groups.setdefault(tag, []).append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": operation.get("summary", ""),
                    "description": operation.get("description", ""),
                    "parameters": [
                        {
                            "name": p.get("name", ""),
                            "where": p.get("in", ""),
                            "required": p.get("required", False),
                            "description": p.get("description", ""),
                        }
                        for p in operation.get("parameters", [])
                    ],
                    "body": _schema_name(
                        operation.get("requestBody", {})
                        .get("content", {})
                        .get("application/json", {})
                        .get("schema", {})
                    ),
                    "answers": sorted(operation.get("responses", {})),
                }
            )
    return render(
        request,
        "api_docs.html",
        who,
        title=document.get("info", {}).get("title", "letdown"),
        version=document.get("info", {}).get("version", ""),
        groups=groups,
    )


def _schema_name(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref", "")
    if ref:
        return str(ref).rsplit("/", 1)[-1]
    return str(schema.get("type", "")) if schema else ""
