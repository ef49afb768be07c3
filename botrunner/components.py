"""Buttons, selects and modals, with stable custom ids that survive a restart.

Every component carries everything its handler needs in its ``custom_id``
(``pm:<action>:<args…>``, at most 100 characters), and one generic listener
(``botrunner.dispatch``) parses it. Nothing lives in memory between the click
that shows a component and the click that uses it, so a bot restarted in
between, or another shard, handles it just the same.

nextcord would also store and dispatch views itself; that is switched off:
views are made with ``prevent_update=False`` (``abc.Messageable.send`` and
``InteractionResponse.send_message`` store a view only when it is set) and
are stopped before sending (webhook follow-ups and message edits store any
view that is not finished). Modals are stopped too: ``send_modal`` always
stores them, and a stopped modal is never dispatched and is purged on the
store's next change (modals have no timeout, so no timer task is left behind).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import nextcord
from nextcord import ButtonStyle, SelectOption, TextInputStyle
from nextcord.ui import Button, Modal, StringSelect, TextInput, View

from botrunner.text import clip, percent, shares

PREFIX = "pm"
MAX_CUSTOM_ID = 100
STATUS_CODES = {
    "": "-",
    "open": "o",
    "closed": "c",
    "resolved": "r",
    "cancelled": "x",
    "refunded": "f",
}
STATUS_FROM_CODE = {code: status for status, code in STATUS_CODES.items()}


def custom_id(*parts: object) -> str:
    value = ":".join([PREFIX, *(str(part) for part in parts)])
    if len(value) > MAX_CUSTOM_ID:
        raise ValueError(f"custom id longer than {MAX_CUSTOM_ID} characters: {value!r}")
    return value


def parse_custom_id(value: str) -> tuple[str, list[str]] | None:
    """``pm:cfm:1:2`` → ("cfm", ["1", "2"]); None for ids that are not ours."""
    if not value.startswith(PREFIX + ":"):
        return None
    action, _, rest = value[len(PREFIX) + 1 :].partition(":")
    return action, (rest.split(":") if rest else [])


def inert_view(*items: nextcord.ui.Item) -> View:
    """A view nextcord will neither store nor dispatch (see the module docstring)."""
    view = View(timeout=None, prevent_update=False, auto_defer=False)
    for item in items:
        view.add_item(item)
    view.stop()
    return view


def inert_modal(modal: Modal) -> Modal:
    modal.stop()
    return modal


# -- the market message ---------------------------------------------------------
def market_view(market_id: int, *, accepting_bets: bool) -> View:
    return inert_view(
        Button(
            label="Buy",
            style=ButtonStyle.success,
            custom_id=custom_id("buy", market_id),
            disabled=not accepting_bets,
        ),
        Button(
            label="Sell",
            style=ButtonStyle.danger,
            custom_id=custom_id("sell", market_id),
            disabled=not accepting_bets,
        ),
        Button(
            label="My position", style=ButtonStyle.secondary, custom_id=custom_id("pos", market_id)
        ),
        Button(label="Refresh", style=ButtonStyle.secondary, custom_id=custom_id("ref", market_id)),
    )


def outcome_select(
    action: str, market_id: int, outcomes: list[tuple[int, str, Decimal]], *, placeholder: str
) -> View:
    """An outcome picker (at most 10 outcomes, well under Discord's 25 options)."""
    options = [
        SelectOption(label=clip(label, 100), value=str(index), description=percent(probability))
        for index, label, probability in outcomes[:25]
    ]
    return inert_view(
        StringSelect(
            custom_id=custom_id(action, market_id),
            placeholder=placeholder,
            options=options,
            min_values=1,
            max_values=1,
        )
    )


def holding_select(market_id: int, holdings: list[tuple[int, str, Decimal]]) -> View:
    options = [
        SelectOption(label=clip(label, 100), value=str(index), description=f"{shares(held)} shares")
        for index, label, held in holdings[:25]
    ]
    return inert_view(
        StringSelect(
            custom_id=custom_id("sellpick", market_id),
            placeholder="Which answer do you want to sell?",
            options=options,
        )
    )


def amount_modal(market_id: int, outcome_index: int, label: str) -> Modal:
    modal = Modal(
        title="Buy shares",
        custom_id=custom_id("buyamt", market_id, outcome_index),
        timeout=None,
        auto_defer=False,
    )
    modal.add_item(
        TextInput(
            label=clip(f"Points to spend on: {label}", 45),
            custom_id="amount",
            placeholder="A whole number of points, such as 100",
            min_length=1,
            max_length=13,
            required=True,
        )
    )
    return inert_modal(modal)


def shares_modal(market_id: int, outcome_index: int, label: str) -> Modal:
    modal = Modal(
        title="Sell shares",
        custom_id=custom_id("sellamt", market_id, outcome_index),
        timeout=None,
        auto_defer=False,
    )
    modal.add_item(
        TextInput(
            label=clip(f"Shares of: {label}", 45),
            custom_id="shares",
            placeholder="A number of shares, or all",
            default_value="all",
            min_length=1,
            max_length=40,
            required=True,
        )
    )
    return inert_modal(modal)


def selected_label(interaction: Any, value: str, fallback: str) -> str:
    """The label of the picked option, read from the message the select is on (no query)."""
    message = getattr(interaction, "message", None)
    for row in getattr(message, "components", None) or []:
        for child in getattr(row, "children", None) or [row]:
            for option in getattr(child, "options", None) or []:
                if getattr(option, "value", None) == value:
                    return str(option.label)
    return fallback


def create_market_modal(arbitrator: tuple[int, str] | None = None) -> Modal:
    """The form; ``arbitrator`` (id, name) picked on the command rides in its custom id."""
    parts: list[object] = []
    if arbitrator is not None:
        # ":" separates the custom id's parts; the name is only shown, never trusted.
        parts = [arbitrator[0], clip(arbitrator[1].replace(":", " "), 40)]
    modal = Modal(
        title="New market", custom_id=custom_id("create", *parts), timeout=None, auto_defer=False
    )
    modal.add_item(
        TextInput(
            label="Question",
            custom_id="question",
            style=TextInputStyle.paragraph,
            placeholder="Will the server reach 1,000 members by June?",
            min_length=1,
            max_length=500,
        )
    )
    modal.add_item(
        TextInput(
            label="Answers, one per line (2 to 10)",
            custom_id="options",
            style=TextInputStyle.paragraph,
            placeholder="Yes\nNo",
            min_length=3,
            max_length=1100,
        )
    )
    modal.add_item(
        TextInput(
            label="Open for (45m, 2h, 3d, 1d12h)",
            custom_id="duration",
            placeholder="1d",
            min_length=2,
            max_length=20,
        )
    )
    modal.add_item(
        TextInput(
            label="Category (optional)",
            custom_id="category",
            placeholder="sports, server, games…",
            required=False,
            max_length=50,
        )
    )
    return inert_modal(modal)


# -- confirming a bet -----------------------------------------------------------
def confirm_view(
    *, market_id: int, outcome_index: int, amount: int, min_shares: Decimal, origin_id: int
) -> View:
    """Confirm carries the quote and the ORIGINAL interaction id: the bet's idempotency key.

    A double click, or Discord retrying the click, sends the same origin id, so
    the service replays the first bet instead of placing a second.
    """
    return inert_view(
        Button(
            label="Confirm",
            style=ButtonStyle.success,
            custom_id=custom_id(
                "cfm", market_id, outcome_index, amount, format(min_shares, "f"), origin_id
            ),
        ),
        Button(label="Cancel", style=ButtonStyle.secondary, custom_id=custom_id("nocfm")),
    )


def sell_confirm_view(
    *, market_id: int, outcome_index: int, shares_in: Decimal, min_points: int, origin_id: int
) -> View:
    """Confirm carries the quoted sale: its exact share count, its points as a floor, and
    the id of the interaction that showed the quote, which is the sale's idempotency key.

    The count is exact (not "all"), so shares bought after the quote are not sold;
    ``min_points`` refuses a sale the price moved against.
    """
    return inert_view(
        Button(
            label="Confirm",
            style=ButtonStyle.danger,
            custom_id=custom_id(
                "scfm", market_id, outcome_index, format(shares_in, "f"), min_points, origin_id
            ),
        ),
        Button(label="Cancel", style=ButtonStyle.secondary, custom_id=custom_id("noscfm")),
    )


# -- pagers ---------------------------------------------------------------------
def history_view(before: int | None) -> View | None:
    if before is None:
        return None
    return inert_view(Button(label="Older", custom_id=custom_id("hist", before)))


def modal_values(interaction: Any) -> dict[str, str]:
    """The text inputs of a submitted modal, by custom id."""
    values: dict[str, str] = {}
    for row in (interaction.data or {}).get("components", []):
        for component in row.get("components", []):
            if "custom_id" in component:
                values[component["custom_id"]] = component.get("value") or ""
    return values


def selected_values(interaction: Any) -> list[str]:
    return list((interaction.data or {}).get("values", []))
