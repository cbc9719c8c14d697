"""OpenAPI post-processing: every operation documents the errors it can answer with.

drf-spectacular documents the success responses; clients (and schemathesis)
also need the error shapes: field errors on 400, ``{"detail": …}`` otherwise.
"""

from __future__ import annotations

from typing import Any

DETAIL = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
    "description": "What went wrong, in a sentence.",
}
FIELD_ERRORS = {
    "type": "object",
    "description": (
        "Field name → list of messages (non_field_errors for the object as a whole), or "
        '{"detail": "…"} when the body is not JSON at all.'
    ),
    "additionalProperties": {},
    "example": {"address": ["example.net is not a domain of this appliance."]},
}

ERRORS = {
    "400": ("Invalid input: field errors.", "FieldErrors"),
    "401": ("No credentials, or a token that is wrong.", "ErrorDetail"),
    "403": ("Not allowed for your role.", "ErrorDetail"),
    "404": ("No such object among the ones you may see.", "ErrorDetail"),
    "415": ("The body is not JSON (application/json).", "ErrorDetail"),
    "429": ("Too many failed authentication attempts; see Retry-After.", "ErrorDetail"),
    "503": ("The mail store is unavailable; nothing was changed.", "ErrorDetail"),
}


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOK: add the error responses and their schemas."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorDetail"] = DETAIL
    schemas["FieldErrors"] = FIELD_ERRORS
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            codes = ["400", "401", "403", "404", "429"]
            if method in ("post", "put", "patch"):
                codes.append("415")
            if method == "delete":
                codes.append("503")
            responses = operation.setdefault("responses", {})
            for code in codes:
                description, name = ERRORS[code]
                responses.setdefault(
                    code,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
                    },
                )
            responses["429"].setdefault("headers", {"Retry-After": {"schema": {"type": "integer"}}})
    return result
