"""The DRIP API key at rest: Fernet-encrypted, never shown back in full.

The encryption key comes from ``DRIP_ENCRYPTION_KEY`` (a Fernet key) or, if
that is not set, is derived from ``SECRET_KEY`` with HKDF, so rotating the
secret key without setting ``DRIP_ENCRYPTION_KEY`` means re-entering DRIP keys.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from predictmarket.errors import ValidationFailed


def _fernet() -> Fernet:
    if settings.DRIP_ENCRYPTION_KEY:
        return Fernet(settings.DRIP_ENCRYPTION_KEY.encode())
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"predictmarket drip api key"
    ).derive(settings.SECRET_KEY.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt_api_key(api_key: str) -> str:
    api_key = api_key.strip()
    if len(api_key) < 8:
        raise ValidationFailed("That does not look like a DRIP API key.", field="drip_api_key")
    return _fernet().encrypt(api_key.encode()).decode()


def decrypt_api_key(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValidationFailed(
            "The stored DRIP API key cannot be read (was the encryption key changed?); "
            "enter it again.",
            field="drip_api_key",
        ) from None


def masked(token: str) -> str:
    """What the admin and /config show: enough to recognise the key, not to use it."""
    if not token:
        return "(not set)"
    try:
        key = decrypt_api_key(token)
    except ValidationFailed:
        return "(unreadable: enter it again)"
    return f"…{key[-4:]}"
