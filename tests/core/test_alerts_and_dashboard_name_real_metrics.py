"""Every metric an alert rule or a dashboard panel names is served by a real endpoint.

A rule about a metric nobody exports never fires, and promtool's unit tests
cannot tell: they feed the rule the series it expects. So this test starts the
three processes Prometheus scrapes — gunicorn, the Celery worker and the bot
(against the Discord emulator) — on a scratch database, makes them do some work
(requests, a bet, a reconciliation, a connection to the gateway), scrapes each,
and checks every metric named in ``deploy/prometheus/alerts.yml`` and
``deploy/grafana/predictmarket.json`` against what they served.

Names Prometheus or node_exporter provide (``up``, ``node_*``) are not ours to
serve and are allowed by name.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from predictmarket.worker_metrics import build_registry  # noqa: F401 - the module must import
from tests.api.gunicorn_server import (
    ROOT,
    drop_database,
    free_port,
    gunicorn,
    migrate_and_seed,
    recreate_database,
    run_django,
    scratch_database_url,
    server_environment,
)
from tests.api.live_seed import GUILD_ID
from tests.botrunner.e2e.bot_process import BotProcess
from tests.core.test_worker_and_beat_are_watched import (
    celery,
    stop,
    wait_for,
    wait_until_consuming,
)
from tests.discord_emulator import DiscordEmulator, GuildSetup
from tests.drip.fake_drip import FakeDrip

ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "predictmarket.json"

DRIP_GUILD_ID = 810_000_000_000_000_077

DECIDE_A_MARKET = f"""
from datetime import timedelta
from markets.services import market_close, market_create, resolution_vote
from points.services import member_ensure
creator = member_ensure(guild_id={GUILD_ID}, discord_id=820_000_000_000_000_000)
market = market_create(creator=creator, question="Settled by the worker?", options=["Yes", "No"],
                       duration=timedelta(days=1), actor="system:scrape", bypass_rate_limit=True)
market_close(market_id=market.pk, actor="system:scrape")
for voter in ("discord:1", "discord:2"):
    resolution_vote(market_id=market.pk, voter=voter, outcome_index=0)
"""

# Provided by Prometheus itself and by node_exporter, not by predictmarket.
EXTERNAL = re.compile(r"^(up|node_\w+)$")

PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
    "unless", "offset", "le", "inf", "nan",
}  # fmt: skip


def alert_expressions() -> list[str]:
    rules = yaml.safe_load(ALERTS.read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    if not DASHBOARD.exists():
        return []
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("expr"), str):
                found.append(node["expr"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(DASHBOARD.read_text()))
    return found


def metric_names(expression: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, labels or keywords)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expression)  # label values
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    # Label lists of aggregations and vector matching.
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\$\w+", " ", text)  # Grafana variables ($__rate_interval, $job)
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        token = match.group(0)
        following = text[match.end() :].lstrip()
        if following.startswith("(") or token.lower() in PROMQL_WORDS:
            continue  # a function or aggregation, or a keyword
        if re.fullmatch(r"\d+[smhdwy]", token) or text[match.start() - 1 : match.start()].isdigit():
            continue
        names.add(token)
    return names


def test_the_name_extractor_reads_promql_as_prometheus_does() -> None:
    expression = (
        'sum by (le) (rate(django_http_requests_latency_seconds_by_view_method_bucket{job="web",'
        'status=~"5.."}[5m])) / ignoring(x) group_left() up == 0 or on () '
        "time() - predictmarket_bot_heartbeat_timestamp_seconds > 1e3 unless absent(foo_total)"
    )
    assert metric_names(expression) == {
        "django_http_requests_latency_seconds_by_view_method_bucket",
        "up",
        "predictmarket_bot_heartbeat_timestamp_seconds",
        "foo_total",
    }


def served_names(exposition: str) -> set[str]:
    """Sample names in a scrape, and the series names their families imply."""
    names: set[str] = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            names.add(name)
            if kind == "histogram":
                names |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
            if kind == "counter" and not name.endswith("_total"):
                names.add(f"{name}_total")
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


class MetricsBot(BotProcess):
    def __init__(self, emulator: DiscordEmulator, log: Path, database_url: str, port: int):
        super().__init__(emulator, log)
        self.database_url, self.port = database_url, port

    def environment(self) -> dict[str, str]:
        env = super().environment()
        env.update(DATABASE_URL=self.database_url, BOT_METRICS_PORT=str(self.port))
        return env


def scrape(url: str) -> str | None:
    try:
        response = requests.get(url, timeout=5)
    except requests.ConnectionError:
        return None
    return response.text if response.ok else None


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, set[str]]]:
    tmp = tmp_path_factory.mktemp("scrape")
    database_url = scratch_database_url("scrape")
    recreate_database(database_url)
    env = server_environment(database_url)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    # A guild that keeps its points in DRIP (a fake DRIP on loopback), so the
    # worker's DRIP reconciliation has a guild to report on.
    drip = FakeDrip(realm_id=secrets.token_hex(12))
    env["DRIP_API_BASE_URL"] = drip.start()
    try:
        seed = migrate_and_seed(env)
        run_django(
            [
                "manage.py",
                "shell",
                "-c",
                "from points.drip.services import guild_connect_drip\n"
                "from points.services import guild_ensure\n"
                f"guild_ensure(guild_id={DRIP_GUILD_ID}, name='DRIP guild')\n"
                f"guild_connect_drip(guild_id={DRIP_GUILD_ID}, realm_id='{drip.realm_id}', "
                f"api_key='{drip.api_key}', currency_id='{drip.currency_id}', "
                "actor='system:scrape-test')",
            ],
            env,
        )
        # A market decided with no worker running: the worker's sweep settles it. Its
        # settle task goes to an in-memory broker, lost with the process, not to a
        # queue a later test's worker would consume.
        run_django(
            ["manage.py", "shell", "-c", DECIDE_A_MARKET],
            dict(env, CELERY_TASK_ALWAYS_EAGER="false", CELERY_BROKER_URL="memory://"),
        )
        found: dict[str, set[str]] = {}
        with gunicorn(env, tmp / "gunicorn.log", workers=1, threads=2) as web:
            headers = {"Authorization": f"Bearer {seed['member_key']}"}
            market = seed["markets"]["open"]
            requests.get(f"{web.base_url}/api/v1/markets/{market}/", headers=headers, timeout=10)
            requests.post(
                f"{web.base_url}/api/v1/markets/{market}/bets/",
                json={"outcome": 0, "amount": 5},
                headers={**headers, "Idempotency-Key": "scrape-test-bet"},
                timeout=10,
            )
            requests.get(f"{web.base_url}/api/v1/markets/999999/", headers=headers, timeout=10)
            requests.get(f"{web.base_url}/health/ready", timeout=10)
            found["web"] = served_names(requests.get(f"{web.base_url}/metrics", timeout=10).text)

        from predictmarket.celery import app

        worker_port = free_port()
        queue = "pm-scrape-test"
        worker_log = tmp / "worker.log"
        worker_env = dict(
            env,
            CELERY_TASK_ALWAYS_EAGER="false",
            WORKER_METRICS_PORT=str(worker_port),
            LOG_LEVEL="info",
            LOG_FORMAT="console",
        )
        worker = celery(
            ["worker", "--concurrency=1", "-Q", queue, "-l", "info"], worker_env, worker_log
        )
        try:
            url = f"http://127.0.0.1:{worker_port}/metrics"
            wait_for(lambda: scrape(url), "the worker's metrics", worker_log)
            wait_until_consuming(worker_log)
            for task in (
                "points.reconcile_ledger",
                "points.reconcile_drip",
                "betting.settlement_sweep",
            ):
                app.send_task(task, queue=queue)
            found["worker"] = wait_for(
                lambda: (
                    names
                    if "predictmarket_ledger_total_points"
                    in (names := served_names(scrape(url) or ""))
                    and "predictmarket_drip_drift_members" in names
                    and "predictmarket_settlement_seconds_bucket" in names
                    else None
                ),
                "both reconciliations' figures on the worker's /metrics",
                worker_log,
            )
        finally:
            stop(worker)

        bot_port = free_port()
        with DiscordEmulator([GuildSetup(name="Scraped guild")]) as emulator:
            bot = MetricsBot(emulator, tmp / "runbot.log", database_url, bot_port)
            bot.start()
            try:
                url = f"http://127.0.0.1:{bot_port}/metrics"
                found["bot"] = wait_for(
                    lambda: (
                        names
                        if "predictmarket_bot_heartbeat_timestamp_seconds"
                        in (names := served_names(scrape(url) or ""))
                        else None
                    ),
                    "the bot's heartbeat on its /metrics",
                    bot.log,
                    timeout=90,
                )
            finally:
                bot.stop()
        yield found
    finally:
        drop_database(database_url)
        drip.stop()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.parametrize(
    ("source", "expressions"),
    [("alerts.yml", alert_expressions), ("predictmarket.json", dashboard_expressions)],
)
def test_every_metric_named_is_served(
    scraped: dict[str, set[str]], source: str, expressions
) -> None:
    named = set().union(*(metric_names(expression) for expression in expressions()))
    if source == "predictmarket.json" and not DASHBOARD.exists():
        pytest.fail(f"{DASHBOARD} is missing")
    served = set().union(*scraped.values())
    missing = sorted(name for name in named if name not in served and not EXTERNAL.match(name))
    assert named, f"no metric found in {source}"
    assert not missing, f"{source} names metrics no endpoint serves: {missing}"


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
def test_each_process_serves_its_own_figures(scraped: dict[str, set[str]]) -> None:
    assert "django_http_requests_latency_seconds_by_view_method_bucket" in scraped["web"]
    assert "predictmarket_trades_total" in scraped["web"]
    assert "predictmarket_celery_task_seconds_bucket" in scraped["worker"]
    assert "predictmarket_outbox_lag_seconds" in scraped["worker"]
    assert "predictmarket_bot_gateway_shards_connected" in scraped["bot"]
    # Web samples stay on the web: the worker's endpoint is not gunicorn's.
    assert "django_http_requests_latency_seconds_by_view_method_bucket" not in scraped["worker"]
