"""Idempotency keys issued with a confirm form, so a double submit trades once.

The confirm page carries a signed token naming the member, the market and the
side, and a fresh random nonce. Both submissions of a double click carry the
same token, hence the same ``idempotency_key`` for ``bet_place`` /
``shares_sell``, which replay the first trade for the second. The signature
stops a token being made up or moved to another member or market; its age is
limited so an old tab cannot confirm a long-forgotten quote.
"""

from __future__ import annotations

import secrets

from django.core import signing

from points.models import Member
from predictmarket.errors import ValidationFailed

SALT = "webapp.trade-key"
MAX_AGE_SECONDS = 30 * 60


class FormExpired(ValidationFailed):
    code = "form_expired"
    default_message = "This confirmation has expired or is not valid; please ask for a new quote."


def trade_token_issue(*, member: Member, market_id: int, side: str) -> str:
    return signing.dumps(
        {"m": member.pk, "mk": market_id, "s": side, "n": secrets.token_urlsafe(16)}, salt=SALT
    )


def trade_key_from_token(token: object, *, member: Member, market_id: int, side: str) -> str:
    """The trade's idempotency key, or ``FormExpired`` for a forged, moved or old token."""
    if not isinstance(token, str) or not token or len(token) > 500:
        raise FormExpired()
    try:
        data = signing.loads(token, salt=SALT, max_age=MAX_AGE_SECONDS)
    except signing.BadSignature:  # SignatureExpired is one
        raise FormExpired() from None
    if not isinstance(data, dict) or (data.get("m"), data.get("mk"), data.get("s")) != (
        member.pk,
        market_id,
        side,
    ):
        raise FormExpired()
    return f"web:{member.pk}:{data['n']}"
