"""The ``/market list`` pager: its query, its custom ids, their parsing and its buttons.

A list page's buttons carry the whole query (page, status, sort, category,
search) in their custom ids, so any process — a restarted bot, another shard
— shows the next page with nothing kept in memory. The template and its parser
live side by side here so the two ends cannot drift apart:

``pm:mls:<page>:<status><sort>:<category length>:<category><search>``

``<page>`` is ``f`` (first), ``l`` (last, whatever it is when clicked), ``g``
(the "Go to page" select: the page is its picked value), or a 0-based page
number followed by the button's letter (``3p``, ``5n``): Discord refuses two
components with one custom id on a message, and on page 2 "First" and
"Previous" both lead to page 1. The category's length comes
before the two free-text filters so that either may contain ``:``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from nextcord import ButtonStyle, SelectOption
from nextcord.ui import Button, StringSelect, View

from botrunner.components import (
    MAX_CUSTOM_ID,
    PREFIX,
    STATUS_CODES,
    STATUS_FROM_CODE,
    inert_view,
)

ACTION = "mls"
CATEGORY_MAX = 50  # a market's category is at most 50 characters
SEARCH_MAX = 30  # what is left of the 100-character custom id
FIRST, LAST, GO_TO = "f", "l", "g"
LAST_PAGE = -1  # "the last page", worked out when the page is read
PICKED_PAGE = -2  # the page the member picks in the select, read from the interaction
MAX_OPTIONS = 25  # Discord's limit for a select

# Sort keys as the slash command's choices offer them, and their one-letter codes.
SORT_CHOICES = {"Closing soon": "closing", "Volume traded": "volume", "Newest": "newest"}
DEFAULT_SORT = "closing"
SORT_CODES = {"closing": "c", "volume": "v", "newest": "n"}
SORT_FROM_CODE = {code: sort for sort, code in SORT_CODES.items()}


class StalePager(ValueError):
    """A custom id this version cannot read (edited, or from a future version)."""


@dataclass(frozen=True)
class ListQuery:
    status: str = ""  # "" is every status
    sort: str = DEFAULT_SORT
    category: str = ""
    search: str = ""
    page: int = 0  # 0-based; LAST_PAGE for the last one

    def at(self, page: int) -> ListQuery:
        return replace(self, page=page)


def pager_custom_id(query: ListQuery, token: str) -> str:
    head = f"{PREFIX}:{ACTION}:{token}:{STATUS_CODES[query.status]}{SORT_CODES[query.sort]}:"
    head += f"{len(query.category)}:{query.category}"
    # Only a page number past 99,999 leaves less room than SEARCH_MAX: the search is cut.
    return head + query.search[: max(0, MAX_CUSTOM_ID - len(head))]


def parse_pager(parts: list[str]) -> ListQuery:
    """The query behind a pager button, from the parts after ``pm:mls:``."""
    try:
        token, codes, length, rest = parts[0], parts[1], int(parts[2]), ":".join(parts[3:])
        if token == FIRST:
            page = 0
        elif token == LAST:
            page = LAST_PAGE
        elif token == GO_TO:
            page = PICKED_PAGE
        else:
            page = int(token[:-1])
        status, sort = STATUS_FROM_CODE[codes[0]], SORT_FROM_CODE[codes[1]]
    except (IndexError, KeyError, ValueError) as exc:
        raise StalePager(f"unreadable list pager id {parts!r}") from exc
    if page < PICKED_PAGE or not 0 <= length <= len(rest) or len(codes) != 2:
        raise StalePager(f"unreadable list pager id {parts!r}")
    return ListQuery(status, sort, rest[:length], rest[length:], page)


def picked_page(values: list[str]) -> int:
    """The 0-based page picked in the "Go to page" select."""
    if len(values) != 1 or not values[0].isdecimal():
        raise StalePager(f"unreadable page pick {values!r}")
    return int(values[0])


def jump_pages(page: int, pages: int) -> list[int]:
    """At most 25 pages to offer: every page when there are few; else the first, the
    last, the five either side of ``page``, and the rest spread evenly between."""
    if pages <= MAX_OPTIONS:
        return list(range(pages))
    near = set(range(max(0, page - 5), min(pages, page + 6))) | {0, pages - 1}
    spread = MAX_OPTIONS - len(near)
    far = {round(i * (pages - 1) / (spread + 1)) for i in range(1, spread + 1)}
    return sorted(near | far)


def page_select(query: ListQuery, *, page: int, pages: int) -> StringSelect:
    return StringSelect(
        custom_id=pager_custom_id(query, GO_TO),
        placeholder=f"Go to page… (page {page + 1} of {pages:,})",
        options=[
            SelectOption(label=f"Page {n + 1:,}", value=str(n), default=n == page)
            for n in jump_pages(page, pages)
        ],
        min_values=1,
        max_values=1,
    )


def pager_view(query: ListQuery, *, page: int, pages: int) -> View:
    """First / Previous / Next / Last for ``page`` (0-based) of ``pages``, and "Go to page"
    when there is more than one."""
    at_start, at_end = page <= 0, page >= pages - 1
    jump = [page_select(query, page=page, pages=pages)] if pages > 1 else []
    return inert_view(
        Button(
            label="First",
            style=ButtonStyle.secondary,
            custom_id=pager_custom_id(query, FIRST),
            disabled=at_start,
        ),
        Button(
            label="Previous",
            style=ButtonStyle.primary,
            custom_id=pager_custom_id(query, f"{max(0, page - 1)}p"),
            disabled=at_start,
        ),
        Button(
            label="Next",
            style=ButtonStyle.primary,
            custom_id=pager_custom_id(query, f"{page + 1}n"),
            disabled=at_end,
        ),
        Button(
            label="Last",
            style=ButtonStyle.secondary,
            custom_id=pager_custom_id(query, LAST),
            disabled=at_end,
        ),
        *jump,
    )
