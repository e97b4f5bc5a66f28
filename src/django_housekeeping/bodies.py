"""Request bodies the web faces accept: JSON objects, bounded in size and in nesting depth.

A body over :data:`MAX_BODY_BYTES` is refused with 413 before it is parsed; one that is not JSON,
not an object, or nested deeper than :data:`MAX_DEPTH` with 400. The dashboard reads its bodies
with :func:`read_json_body`, the API with a DRF parser built on :func:`parse_json`: both answer
with the same messages.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest

MAX_BODY_BYTES = 64 * 1024
MAX_DEPTH = 32


class BodyError(Exception):
    """A body the faces refuse: ``status`` is 400 or 413."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def too_large() -> BodyError:
    return BodyError(f"The body is too large: at most {MAX_BODY_BYTES} bytes are accepted.", 413)


def parse_json(data: bytes) -> dict[str, Any]:
    """The JSON object in ``data`` (empty: ``{}``)."""
    if len(data) > MAX_BODY_BYTES:
        raise too_large()
    if not data.strip():
        return {}
    # Refused before parsing, so that no parser recurses a thousand levels deep.
    if _depth(data) > MAX_DEPTH:
        raise BodyError(f"The body is nested too deeply: at most {MAX_DEPTH} levels.")
    try:
        value = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BodyError(f"The body must be a JSON object: {_first_line(exc)}.") from None
    if not isinstance(value, dict):
        raise BodyError("The body must be a JSON object.")
    return value


def read_json_body(request: HttpRequest) -> dict[str, Any]:
    """Read and parse a request's body (never more than one byte over the limit)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES:
        raise too_large()
    return parse_json(request.read(MAX_BODY_BYTES + 1))


def _depth(data: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (strings skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
