"""Request bodies the web faces accept: JSON objects, bounded in size and in nesting depth.

The bounds are Django's and Python's, with the faces' own limits on top:

- size: Django reads a request's body (``request.body``) only up to
  ``DATA_UPLOAD_MAX_MEMORY_SIZE`` and raises ``RequestDataTooBig`` past it; the faces' bodies
  (a task's name and a flag) are refused with 413 past :data:`MAX_BODY_BYTES` too, the smaller
  of the two winning;
- nesting: ``json.loads`` raises ``RecursionError`` on a body nested deeper than the
  interpreter's recursion limit; a parsed body nested deeper than :data:`MAX_DEPTH` is refused
  as well. Both are 400.

A body that is not JSON or not an object is refused with 400. The dashboard reads its bodies
with :func:`read_json_body`, the API with a DRF parser built on :func:`parse_json`: both answer
with the same messages.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest

# The faces' limit, below Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB by default), which bounds
# what is read before this one is applied.
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


def too_deep() -> BodyError:
    return BodyError(f"The body is nested too deeply: at most {MAX_DEPTH} levels.")


def parse_json(data: bytes) -> dict[str, Any]:
    """The JSON object in ``data`` (empty: ``{}``)."""
    if len(data) > MAX_BODY_BYTES:
        raise too_large()
    if not data.strip():
        return {}
    try:
        value = json.loads(data.decode("utf-8"))
    except RecursionError:
        raise too_deep() from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BodyError(f"The body must be a JSON object: {_first_line(exc)}.") from None
    if not isinstance(value, dict):
        raise BodyError("The body must be a JSON object.")
    if _deeper_than(value, MAX_DEPTH):
        raise too_deep()
    return value


def read_json_body(request: HttpRequest) -> dict[str, Any]:
    """Read and parse a request's body (Django refuses one over ``DATA_UPLOAD_MAX_MEMORY_SIZE``
    before reading it whole)."""
    try:
        data = request.body
    except RequestDataTooBig:
        raise too_large() from None
    return parse_json(data)


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest in ``value`` more than ``limit`` levels deep (walked
    without recursion: a value ``json.loads`` built may nest deeper than Python recurses)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
