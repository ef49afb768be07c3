"""The SQL function and the ORM path (SQLite's, the executable specification) write the same rows.

On PostgreSQL the same scenario runs twice, in two fresh guilds: once through
``betting_trade_write`` / ``points_ledger_post`` and once through the portable
path (``predictmarket.db.portable_writes``). Every row the trades leave (the
ledger, balances, pools, the market row, trades, positions, the outbox, the
audit log) is compared once ids, keys and times are replaced by what they
stand for.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import Any

import pytest

from betting.models import Position, Trade
from markets.models import Market, Outcome
from points.ledger import Leg, ledger_post
from points.models import Account, LedgerEntry, LedgerTransaction, TransactionKind
from points.services import house_account
from predictmarket.db import portable_writes, statements_recorded
from predictmarket.errors import DomainError
from predictmarket.models import AuditLogEntry, OutboxEvent
from tests.betting.helpers import bet, sell
from tests.markets.helpers import assert_ledger_sound, make_guild, make_market, make_member

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def scenario(run: str) -> tuple[Market, dict[int, str], list[str]]:
    """Bets, sells, a refusal, a retry and a plain posting; the market, names, answers."""
    guild = make_guild(starting_balance=500)
    creator = make_member(guild, "creator")
    market = make_market(creator, options=("Red", "Green", "Blue"))
    ann, bob = make_member(guild, "ann"), make_member(guild, "bob")
    answers: list[str] = []

    def step(name: str, action: Callable[[], Any]) -> None:
        try:
            result = action()
        except DomainError as exc:
            answers.append(f"{name}: {exc.code}")
            return
        replayed = getattr(result, "replayed", None)
        balance = getattr(result, "balance", None)
        answers.append(f"{name}: {getattr(result, 'shares', '')} {balance} {replayed}")

    step("ann buys", lambda: bet(ann, market, 0, 120, idempotency_key=f"{run}-1"))
    step("bob buys", lambda: bet(bob, market, 2, 75, idempotency_key=f"{run}-2"))
    step("ann again", lambda: bet(ann, market, 0, 40, idempotency_key=f"{run}-3"))
    step("ann retries", lambda: bet(ann, market, 0, 40, idempotency_key=f"{run}-3"))
    step("bob overdraws", lambda: bet(bob, market, 1, 499, idempotency_key=f"{run}-4"))
    step("ann sells some", lambda: sell(ann, market, 0, "50.5", idempotency_key=f"{run}-5"))
    step("bob sells all", lambda: sell(bob, market, 2, "all", idempotency_key=f"{run}-6"))
    step("bob sells more", lambda: sell(bob, market, 2, "1", idempotency_key=f"{run}-7"))
    step(
        "house grants",
        lambda: ledger_post(
            guild_id=guild.pk,
            legs=[Leg(house_account(guild.pk).pk, -30), Leg(bob.account.pk, 30)],
            kind=TransactionKind.GRANT,
            actor="test",
            idempotency_key=f"{run}-grant",
        ),
    )
    step("bob buys after", lambda: bet(bob, market, 1, 60, idempotency_key=f"{run}-8"))
    names = {creator.pk: "creator", ann.pk: "ann", bob.pk: "bob"}
    return market, names, answers


def rows(market: Market, names: dict[int, str], run: str) -> dict[str, Any]:
    """Every row of the scenario's guild, ids and keys replaced by what they name."""
    labels = {o.pk: f"outcome {o.index}" for o in Outcome.objects.filter(market=market)}
    accounts = {
        a.pk: names.get(a.member_id, a.kind) if a.member_id else f"{a.kind} {a.label[:8]}"
        for a in Account.objects.filter(guild_id=market.guild_id)
    }
    trades = list(Trade.objects.filter(market=market).order_by("id"))
    trade_numbers = {t.pk: i for i, t in enumerate(trades)}

    def key(text: str) -> str:
        text = text.replace(run, "RUN").replace(f"market:{market.pk}", "market:M")
        return re.sub(r"\d{6,}", "ID", text)  # guild and member ids in other keys

    transactions = LedgerTransaction.objects.filter(guild_id=market.guild_id).order_by("id")
    return {
        "market": Market.objects.values("volume", "status").get(pk=market.pk),
        "pools": list(Outcome.objects.filter(market=market).order_by("index").values_list("pool")),
        "balances": sorted(
            (accounts[a.pk], a.balance) for a in Account.objects.filter(guild_id=market.guild_id)
        ),
        "ledger": [
            (
                t.kind,
                key(t.idempotency_key),
                t.memo.replace(f"#{market.pk}", "#M"),
                t.actor.split(":")[0],
                sorted(
                    (accounts[e.account_id], e.amount, e.balance_after)
                    for e in LedgerEntry.objects.filter(transaction=t)
                ),
            )
            for t in transactions
        ],
        "trades": [
            (
                names[t.member_id],
                labels[t.outcome_id],
                t.side,
                t.points,
                t.shares,
                t.average_price,
                t.fee,
                t.probabilities_before,
                t.probabilities_after,
                key(t.idempotency_key),
                t.ledger_transaction.kind,
                t.created_at == t.ledger_transaction.created_at,
            )
            for t in trades
        ],
        "positions": sorted(
            (names[p.member_id], labels[p.outcome_id], p.shares, p.points_spent, p.points_received)
            for p in Position.objects.filter(market=market)
        ),
        "outbox": [
            (
                e.kind,
                e.aggregate_type,
                e.aggregate_id == str(market.pk),
                {
                    k: (
                        trade_numbers[v]
                        if k == "trade_id"
                        # each run's market closes at its own time: compare it with its row
                        else v == market.closes_at.isoformat()
                        if k == "closes_at"
                        else v
                    )
                    for k, v in e.payload.items()
                    if k not in ("market_id", "question")
                },
            )
            for e in OutboxEvent.objects.filter(guild_id=market.guild_id).order_by("id")
        ],
        "audit": sorted(
            AuditLogEntry.objects.filter(guild_id=market.guild_id).values_list("action", flat=True)
        ),
    }


@pytest.mark.parametrize("first", ["sql", "portable"])
def test_the_sql_function_and_the_orm_path_leave_the_same_rows(first: str) -> None:
    paths: dict[str, Callable[[], contextlib.AbstractContextManager[Any]]] = {
        "sql": contextlib.nullcontext,
        "portable": portable_writes,
    }
    order = [first, *(p for p in paths if p != first)]
    results = {}
    calls = {}
    for path in order:
        with paths[path](), statements_recorded() as statements:
            market, names, answers = scenario(run=f"{path}-run")
        calls[path] = sum("betting_trade_write(" in s.sql for s in statements)
        results[path] = (answers, rows(market, names, f"{path}-run"))
    assert calls == {"sql": 7, "portable": 0}  # six trades and the refused one

    sql_answers, sql_rows = results["sql"]
    portable_answers, portable_rows = results["portable"]
    assert sql_answers == portable_answers
    for table in sql_rows:
        assert sql_rows[table] == portable_rows[table], table
    # The scenario did what it says: a refusal, a replay, a posting, trades.
    assert "bob overdraws: insufficient_points" in sql_answers
    assert any(a.startswith("ann retries:") and a.endswith("True") for a in sql_answers)
    assert "bob sells more: insufficient_shares" in sql_answers
    assert len(sql_rows["trades"]) == 6
    assert sql_rows["audit"] == ["market.create"]  # no audit row per trade
    assert_ledger_sound()
