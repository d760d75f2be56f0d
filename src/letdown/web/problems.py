"""The one shape every error response has, declared in the OpenAPI document."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class FieldProblem(BaseModel):
    loc: list[str | int] = Field(description="where: body, query or path, then the field")
    msg: str
    type: str


class Problem(BaseModel):
    """What every error says: a sentence, or one item per invalid field."""

    detail: str | list[FieldProblem]


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route that can answer with these error codes."""
    return {code: {"model": Problem} for code in codes}
