"""Schemathesis against a running gunicorn: no 5xx, and every answer matches the OpenAPI schema.

The server runs in production mode on a scratch PostgreSQL database of its own
(the test's database is invisible to another process), seeded with markets in
every state. Schemathesis loads the schema the server publishes at
/api/schema/ and runs all its phases (examples, coverage, fuzzing, stateful)
over every operation with a member's key, then over the moderation operations
with a moderator's key (a member's key only ever gets 403 there).

Reproduce a failure by hand: the output names the seed and a curl command.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.gunicorn_server import (
    Server,
    drop_database,
    gunicorn,
    migrate_and_seed,
    recreate_database,
    scratch_database_url,
    server_environment,
)
from tests.api.live_seed import GUILD_ID, MODERATOR_DISCORD_IDS, MODERATOR_ROLE_ID
from tests.fake_discord import FakeDiscord

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CHECKS = ",".join(
    [
        "not_a_server_error",
        "response_schema_conformance",
        "status_code_conformance",
        "content_type_conformance",
    ]
)
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, Any]]]:
    database_url = scratch_database_url("schemathesis")
    recreate_database(database_url)
    env = server_environment(database_url)  # rate limits off: the fuzzer would only see 429s
    # The server asks Discord whether the moderator's key may moderate: a fake one says yes.
    discord = FakeDiscord()
    env.update(DISCORD_API_BASE_URL=discord.start(), DISCORD_TOKEN=discord.token)
    for moderator in MODERATOR_DISCORD_IDS:
        discord.add_member(GUILD_ID, moderator, roles=[MODERATOR_ROLE_ID])
    try:
        seed = migrate_and_seed(env)
        log = tmp_path_factory.mktemp("schemathesis") / "gunicorn.log"
        with gunicorn(env, log, workers=2, threads=2) as server:
            yield server, seed
    finally:
        drop_database(database_url)
        discord.stop()


def schemathesis_run(
    server: Server, seed: dict[str, Any], workdir: Path, key: str, *extra: str
) -> None:
    """Run the schemathesis CLI against ``server``; any failure or error fails the test.

    It runs in ``workdir``, where it keeps its cache (.schemathesis/), not in the checkout.
    """
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": str(HOOKS),
        "PM_SEEDED_MARKET_IDS": ",".join(str(i) for i in seed["markets"].values()),
    }
    args = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        f"{server.base_url}/api/schema/",
        "--url",
        server.base_url,
        "--header",
        f"Authorization: Bearer {key}",
        "--checks",
        CHECKS,
        "--max-examples",
        "25",
        "--request-timeout",
        "30",
        # One worker: CPython 3.11 can fail compiling in parallel threads
        # ("AST constructor recursion depth mismatch") inside Hypothesis.
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--no-color",
        *extra,
    ]
    result = subprocess.run(
        args, cwd=workdir, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, (
        f"schemathesis found problems:\n{result.stdout}\n{result.stderr}\n"
        f"server log:\n{server.log_tail()}"
    )


def test_every_operation_conforms_with_a_members_key(
    live_api: tuple[Server, dict[str, Any]], tmp_path: Path
) -> None:
    server, seed = live_api
    schemathesis_run(server, seed, tmp_path, seed["member_key"])


def test_moderation_conforms_with_a_moderators_key(
    live_api: tuple[Server, dict[str, Any]], tmp_path: Path
) -> None:
    server, seed = live_api
    schemathesis_run(server, seed, tmp_path, seed["moderator_key"], "--include-tag", "moderation")
