"""The Celery worker serves its own metrics, and a dead worker or beat fails readiness.

The process tests start the real ``celery worker`` (prefork, two children) and
``celery beat`` as subprocesses on the pytest database and the Redis broker,
each on a queue of its own, and read what they left: the worker's ``/metrics``
and the heartbeat rows.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.test import Client, override_settings
from django.utils import timezone

from predictmarket import heartbeats
from predictmarket.celery import _is_celery_worker
from predictmarket.models import ProcessHeartbeat
from tests.api.gunicorn_server import ROOT, free_port, server_environment
from tests.botrunner.e2e import bot_process


def stamp(name: str, seconds_ago: float) -> None:
    ProcessHeartbeat.objects.update_or_create(
        name=name, defaults={"beat_at": timezone.now() - timedelta(seconds=seconds_ago)}
    )


@pytest.mark.django_db
@pytest.mark.parametrize("check", [heartbeats.check_worker, heartbeats.check_beat])
def test_a_background_process_that_never_beat_or_went_quiet_is_down(check) -> None:
    name = heartbeats.WORKER if check is heartbeats.check_worker else heartbeats.BEAT
    with pytest.raises(RuntimeError, match="never sent a heartbeat"):
        check()
    stamp(name, heartbeats.STALE_AFTER + 1)
    with pytest.raises(RuntimeError, match=r"last heartbeat 9\d s ago"):
        check()
    stamp(name, 2)
    assert 1 < check()["heartbeat_age_seconds"] < 30


@pytest.mark.django_db
def test_ready_fails_naming_beat_when_only_beat_is_quiet() -> None:
    stamp(heartbeats.WORKER, 1)
    stamp(heartbeats.BEAT, 600)
    response = Client().get("/health/ready")
    body = response.json()
    assert response.status_code == 503
    assert body["failing"] == ["beat"]
    beat = next(check for check in body["checks"] if check["name"] == "beat")
    assert "the Celery beat scheduler is down: last heartbeat 600 s ago" in beat["details"]["error"]


@pytest.mark.django_db
def test_with_tasks_run_inline_no_worker_is_expected() -> None:
    with override_settings(CELERY_TASK_ALWAYS_EAGER=True):
        assert heartbeats.check_worker() == {"eager": True}
        assert heartbeats.check_beat() == {"eager": True}


@pytest.mark.parametrize(
    ("argv", "worker"),
    [
        (["/app/.venv/bin/celery", "-A", "predictmarket", "worker", "-l", "info"], True),
        (["/usr/lib/python3/site-packages/celery/__main__.py", "-A", "x", "worker"], True),
        (["/app/.venv/bin/celery", "-A", "predictmarket", "beat"], False),
        (["manage.py", "runserver"], False),
        (["/app/.venv/bin/gunicorn", "predictmarket.wsgi"], False),
    ],
)
def test_only_the_worker_gets_a_metrics_directory_of_its_own(argv, worker) -> None:
    assert _is_celery_worker(argv) is worker


# ------------------------------------------------------------------------------
# The real processes
# ------------------------------------------------------------------------------
def celery(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "predictmarket", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def wait_for(condition, what: str, log: Path, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}:\n{log.read_text()[-4000:]}")


def wait_until_consuming(log: Path) -> None:
    """The worker declared its queue: a task sent before that could find no binding and be lost."""
    wait_for(lambda: " ready." in log.read_text(errors="replace"), "the worker to be ready", log)


def sample(metrics: str, name: str, **labels: str) -> float | None:
    for line in metrics.splitlines():
        if line.startswith("#"):
            continue
        match = re.fullmatch(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if all(found.get(key) == value for key, value in labels.items()):
            return float(match.group(3))
    return None


@pytest.fixture
def worker_env(transactional_db: None) -> dict[str, str]:
    env = server_environment(bot_process.test_database_url())
    env.update(CELERY_TASK_ALWAYS_EAGER="false", LOG_LEVEL="info", LOG_FORMAT="console")
    # Not a directory shared with anything: the worker must choose its own.
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.pop("WORKER_METRICS_DIR", None)
    return env


@pytest.fixture
def worker(worker_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    port = free_port()
    queue = f"pm-test-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "worker.log"
    env = dict(worker_env, WORKER_METRICS_PORT=str(port))
    process = celery(
        ["worker", "--pool=prefork", "--concurrency=2", "-Q", queue, "-l", "info"], env, log
    )
    try:
        yield f"http://127.0.0.1:{port}/metrics", queue, log
    finally:
        stop(process)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
def test_the_worker_serves_the_metrics_of_the_tasks_its_children_ran(worker) -> None:
    from predictmarket.celery import app

    url, queue, log = worker

    def scrape() -> str | None:
        try:
            return requests.get(url, timeout=2).text
        except requests.ConnectionError:
            return None

    wait_for(scrape, "the worker's metrics endpoint", log)
    wait_until_consuming(log)
    for _ in range(3):  # no result backend: the counter below is how we know they ran
        app.send_task("points.reconcile_ledger", queue=queue)

    def counted() -> str | None:
        text = scrape() or ""
        task = "points.reconcile_ledger"
        done = sample(text, "predictmarket_celery_tasks_total", task=task, state="SUCCESS")
        return text if done == 3 else None

    metrics = wait_for(counted, "three successful reconcile_ledger tasks in /metrics", log)
    # Summed over the children: the histogram saw every run too.
    assert (
        sample(metrics, "predictmarket_celery_task_seconds_count", task="points.reconcile_ledger")
        == 3
    )
    # A figure a child set, served by the main process.
    assert sample(metrics, "predictmarket_ledger_total_points") == 0
    # Figures read from the database at scrape time.
    assert sample(metrics, "predictmarket_worker_metrics_database_up") == 1
    assert sample(metrics, "predictmarket_settlement_backlog_markets") == 0
    # The depth of the queue it consumes, on the broker: drained.
    assert sample(metrics, "predictmarket_celery_queue_messages", queue=queue) == 0
    # The worker's own heartbeat, written by its main process.
    assert heartbeats.check_worker()["heartbeat_age_seconds"] < heartbeats.STALE_AFTER
    assert sample(metrics, "predictmarket_process_heartbeat_age_seconds", process="worker") < 60


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
def test_beat_writes_its_heartbeat_from_its_scheduler_loop(
    worker_env: dict[str, str], tmp_path: Path
) -> None:
    log = tmp_path / "beat.log"
    process = celery(
        ["beat", "-s", str(tmp_path / "schedule"), "--max-interval", "1", "-l", "info"],
        # What beat sends goes to an in-memory broker, not to a queue some worker consumes.
        dict(worker_env, CELERY_BROKER_URL="memory://"),
        log,
    )
    try:
        wait_for(
            lambda: ProcessHeartbeat.objects.filter(name=heartbeats.BEAT).exists(),
            "beat's heartbeat row",
            log,
        )
    finally:
        stop(process)
    assert heartbeats.check_beat()["heartbeat_age_seconds"] < 30
