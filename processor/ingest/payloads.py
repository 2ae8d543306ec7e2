"""Reading request bodies safely: size limits while streaming, content types, strict JSON.

A body is never read past its limit (a client that lies in Content-Length, or sends chunks
without one, is cut off at the limit), and JSON is parsed strictly: UTF-8 only, no NaN or
Infinity, nesting bounded, so hostile input gets a specific 4xx instead of memory or CPU.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
from starlette.requests import Request
from starlette.types import Message, Receive

from processor.ingest.rejections import Rejection
from processor.stages.decode import json_depth

_STRING_LITERAL = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NON_FINITE = re.compile(rb"(?<![\w.])-?(NaN|Infinity)(?![\w.])")


def too_large(limit: int, what: str = "request body") -> Rejection:
    return Rejection(413, "body_too_large", f"{what} is over the {limit:,}-byte limit")


def check_declared_length(request: Request, limit: int) -> None:
    """Refuse at once when the client says in advance that the body is too big."""
    declared = request.headers.get("content-length")
    if declared is None:
        return
    if not declared.isdigit():
        raise Rejection(400, "bad_content_length", f"Content-Length {declared[:40]!r} is not a number")
    if int(declared) > limit:
        raise too_large(limit)


def limited_receive(receive: Receive, limit: int) -> Callable[[], Awaitable[Message]]:
    """An ASGI ``receive`` that raises 413 once more than ``limit`` body bytes have arrived."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise too_large(limit)
        return message

    return wrapped


async def read_body(request: Request, limit: int, timeout_s: float | None = None) -> bytes:
    check_declared_length(request, limit)
    chunks: list[bytes] = []
    size = 0
    async with within(timeout_s):
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            chunks.append(chunk)
    return b"".join(chunks)


@asynccontextmanager
async def within(timeout_s: float | None) -> AsyncIterator[None]:
    """408 ``body_timeout`` when the body has not arrived in ``timeout_s``: a client trickling it
    byte by byte would otherwise hold the request (and its memory) open."""
    try:
        async with asyncio.timeout(timeout_s):
            yield
    except TimeoutError:
        raise Rejection(408, "body_timeout", f"the request body did not arrive within {timeout_s:g} s") from None


def require_json(request: Request) -> None:
    """JSON in UTF-8 only: a ``charset`` other than UTF-8 would be decoded as something else."""
    media, params = _content_type(request)
    if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
        raise Rejection(
            415, "unsupported_media_type", f"Content-Type must be application/json, got {media[:100] or 'nothing'!r}"
        )
    charset = params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise Rejection(415, "unsupported_charset", f"JSON must be UTF-8, got charset {charset[:40]!r}")


def require_multipart(request: Request) -> None:
    media, params = _content_type(request)
    if media != "multipart/form-data":
        raise Rejection(
            415, "unsupported_media_type", f"Content-Type must be multipart/form-data, got {media[:100] or 'nothing'!r}"
        )
    if not params.get("boundary"):
        raise Rejection(400, "multipart_boundary_missing", "multipart/form-data without a boundary parameter")


def parse_json(body: bytes, max_depth: int, *, max_items: int | None = None) -> Any:
    """Strict JSON: a specific error for empty, non-UTF-8, non-finite, too deep or malformed input.

    ``max_items`` bounds a top-level array, checked before the nesting walk (the walk is the
    expensive part: millions of empty arrays cost seconds)."""
    if not body.strip():
        raise Rejection(400, "empty_body", "the request body is empty")
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _diagnose(body, exc, max_depth) from None
    if max_items is not None and isinstance(parsed, list) and len(parsed) > max_items:
        raise Rejection(413, "too_many_items", f"{len(parsed)} events, over the {max_items} limit")
    if json_depth(parsed) > max_depth:
        raise Rejection(400, "too_deeply_nested", f"JSON nests deeper than {max_depth} levels")
    return parsed


def _diagnose(body: bytes, exc: Exception, max_depth: int) -> Rejection:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as uexc:
        return Rejection(400, "invalid_utf8", f"body is not UTF-8: {uexc.reason} at byte {uexc.start}")
    text = str(exc)
    if "depth" in text.lower() or "recursion" in text.lower():
        return Rejection(400, "too_deeply_nested", f"JSON nests deeper than {max_depth} levels")
    if _NON_FINITE.search(_STRING_LITERAL.sub(b'""', body)):
        return Rejection(400, "non_finite_number", "JSON contains NaN or Infinity, which JSON does not allow")
    return Rejection(400, "invalid_json", f"body is not valid JSON: {text[:200]}")


def _content_type(request: Request) -> tuple[str, dict[str, str]]:
    raw = request.headers.get("content-type", "")
    media, _, rest = raw.partition(";")
    params = {}
    for part in rest.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            params[name.strip().lower()] = value.strip().strip('"')
    return media.strip().lower(), params
