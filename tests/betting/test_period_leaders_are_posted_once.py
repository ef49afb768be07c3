"""The ended week's and month's leaders are claimed and announced once per guild."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from betting.models import PeriodPost
from betting.period_posts import ended_span, period_leaders_post_due
from betting.settlement import settle_resolved_market
from betting.tasks import post_period_leaders
from markets.models import Market
from points.models import Guild, Member
from predictmarket.models import OutboxEvent
from tests.betting.helpers import bet
from tests.concurrency import run_concurrently
from tests.markets.helpers import decide, make_guild, make_market, make_member


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_the_ended_week_is_the_iso_week_and_the_month_the_calendar_month() -> None:
    # Wednesday 2026-12-02: the week ended on Monday 2026-11-30, the month on 2026-12-01.
    week = ended_span("week", now=at("2026-12-02T13:00:00"))
    month = ended_span("month", now=at("2026-12-02T13:00:00"))
    assert (week.starts_at, week.ends_at) == (at("2026-11-23T00:00"), at("2026-11-30T00:00"))
    assert (month.starts_at, month.ends_at) == (at("2026-11-01T00:00"), at("2026-12-01T00:00"))
    january = ended_span("month", now=at("2027-01-01T00:00:00"))
    assert (january.starts_at, january.ends_at) == (at("2026-12-01"), at("2027-01-01"))
    monday = ended_span("week", now=at("2026-11-30T00:00:00"))  # the very moment it ends
    assert monday.ends_at == at("2026-11-30")


def settled_week(guild: Guild, creator: Member) -> tuple[Member, Member, datetime]:
    """A winner and a loser of a market settled in the past ISO week; the 'now' after it."""
    winner, loser = make_member(guild, "winner"), make_member(guild, "loser")
    market = make_market(creator)
    bet(winner, market, 0, 100)
    bet(loser, market, 1, 100)
    decide(market, outcome_index=0)
    settle_resolved_market(market_id=market.pk)
    now = timezone.now() + timedelta(days=7)
    span = ended_span("week", now=now)
    Market.objects.filter(pk=market.pk).update(settled_at=span.starts_at + timedelta(days=2))
    return winner, loser, now


def announcements(kind: str = "leaderboard.period_ended") -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(kind=kind).order_by("id"))


@pytest.mark.django_db
def test_the_weeks_leaders_are_posted_once(guild: Guild, creator: Member) -> None:
    Guild.objects.filter(pk=guild.pk).update(announcement_channel_id=123456789012345678)
    _, _, now = settled_week(guild, creator)
    Guild.objects.filter(pk=guild.pk).update(created_at=now - timedelta(days=60))

    assert post_period_leaders.apply(kwargs={"now": now.isoformat()}).get() == 2
    assert post_period_leaders.apply(kwargs={"now": now.isoformat()}).get() == 0

    [week] = [e for e in announcements() if e.payload["period"] == "week"]
    names = [(row["display_name"], row["rank"]) for row in week.payload["top"]]
    # The creator's zero (rank 2) is not news; the others keep their place on the board.
    assert names == [("winner", 1), ("loser", 3)]
    assert week.payload["top"][1]["profit"] == -100
    assert week.guild_id == guild.pk
    assert PeriodPost.objects.filter(guild=guild).count() == 2  # the week and the month


@pytest.mark.django_db
def test_a_guild_without_an_announcement_channel_or_another_guilds_market_is_left_out(
    guild: Guild, creator: Member, outsider: Member
) -> None:
    _, _, now = settled_week(guild, creator)  # this guild has no announcement channel
    Guild.objects.filter(pk=outsider.guild_id).update(
        announcement_channel_id=223456789012345678, created_at=now - timedelta(days=60)
    )

    period_leaders_post_due(now=now)

    assert not PeriodPost.objects.filter(guild=guild).exists()
    assert PeriodPost.objects.filter(guild_id=outsider.guild_id).count() == 2
    assert announcements() == []  # nobody in the other guild won or lost anything


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_beats_post_once() -> None:
    guild = make_guild(min_resolution_votes=2)
    creator = make_member(guild, "creator")
    _, _, now = settled_week(guild, creator)
    Guild.objects.filter(pk=guild.pk).update(
        announcement_channel_id=323456789012345678, created_at=now - timedelta(days=60)
    )

    outcomes = run_concurrently([lambda: period_leaders_post_due(now=now)] * 4, workers=4)

    assert [o.error for o in outcomes] == [None] * 4
    assert sum(o.value for o in outcomes) == 2
    assert len([e for e in announcements() if e.payload["period"] == "week"]) == 1


@pytest.mark.django_db
def test_one_guild_failing_does_not_keep_the_others_from_their_post(
    guild: Guild, outsider: Member, monkeypatch: pytest.MonkeyPatch
) -> None:
    import betting.period_posts as period_posts

    now = at("2026-11-04T12:00:00")
    for guild_id in (guild.pk, outsider.guild_id):
        Guild.objects.filter(pk=guild_id).update(
            announcement_channel_id=223456789012345678, created_at=now - timedelta(days=60)
        )
    compute = period_posts.compute_board

    def broken_for_the_first(guild_id: int, **kwargs: object) -> object:
        if guild_id == min(guild.pk, outsider.guild_id):
            raise RuntimeError("this guild's board broke")
        return compute(guild_id, **kwargs)

    monkeypatch.setattr(period_posts, "compute_board", broken_for_the_first)

    assert period_leaders_post_due(now=now) == 2  # the other guild's week and month
    assert PeriodPost.objects.filter(guild_id=max(guild.pk, outsider.guild_id)).count() == 2
    assert not PeriodPost.objects.filter(guild_id=min(guild.pk, outsider.guild_id)).exists()
