"""Schemathesis hooks for ``test_the_api_conforms_to_its_schema`` (loaded by file path).

Generated market ids almost never name a market, which would leave every
market endpoint answering 404. Most cases are pointed at the seeded markets
(one in each state, and one of another guild); the rest keep the generated id.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis
from hypothesis import strategies as st

SEEDED_MARKET_IDS = [
    int(value) for value in os.environ.get("PM_SEEDED_MARKET_IDS", "").split(",") if value
]


@schemathesis.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
    # None for operations without path parameters (and in some negative cases).
    if not isinstance(path_parameters, dict) or "market_id" not in path_parameters:
        return st.just(path_parameters)
    if not SEEDED_MARKET_IDS:
        return st.just(path_parameters)
    seeded = st.sampled_from(SEEDED_MARKET_IDS).map(
        lambda market_id: {**path_parameters, "market_id": market_id}
    )
    return st.one_of(seeded, st.just(path_parameters))
