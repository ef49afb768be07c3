"""Who may resolve a market: moderators, and the market's creator or named arbitrator.

A guild sets a rule per market kind — a *two-answer* (yes/no) market, or a
*multiple-choice* one with 3 to 10 answers — and the market copies it at
creation (``Market.resolver_rule``), like its other rules:

* ``moderators``: only moderators vote; ``min_resolution_votes`` agreeing votes decide.
* ``creator``: the market's creator may resolve it too.
* ``arbitrator``: the member named when the market was created may resolve it too.

Moderators may always vote. The creator or arbitrator (the market's *resolver*)
decides with their vote alone — the guild chose them to settle it — unless they
hold shares in the market when the decision would be made: then their vote
counts, but a moderator (another Discord person) must agree before the market
is decided, whatever ``min_resolution_votes`` is (1 included). Votes are keyed
by the person (``markets.voters``), so a moderator who is also the arbitrator is
one voter and cannot be that agreeing moderator.

Betting stops at ``closes_at`` and votes are only taken after it, but holdings
are read again under the market's lock at every vote: the rule never trusts an
earlier answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from markets.models import Market, Outcome, ResolutionVote
from markets.voters import discord_voter
from points.models import Guild, Member, ResolverRule
from predictmarket.errors import PermissionDenied, ValidationFailed

BINARY_OPTIONS = 2


def market_kind(option_count: int) -> str:
    """``binary`` for a two-answer market, ``multiple`` for 3 to 10 answers."""
    return "binary" if option_count == BINARY_OPTIONS else "multiple"


def guild_resolver_rule(guild: Guild, *, option_count: int) -> str:
    """The guild's rule for a new market with this many answers."""
    if market_kind(option_count) == "binary":
        return guild.resolvers_binary
    return guild.resolvers_multiple


def market_resolver_rules_check(
    *, guild: Guild, creator: Member, option_count: int, arbitrator: Member | None
) -> tuple[str, Member | None]:
    """The rule and arbitrator a new market gets; refuses an arbitrator where none is used."""
    rule = guild_resolver_rule(guild, option_count=option_count)
    kind = "two-answer" if market_kind(option_count) == "binary" else "multiple-choice"
    if rule == ResolverRule.ARBITRATOR:
        if arbitrator is None:
            raise ValidationFailed(
                f"This server's {kind} markets are resolved by an arbitrator named at "
                "creation: name one (a member of this server).",
                field="arbitrator",
            )
        if arbitrator.guild_id != guild.pk:
            raise ValidationFailed(
                "The arbitrator must be a member of this server.", field="arbitrator"
            )
        if arbitrator.pk == creator.pk:
            raise ValidationFailed(
                "The arbitrator must be someone other than the market's creator.",
                field="arbitrator",
            )
        return rule, arbitrator
    if arbitrator is not None:
        who = "its creator" if rule == ResolverRule.CREATOR else "moderators"
        raise ValidationFailed(
            f"This server's {kind} markets are resolved by {who}, not by an arbitrator: "
            "leave the arbitrator out.",
            field="arbitrator",
        )
    return rule, None


def market_resolver(market: Market) -> Member | None:
    """The member who may resolve this market besides the moderators, if its rule names one."""
    if market.resolver_rule == ResolverRule.CREATOR:
        return market.creator
    if market.resolver_rule == ResolverRule.ARBITRATOR:
        return market.arbitrator
    return None


def resolver_role(market: Market) -> str:
    return "creator" if market.resolver_rule == ResolverRule.CREATOR else "arbitrator"


def who_may_resolve(market: Market) -> str:
    """One line for cards, pages and replies: who may resolve this market."""
    resolver = market_resolver(market)
    if resolver is None:
        return "moderators"
    name = resolver.display_name or str(resolver.discord_id)
    return f"moderators, or {name} ({resolver_role(market)})"


def resolver_vote_permitted_locked(market: Market, *, voter: str, is_moderator: bool) -> None:
    """Refuses a vote from someone who is neither a moderator nor this market's resolver."""
    if is_moderator:
        return
    resolver = market_resolver(market)
    if resolver is not None and voter == discord_voter(resolver.discord_id):
        return
    if resolver is None:
        raise PermissionDenied(
            "Only moderators can do that (the server's moderator role or Manage Server)."
        )
    raise PermissionDenied(
        f"Only moderators or this market's {resolver_role(market)} can resolve it."
    )


def resolver_holds_position(market: Market, member: Member) -> bool:
    """Whether the member holds any shares in the market now (read under its lock)."""
    # ``positions`` is betting's reverse relation: markets never imports betting.
    return market.positions.filter(member=member, shares__gt=0).exists()


@dataclass(frozen=True)
class Decision:
    decided: bool
    # The resolver voted for this choice but holds shares: a moderator must agree.
    waiting_for_moderator: bool = False


def resolver_decision_locked(
    market: Market,
    *,
    votes: QuerySet[ResolutionVote],
    outcome: Outcome | None,
    count: int,
    needed: int,
) -> Decision:
    """Whether the votes for this choice decide the market, under its resolver rule.

    ``votes`` are the round being counted (``markets.services._round_votes``: the
    first decision's, or the next correction's — a correction is a decision, by
    the same rule). ``count`` and ``needed`` are the moderators' rule (agreeing
    votes, Discord users and unlinked staff users counted apart); the resolver's
    vote adds to it.
    """
    resolver = market_resolver(market)
    if resolver is None:
        return Decision(count >= needed)
    person = discord_voter(resolver.discord_id)
    agreeing = set(votes.filter(outcome=outcome).values_list("voter", flat=True))
    if person not in agreeing:
        return Decision(count >= needed)
    if not resolver_holds_position(market, resolver):
        return Decision(True)
    # Another Discord person (only moderators can vote besides the resolver). An
    # unlinked staff user may be the resolver themself, so never counts here.
    moderators = {v for v in agreeing if v.startswith("discord:")} - {person}
    if moderators:
        return Decision(True)
    decided = count >= needed and count > 1
    return Decision(decided, waiting_for_moderator=not decided)


def decided_by_locked(
    market: Market, *, votes: QuerySet[ResolutionVote], outcome: Outcome | None
) -> list[dict[str, str]]:
    """Who decided: each agreeing voter of this round (``votes``), the resolver first."""
    voters = list(
        votes.filter(outcome=outcome).order_by("updated_at", "pk").values_list("voter", flat=True)
    )
    resolver = market_resolver(market)
    resolver_person = discord_voter(resolver.discord_id) if resolver else None
    discord_ids = [int(v.partition(":")[2]) for v in voters if v.startswith("discord:")]
    names = {
        discord_voter(discord_id): name
        for discord_id, name in Member.objects.filter(
            guild_id=market.guild_id, discord_id__in=discord_ids
        ).values_list("discord_id", "display_name")
    }
    people = []
    for voter in voters:
        kind, _, ident = voter.partition(":")
        name = names.get(voter) or (
            f"Discord user {ident}" if kind == "discord" else "a staff user"
        )
        role = resolver_role(market) if voter == resolver_person else "moderator"
        people.append({"voter": voter, "name": name, "role": role})
    people.sort(key=lambda p: p["role"] == "moderator")
    return people
