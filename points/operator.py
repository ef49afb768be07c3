"""What the operator commands (``manage.py pm_*``) share: who acts, in which guild, and errors.

An operator is a person at a shell on the servers, acting as a superuser
would: every change they make is audited as ``operator:<name>`` (the name
given with ``--operator``, or the login running the command). A domain error
from a service becomes a ``CommandError``: its message on stderr, exit status 1,
and nothing changed.
"""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.core.management.base import CommandError

from points.models import Guild
from points.snowflakes import parse_snowflake
from predictmarket.errors import DomainError


def snowflake_argument(label: str) -> Callable[[str], int]:
    """An argparse type: a Discord id, or a usage error naming ``label``."""

    def parse(value: str) -> int:
        try:
            return parse_snowflake(value, field=label)
        except DomainError as exc:
            raise argparse.ArgumentTypeError(exc.message) from exc

    return parse


def add_guild_argument(parser: Any, *, required: bool = True, help: str = "") -> None:
    parser.add_argument(
        "--guild",
        type=snowflake_argument("--guild"),
        required=required,
        metavar="GUILD_ID",
        help=help or "The Discord server (guild) id the command acts in.",
    )


def add_operator_argument(parser: Any) -> None:
    parser.add_argument(
        "--operator",
        default="",
        metavar="NAME",
        help="Who is acting, for the audit log (operator:NAME); default: your login name.",
    )


def operator_actor(name: str = "") -> str:
    name = (name or getpass.getuser()).strip()
    if not name:
        raise CommandError("Give --operator NAME: the audit log must say who acted.")
    return f"operator:{name}"


def guild_or_fail(guild_id: int) -> Guild:
    guild = Guild.objects.filter(pk=guild_id).first()
    if guild is None:
        raise CommandError(f"No guild {guild_id} here.")
    return guild


@contextmanager
def domain_errors_fail_the_command() -> Iterator[None]:
    try:
        yield
    except DomainError as exc:
        raise CommandError(exc.message) from exc
