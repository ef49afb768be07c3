"""The operator commands (``manage.py pm_*``): their effects, their output, their refusals.

Each is called as an operator would, through ``call_command`` (a refusal is a
``CommandError``, which ``manage.py`` turns into exit status 1); a refusal
changes nothing (``money_state`` before and after).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import timedelta
from decimal import ROUND_FLOOR
from pathlib import Path
from typing import Any

import pytest
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError
from django.db.models import F
from django.utils import timezone

from betting.models import Position
from markets.models import Market, MarketStatus
from points.api_tokens import api_token_authenticate
from points.models import (
    Account,
    ApiToken,
    DripTransfer,
    DripTransferStatus,
    Guild,
    LedgerEntry,
    Member,
)
from predictmarket.models import AuditLogEntry, OutboxEvent
from predictmarket.outbox import outbox_acknowledge, outbox_append
from tests.betting.helpers import bet
from tests.markets.helpers import (
    assert_ledger_sound,
    balance_of,
    decide,
    escrow_of,
    make_guild,
    make_market,
    make_member,
    money_state,
)

pytestmark = pytest.mark.django_db


def run(name: str, *args: Any) -> tuple[str, str]:
    """Run a command as an operator named alice; its (stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    call_command(name, *args, "--operator", "alice", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def run_plain(name: str, *args: Any) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(name, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def exit_status(*argv: str) -> int:
    """What ``manage.py ARGV`` exits with (a CommandError is printed, then exit 1)."""
    with pytest.raises(SystemExit) as info:
        ManagementUtility(["manage.py", *argv]).execute()
    return int(info.value.code or 0)


@pytest.fixture
def guild() -> Guild:
    return make_guild(min_resolution_votes=1)


@pytest.fixture
def traded(guild: Guild) -> tuple[Market, Member, Member]:
    """An open market with a bettor on each side: (market, on Yes, on No)."""
    yes, no = make_member(guild, "yes"), make_member(guild, "no")
    market = make_market(yes)
    bet(yes, market, 0, 200)
    bet(no, market, 1, 120)
    return market, yes, no


# ------------------------------------------------------------------------------
# pm_settle
# ------------------------------------------------------------------------------
def test_pm_settle_pays_a_resolved_market_once_as_the_operator(
    traded: tuple[Market, Member, Member],
) -> None:
    market, yes, no = traded
    decide(market, outcome_index=0)  # in a test transaction the on-commit task never runs
    shares = Position.objects.get(market=market, member=yes).shares
    before = balance_of(yes), balance_of(no)

    out, _ = run("pm_settle", str(market.pk), "--guild", str(market.guild_id))

    paid = int(shares.to_integral_value(ROUND_FLOOR))
    assert f"market #{market.pk} settled: {paid} points paid to 1 members" in out
    assert (balance_of(yes), balance_of(no)) == (before[0] + paid, before[1])
    assert escrow_of(market) == 0
    entry = AuditLogEntry.objects.get(action="market.settled", target_id=str(market.pk))
    assert entry.actor == "operator:alice"

    state = money_state()
    again, _ = run("pm_settle", str(market.pk), "--guild", str(market.guild_id))
    assert "already settled" in again
    assert money_state() == state
    assert_ledger_sound()


def test_pm_settle_refuses_a_market_that_is_not_resolved(
    traded: tuple[Market, Member, Member],
) -> None:
    market, _, _ = traded
    state = money_state()
    with pytest.raises(CommandError, match=r"is open: only a resolved market is settled"):
        run("pm_settle", str(market.pk), "--guild", str(market.guild_id))
    decide(market, cancel=True)
    state = money_state()
    with pytest.raises(CommandError, match=r"is cancelled.*pm_refund"):
        run("pm_settle", str(market.pk), "--guild", str(market.guild_id))
    assert money_state() == state


def test_pm_settle_refuses_an_unknown_market_or_another_guilds(
    traded: tuple[Market, Member, Member],
) -> None:
    market, _, _ = traded
    decide(market, outcome_index=0)
    other = make_guild()
    state = money_state()
    with pytest.raises(CommandError, match="does not exist in this server"):
        run("pm_settle", str(market.pk + 1000), "--guild", str(market.guild_id))
    with pytest.raises(CommandError, match="does not exist in this server"):
        run("pm_settle", str(market.pk), "--guild", str(other.pk))
    assert money_state() == state
    assert Market.objects.get(pk=market.pk).settled_at is None


def test_a_refusal_exits_non_zero_from_the_command_line(
    traded: tuple[Market, Member, Member], capsys: pytest.CaptureFixture[str]
) -> None:
    market, _, _ = traded
    assert exit_status("pm_settle", str(market.pk), "--guild", str(market.guild_id)) == 1
    assert "only a resolved market is settled" in capsys.readouterr().err
    # Bad input is a usage error (argparse: exit 2), before anything is read.
    assert exit_status("pm_settle", str(market.pk), "--guild", "not-a-guild") == 2
    assert "--guild must be a Discord id" in capsys.readouterr().err


# ------------------------------------------------------------------------------
# pm_refund
# ------------------------------------------------------------------------------
def test_pm_refund_unwinds_a_cancelled_market_as_the_operator(
    traded: tuple[Market, Member, Member],
) -> None:
    market, yes, no = traded
    decide(market, cancel=True)
    spent = {
        m.pk: sum(p.points_spent for p in Position.objects.filter(member=m)) for m in (yes, no)
    }
    before = {m.pk: balance_of(m) for m in (yes, no)}

    out, _ = run("pm_refund", str(market.pk), "--guild", str(market.guild_id))

    assert f"market #{market.pk} refunded: 320 points returned to 2 members" in out
    assert {m.pk: balance_of(m) for m in (yes, no)} == {
        m.pk: before[m.pk] + spent[m.pk] for m in (yes, no)
    }
    assert escrow_of(market) == 0
    entry = AuditLogEntry.objects.get(action="market.refunded", target_id=str(market.pk))
    assert entry.actor == "operator:alice"
    state = money_state()
    assert (
        "already refunded" in run("pm_refund", str(market.pk), "--guild", str(market.guild_id))[0]
    )
    assert money_state() == state
    assert_ledger_sound()


def test_pm_refund_cancels_an_undecided_market_only_when_asked(
    traded: tuple[Market, Member, Member],
) -> None:
    market, _, _ = traded
    state = money_state()
    with pytest.raises(CommandError, match="is open: pass --cancel"):
        run("pm_refund", str(market.pk), "--guild", str(market.guild_id))
    assert money_state() == state

    out, _ = run("pm_refund", str(market.pk), "--guild", str(market.guild_id), "--cancel")

    assert "refunded" in out
    market.refresh_from_db()
    assert market.status == MarketStatus.CANCELLED and market.settled_at is not None
    actors = dict(
        AuditLogEntry.objects.filter(target_id=str(market.pk)).values_list("action", "actor")
    )
    assert actors["market.cancelled"] == "operator:alice"
    assert actors["market.refunded"] == "operator:alice"
    assert escrow_of(market) == 0
    assert_ledger_sound()


def test_pm_refund_refuses_a_resolved_market_and_another_guilds(
    traded: tuple[Market, Member, Member],
) -> None:
    market, _, _ = traded
    other = make_guild()
    with pytest.raises(CommandError, match="does not exist in this server"):
        run("pm_refund", str(market.pk), "--guild", str(other.pk), "--cancel")
    decide(market, outcome_index=1)
    state = money_state()
    with pytest.raises(CommandError, match="resolved with a winner: settle it with pm_settle"):
        run("pm_refund", str(market.pk), "--guild", str(market.guild_id), "--cancel")
    assert money_state() == state


# ------------------------------------------------------------------------------
# pm_reconcile
# ------------------------------------------------------------------------------
def test_pm_reconcile_passes_a_sound_ledger(traded: tuple[Market, Member, Member]) -> None:
    out, _ = run_plain("pm_reconcile")
    assert "entries sum to 0" in out
    assert "reconciled: no differences" in out


def test_pm_reconcile_prints_each_difference_and_fails(
    traded: tuple[Market, Member, Member],
) -> None:
    _, yes, _ = traded
    account = Account.objects.get(member=yes)
    Account.objects.filter(pk=account.pk).update(balance=F("balance") + 7)  # a write around it
    out = io.StringIO()
    with pytest.raises(CommandError, match=r"found 1 difference"):
        call_command("pm_reconcile", stdout=out)
    assert (
        f"account #{account.pk} (guild {yes.guild_id}): cached balance {account.balance + 7}, "
        f"entries total {account.balance}, difference +7"
    ) in out.getvalue()
    assert exit_status("pm_reconcile") == 1


def test_pm_reconcile_refuses_a_guild_without_drip(guild: Guild) -> None:
    with pytest.raises(CommandError, match="--guild applies to --drip"):
        run_plain("pm_reconcile", "--guild", str(guild.pk))
    with pytest.raises(CommandError, match="does not use DRIP"):
        run_plain("pm_reconcile", "--drip", "--guild", str(guild.pk))


# ------------------------------------------------------------------------------
# pm_outbox
# ------------------------------------------------------------------------------
def test_the_bot_s_consumers_are_the_ones_registered() -> None:
    from botrunner.outbox_consumer import CONSUMER, RESULTS_CONSUMER

    # registered by name in botrunner/apps.py
    assert (CONSUMER, RESULTS_CONSUMER) == ("discord", "discord-result-dms")


def test_pm_outbox_shows_each_consumer_s_lag(guild: Guild) -> None:
    OutboxEvent.objects.all().delete()
    first = outbox_append(kind="test.one", guild_id=guild.pk)
    outbox_append(kind="test.two", guild_id=guild.pk)
    outbox_append(kind="test.three", guild_id=guild.pk + 1)
    OutboxEvent.objects.filter(pk__gt=first.pk).update(
        created_at=timezone.now() - timedelta(minutes=5)
    )
    outbox_acknowledge("metrics", first.pk)

    out, _ = run_plain("pm_outbox")

    lines = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert lines["metrics"][1:4] == [str(first.pk), "2", "5m"]
    # The bot's consumers (the feed and the result DMs) have not read anything: their
    # whole backlog shows.
    for bots in ("discord", "discord-result-dms"):
        assert lines[bots][1:3] == ["0", "3"]
        assert lines[bots][-1] == "never"

    by_guild, _ = run_plain("pm_outbox", "--consumer", "metrics", "--guild", str(guild.pk))
    assert by_guild.splitlines()[1].split()[2] == "1"

    lagging = "discord, discord-result-dms, metrics"
    with pytest.raises(CommandError, match=f"outbox lag over 60s: {lagging}"):
        run_plain("pm_outbox", "--max-age", "60")
    run_plain("pm_outbox", "--max-age", "3600")  # within the limit: passes


# ------------------------------------------------------------------------------
# pm_drip_ambiguous
# ------------------------------------------------------------------------------
def _transfer(
    member: Member, amount: int, key: str, status: str = DripTransferStatus.AMBIGUOUS
) -> DripTransfer:
    now = timezone.now()
    return DripTransfer.objects.create(
        guild_id=member.guild_id,
        member=member,
        amount=amount,
        purpose="payout" if amount > 0 else "bet",
        idempotency_key=key,
        status=status,
        attempts=1,
        balance_before=100,
        sent_at=now - timedelta(minutes=10),
        next_attempt_at=now - timedelta(minutes=9),
        last_error="balance went 100 -> 180, expected 150",
    )


def test_pm_drip_ambiguous_lists_the_ambiguous_transfers(guild: Guild) -> None:
    member = make_member(guild, "dripper")
    credit = _transfer(member, 50, "payout:1:1")
    _transfer(member, 20, "payout:2:1", status=DripTransferStatus.APPLIED)
    elsewhere = _transfer(make_member(make_guild(), "away"), 30, "payout:3:1")

    out, _ = run_plain("pm_drip_ambiguous")
    assert "payout:1:1" in out and "payout:3:1" in out and "payout:2:1" not in out
    assert out.strip().endswith("2 ambiguous DRIP transfers")

    mine, _ = run_plain("pm_drip_ambiguous", "--guild", str(guild.pk))
    assert mine.splitlines()[0].startswith(
        f"{credit.pk}\tguild {guild.pk}\tmember {member.discord_id}\t+50"
    )
    assert "expected 150" in mine and str(elsewhere.pk) not in mine.split("\t")[0]
    assert mine.strip().endswith("1 ambiguous DRIP transfer")


def test_a_credit_found_applied_is_recorded_applied_and_audited(guild: Guild) -> None:
    member = make_member(guild, "dripper")
    credit = _transfer(member, 50, "payout:1:1")

    out, _ = run(
        "pm_drip_ambiguous",
        str(credit.pk),
        "--guild",
        str(guild.pk),
        "--applied",
        "--note",
        "seen in DRIP history",
    )

    credit.refresh_from_db()
    assert credit.status == DripTransferStatus.APPLIED and credit.applied_at is not None
    assert "resolved applied: now applied" in out
    entry = AuditLogEntry.objects.get(action="drip_transfer.resolve")
    assert entry.actor == "operator:alice"
    assert entry.data["verdict"] == "applied" and entry.data["note"] == "seen in DRIP history"
    assert entry.data["last_error"] == "balance went 100 -> 180, expected 150"
    assert not DripTransfer.objects.filter(idempotency_key__startswith="compensate:").exists()


def test_a_debit_found_applied_has_its_points_queued_back(guild: Guild) -> None:
    member = make_member(guild, "dripper")
    debit = _transfer(member, -40, "bet:abc")

    run("pm_drip_ambiguous", str(debit.pk), "--guild", str(guild.pk), "--applied")

    debit.refresh_from_db()
    assert debit.status == DripTransferStatus.APPLIED
    back = DripTransfer.objects.get(idempotency_key="compensate:abc")
    assert (back.amount, back.status, back.member_id) == (40, DripTransferStatus.PENDING, member.pk)


def test_not_applied_resends_a_credit_and_fails_a_debit(guild: Guild) -> None:
    member = make_member(guild, "dripper")
    credit = _transfer(member, 50, "payout:1:1")
    debit = _transfer(member, -40, "bet:abc")

    run("pm_drip_ambiguous", str(credit.pk), "--guild", str(guild.pk), "--not-applied")
    run("pm_drip_ambiguous", str(debit.pk), "--guild", str(guild.pk), "--not-applied")

    credit.refresh_from_db()
    debit.refresh_from_db()
    assert credit.status == DripTransferStatus.PENDING
    assert credit.next_attempt_at is not None and credit.next_attempt_at <= timezone.now()
    assert debit.status == DripTransferStatus.FAILED
    assert not DripTransfer.objects.filter(idempotency_key__startswith="compensate:").exists()
    assert AuditLogEntry.objects.filter(action="drip_transfer.resolve").count() == 2


def test_a_transfer_not_ambiguous_or_elsewhere_cannot_be_resolved(guild: Guild) -> None:
    member = make_member(guild, "dripper")
    applied = _transfer(member, 50, "payout:1:1", status=DripTransferStatus.APPLIED)
    ambiguous = _transfer(member, 50, "payout:2:1")
    other = make_guild()
    rows = lambda: sorted(DripTransfer.objects.values_list("pk", "status", "last_error"))  # noqa: E731
    before = rows()

    with pytest.raises(CommandError, match="is applied at drip, not ambiguous"):
        run("pm_drip_ambiguous", str(applied.pk), "--guild", str(guild.pk), "--not-applied")
    with pytest.raises(CommandError, match="No DRIP transfer"):
        run("pm_drip_ambiguous", str(ambiguous.pk), "--guild", str(other.pk), "--applied")
    with pytest.raises(CommandError, match="--applied or --not-applied"):
        run("pm_drip_ambiguous", str(ambiguous.pk), "--guild", str(guild.pk))
    with pytest.raises(CommandError, match="Give --guild"):
        run("pm_drip_ambiguous", str(ambiguous.pk), "--applied")
    with pytest.raises(CommandError, match="No guild"):
        run("pm_drip_ambiguous", str(ambiguous.pk), "--guild", "123456789", "--applied")

    assert rows() == before
    assert not AuditLogEntry.objects.filter(action="drip_transfer.resolve").exists()


# ------------------------------------------------------------------------------
# pm_apikey
# ------------------------------------------------------------------------------
def test_pm_apikey_issues_a_key_shown_once_and_revokes_it(guild: Guild) -> None:
    member = make_member(guild, "api user")
    out, err = run(
        "pm_apikey", "issue", "--guild", str(guild.pk), "--member", str(member.discord_id)
    )

    key = out.strip()
    assert key.startswith("pm_") and "shown once" in err
    token = api_token_authenticate(key)
    assert token is not None and token.member_id == member.pk
    assert key not in str(list(AuditLogEntry.objects.values_list("data", flat=True)))
    assert AuditLogEntry.objects.get(action="api_token.issue").actor == "operator:alice"

    out, _ = run(
        "pm_apikey", "revoke", "--guild", str(guild.pk), "--member", str(member.discord_id)
    )
    assert "revoked" in out
    assert api_token_authenticate(key) is None
    assert AuditLogEntry.objects.get(action="api_token.revoke").actor == "operator:alice"
    again, _ = run(
        "pm_apikey", "revoke", "--guild", str(guild.pk), "--member", str(member.discord_id)
    )
    assert "had no API key; nothing changed" in again


def test_pm_apikey_refuses_a_member_not_in_the_guild(guild: Guild) -> None:
    member = make_member(guild, "api user")
    other = make_guild()
    with pytest.raises(CommandError, match=f"No member {member.discord_id} in guild {other.pk}"):
        run("pm_apikey", "issue", "--guild", str(other.pk), "--member", str(member.discord_id))
    with pytest.raises(CommandError, match="No guild 42"):
        run("pm_apikey", "issue", "--guild", "42", "--member", str(member.discord_id))
    assert not ApiToken.objects.exists()
    assert not AuditLogEntry.objects.filter(action__startswith="api_token").exists()


# ------------------------------------------------------------------------------
# pm_export_ledger
# ------------------------------------------------------------------------------
def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_pm_export_ledger_writes_one_guild_s_entries_with_a_header(
    traded: tuple[Market, Member, Member],
) -> None:
    market, yes, _ = traded
    make_market(make_member(make_guild(), "elsewhere"))  # another guild's entries

    out, _ = run_plain("pm_export_ledger", "--guild", str(market.guild_id))

    assert out.splitlines()[0].startswith("transaction_id,created_at,kind,actor,memo")
    rows = _csv(out)
    mine = LedgerEntry.objects.filter(transaction__guild_id=market.guild_id)
    assert sorted(int(r["entry_id"]) for r in rows) == sorted(mine.values_list("pk", flat=True))
    sums: dict[str, int] = defaultdict(int)
    for row in rows:
        sums[row["transaction_id"]] += int(row["amount"])
    assert set(sums.values()) == {0}
    bets = [r for r in rows if r["kind"] == "bet" and r["member_discord_id"] == str(yes.discord_id)]
    assert [int(r["amount"]) for r in bets] == [-200]


def test_pm_export_ledger_writes_a_file_and_filters_by_time(
    traded: tuple[Market, Member, Member], tmp_path: Path
) -> None:
    market, _, _ = traded
    target = tmp_path / "ledger.csv"
    _, err = run_plain("pm_export_ledger", "--guild", str(market.guild_id), "--output", str(target))
    count = LedgerEntry.objects.filter(transaction__guild_id=market.guild_id).count()
    assert f"{count} entries written" in err
    assert len(_csv(target.read_text())) == count
    assert not list(tmp_path.glob(".*partial"))

    future = (timezone.now() + timedelta(hours=1)).isoformat()
    out, _ = run_plain("pm_export_ledger", "--guild", str(market.guild_id), "--since", future)
    assert _csv(out) == [] and out.startswith("transaction_id,")


def test_pm_export_ledger_refuses_bad_input(guild: Guild, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="No guild 42"):
        run_plain("pm_export_ledger", "--guild", "42")
    with pytest.raises(CommandError, match="--since must be an ISO date"):
        run_plain("pm_export_ledger", "--guild", str(guild.pk), "--since", "yesterday")
    with pytest.raises(CommandError, match="--until needs a time zone"):
        run_plain("pm_export_ledger", "--guild", str(guild.pk), "--until", "2025-01-01T00:00:00")
    with pytest.raises(CommandError, match="Could not write"):
        run_plain(
            "pm_export_ledger", "--guild", str(guild.pk), "--output", str(tmp_path / "no" / "x.csv")
        )
