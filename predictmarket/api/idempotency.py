"""The ``Idempotency-Key`` header: one rule for every command that accepts it."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request

from predictmarket.errors import ValidationFailed

HEADER = "Idempotency-Key"
# Stored as "api:<member id>:<key>" in 200-character columns: 100 leaves room for the prefix.
MAX_LENGTH = 100

IDEMPOTENCY_HEADER = OpenApiParameter(
    HEADER,
    {"type": "string", "maxLength": MAX_LENGTH},
    location=OpenApiParameter.HEADER,
    required=False,
    description=f"Any unique string (≤ {MAX_LENGTH} chars). Repeating a request with the same "
    "key returns the original response; the same key with a different body is a 409.",
)


def request_idempotency_key(request: Request) -> str | None:
    """The client's key, or None when it sent none; too long a key is a 400, not a 500."""
    key = request.headers.get(HEADER, "").strip()
    if len(key) > MAX_LENGTH:
        raise ValidationFailed(f"{HEADER} must be at most {MAX_LENGTH} characters.", field=HEADER)
    return key or None
