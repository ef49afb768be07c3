"""Conditional GETs: ETag and Cache-Control on the cached read endpoints.

The ETag comes from what the cache already holds (a market snapshot's
version, a list's snapshot versions), so a client revalidating with
``If-None-Match`` gets its 304 without the database. ``no-cache`` lets a
browser keep the body but makes it ask every time, so nobody shows odds the
server has moved past; responses to a member's key are ``private`` (no shared
cache may keep them), the public pages ``public``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import get_conditional_response, patch_cache_control
from rest_framework.request import Request


def not_modified(
    request: HttpRequest | Request, etag: str, *, private: bool
) -> HttpResponseBase | None:
    """The 304 (or 412) that ``request``'s preconditions call for with ``etag``; else None."""
    answer = get_conditional_response(request, etag=etag)
    if answer is not None:
        mark_cacheable(answer, etag, private=private)
    return answer


def mark_cacheable(response: HttpResponseBase, etag: str, *, private: bool) -> HttpResponseBase:
    response["ETag"] = etag
    if private:
        patch_cache_control(response, private=True, no_cache=True)
    else:
        patch_cache_control(response, public=True, no_cache=True)
    return response


def combined_etag(prefix: str, parts: Iterable[object]) -> str:
    """One strong ETag for a list: a digest of what each entry's own tag says."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:32]
    return f'"{prefix}-{digest}"'
