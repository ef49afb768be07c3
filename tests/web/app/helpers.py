"""Reading the members' pages in Django-client tests: the confirm form's fields, the odds."""

from __future__ import annotations

import re
from decimal import Decimal

from django.http import HttpResponse
from django.urls import reverse

from markets.models import Market


def app_url(name: str, market: Market, **extra: object) -> str:
    return reverse(
        f"webapp:{name}", kwargs={"guild_id": market.guild_id, "market_id": market.pk, **extra}
    )


def confirm_fields(response: HttpResponse) -> dict[str, str]:
    """The hidden fields of the confirm form, as the browser would submit them."""
    html = response.content.decode()
    form = re.search(r'<form[^>]*id="confirm-form".*?</form>', html, re.S)
    assert form is not None, html[:2000]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form[0]))
    assert "token" in fields, fields
    return {k: v.replace("&quot;", '"').replace("&amp;", "&") for k, v in fields.items()}


def shown_probabilities(response: HttpResponse) -> list[Decimal]:
    return [
        Decimal(p) for p in re.findall(r'data-probability="([^"]+)"', response.content.decode())
    ]


def error_code(response: HttpResponse) -> str | None:
    found = re.search(r'data-error-code="([^"]+)"', response.content.decode())
    return found[1] if found else None


def error_message(response: HttpResponse) -> str:
    found = re.search(r'data-error-code="[^"]+">([^<]*)<', response.content.decode())
    assert found is not None, response.content.decode()[:2000]
    return found[1]
