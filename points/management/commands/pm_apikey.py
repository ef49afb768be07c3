"""``manage.py pm_apikey issue|revoke``: a member's personal API key."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from points.api_tokens import api_token_issue, api_token_revoke
from points.models import Member
from points.operator import (
    add_guild_argument,
    add_operator_argument,
    guild_or_fail,
    operator_actor,
    snowflake_argument,
)


class Command(BaseCommand):
    help = (
        "Issue or revoke a member's API key. 'issue' prints the new key once (only its hash "
        "is kept) and revokes any earlier one; 'revoke' stops the member's key working. "
        "The member must exist in the guild. Audited as operator:NAME."
    )

    def add_arguments(self, parser: Any) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="issue|revoke")
        issue = actions.add_parser("issue", help="Issue a new key (any earlier one stops working).")
        revoke = actions.add_parser("revoke", help="Revoke the member's key.")
        for sub in (issue, revoke):
            add_guild_argument(sub, help="The Discord server (guild) id of the member.")
            sub.add_argument(
                "--member",
                type=snowflake_argument("--member"),
                required=True,
                metavar="DISCORD_USER_ID",
                help="The member's Discord user id.",
            )
            add_operator_argument(sub)
        issue.add_argument(
            "--moderator",
            action="store_true",
            help="The member is a moderator now (shown with the key; it grants nothing: "
            "moderator actions still ask Discord each time).",
        )

    def handle(
        self, *args: Any, action: str, guild: int, member: int, operator: str, **options: Any
    ) -> None:
        guild_or_fail(guild)
        found = Member.objects.filter(guild_id=guild, discord_id=member).first()
        if found is None:
            raise CommandError(f"No member {member} in guild {guild}.")
        actor = operator_actor(operator)
        if action == "issue":
            issued = api_token_issue(
                member=found, actor=actor, issued_by_moderator=options.get("moderator", False)
            )
            self.stderr.write(
                f"API key for member {member} in guild {guild} (shown once; any earlier key "
                "is revoked):"
            )
            self.stdout.write(issued.key)
            return
        if api_token_revoke(member=found, actor=actor):
            self.stdout.write(f"API key of member {member} in guild {guild} revoked")
        else:
            self.stdout.write(f"member {member} in guild {guild} had no API key; nothing changed")
