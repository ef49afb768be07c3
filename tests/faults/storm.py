"""A bounded bet storm against a live gunicorn, and the checks every storm ends with."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
import requests

from tests.api.gunicorn_server import run_django


@dataclass
class Answer:
    key: str
    status: int
    content_type: str
    body: object  # the parsed JSON, or the raw text when it was not JSON
    sent_at: float
    answered_at: float = 0.0


@dataclass
class Storm:
    """``threads`` clients betting 1 point each, each bet with an Idempotency-Key of its own."""

    base_url: str
    api_key: str
    market_id: int
    threads: int = 4
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def bet(self, session: requests.Session, key: str | None = None) -> Answer:
        """One bet; ``key`` retries an earlier one (the API replays it if it was placed)."""
        key = key or f"storm-{uuid.uuid4().hex}"
        sent_at = time.monotonic()
        try:
            response = session.post(
                f"{self.base_url}/api/v1/markets/{self.market_id}/bets/",
                json={"outcome": 0, "amount": 1},
                headers={"Authorization": f"Bearer {self.api_key}", "Idempotency-Key": key},
                timeout=30,
            )
        except requests.RequestException as exc:
            # Never expected: the web process itself stays up through every fault.
            return Answer(key, 0, "", f"no answer: {exc!r}", sent_at, time.monotonic())
        try:
            body: object = response.json()
        except ValueError:
            body = response.text[:500]
        return Answer(
            key,
            response.status_code,
            response.headers.get("Content-Type", ""),
            body,
            sent_at,
            time.monotonic(),
        )

    def _client(self) -> None:
        with requests.Session() as session:
            while not self._stop.is_set():
                answer = self.bet(session)
                with self._lock:
                    self.answers.append(answer)

    def run(self, fault: Callable[[], None]) -> None:
        """Bet while ``fault`` runs (it breaks something and repairs it); then stop."""
        clients = [threading.Thread(target=self._client, daemon=True) for _ in range(self.threads)]
        for client in clients:
            client.start()
        try:
            fault()
        finally:
            self._stop.set()
            for client in clients:
                client.join(timeout=60)


def is_success(answer: Answer) -> bool:
    return answer.status == 201 and isinstance(answer.body, dict) and "trade_id" in answer.body


def is_error_envelope(answer: Answer) -> bool:
    """``{"error": {"code", "message", "details"}}`` as JSON, the API's one error shape."""
    if not answer.content_type.startswith("application/json") or not isinstance(answer.body, dict):
        return False
    error = answer.body.get("error")
    return (
        set(answer.body) == {"error"}
        and isinstance(error, dict)
        and {"code", "message", "details"} <= set(error)
        and isinstance(error["code"], str)
    )


def assert_every_answer_is_a_bet_or_the_envelope(answers: list[Answer]) -> None:
    bare = [a for a in answers if not (is_success(a) or is_error_envelope(a))]
    assert not bare, (
        f"{len(bare)} answers were neither a bet nor the JSON error envelope: {bare[:3]}"
    )


def assert_no_bet_half_applied(
    database_url: str, answers: list[Answer], *, commit_may_be_unknown: bool = False
) -> None:
    """A bet the client was told failed left no trade; one it was told succeeded left one.

    ``commit_may_be_unknown``: when PostgreSQL goes down just after a COMMIT, the
    commit may have happened with its answer lost; the client is told 503 and
    retries with the same Idempotency-Key, which replays the one trade (the
    caller checks that). Otherwise a failure must have left nothing.

    And the trades agree with the ledger: each trade has its ledger transaction,
    each bet transaction has its trade (a trade without its money, or money moved
    without a trade, is the partial write a fault must never leave).
    """
    with psycopg.connect(database_url) as conn:
        # The API stores a trade under ``api:<member>:<the client's key>``.
        recorded = {
            row[0].rsplit(":", 1)[1]
            for row in conn.execute(
                "SELECT idempotency_key FROM betting_trade"
                " WHERE idempotency_key LIKE 'api:%:storm-%'"
            )
        }
        orphans = conn.execute(
            "SELECT count(*) FROM betting_trade t LEFT JOIN points_ledgertransaction l"
            " ON l.id = t.ledger_transaction_id WHERE l.id IS NULL"
        ).fetchone()[0]
        unbacked = conn.execute(
            "SELECT count(*) FROM points_ledgertransaction l WHERE l.kind = 'bet'"
            " AND NOT EXISTS (SELECT 1 FROM betting_trade t WHERE t.ledger_transaction_id = l.id)"
        ).fetchone()[0]
    told_failed = {a.key for a in answers if not is_success(a)}
    told_placed = {a.key for a in answers if is_success(a)}
    if not commit_may_be_unknown:
        assert not told_failed & recorded, "a bet the client was told failed was recorded"
    missing = [a for a in answers if a.key in told_placed - recorded]
    assert not missing, (
        f"{len(missing)} bets the client was told succeeded are missing: {missing[:2]}"
    )
    if not commit_may_be_unknown:
        # Every key of the storm is accounted for: placed and told so, or told no and absent.
        assert recorded <= {a.key for a in answers}
    assert orphans == 0, f"{orphans} trades have no ledger transaction"
    assert unbacked == 0, f"{unbacked} bet transactions have no trade"


def assert_ledger_reconciles(env: dict[str, str]) -> str:
    """The operator's own check: cached balances match their entries and the ledger sums to 0."""
    return run_django(["manage.py", "pm_reconcile"], env)
