"""Worker, beat and gunicorn write JSON logs in production, as the web does.

Each test runs the real process (``celery -A predictmarket worker|beat``,
``gunicorn``) with ``LOG_FORMAT=json`` and reads what it writes: Celery must
not replace the project's logging with its own, every record a task logs names
the task, and gunicorn's access log is one JSON record per request.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from django.db import connection

from predictmarket.celery import app
from tests.api.gunicorn_server import free_port, server_environment
from tests.ops.processes import running

START_TIMEOUT = 60


def _json_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(LOG_FORMAT="json", LOG_LEVEL="info", **extra)
    return env


def _test_database_url() -> str:
    """DATABASE_URL's server with the test database (committed rows: transaction=True)."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return parts._replace(path=f"/{connection.settings_dict['NAME']}").geturl()


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_record_logged_inside_a_task_names_the_task() -> None:
    app.control.purge()  # send_task goes to the broker whatever the eager setting
    env = _json_env(DATABASE_URL=_test_database_url())
    args = ["celery", "-A", "predictmarket", "worker", "--pool=prefork", "--concurrency=1"]
    args += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    with running(args, env) as (_, stderr):
        ready = stderr.wait_for(lambda r: "ready" in r.get("message", ""), timeout=START_TIMEOUT)
        assert "task_id" not in ready  # a record outside any task names none
        task_id = str(uuid.uuid4())
        app.send_task("points.reconcile_ledger", task_id=task_id)

        # What the task's own code logs (points.reconciliation), in the child process.
        record = stderr.wait_for(lambda r: r.get("message") == "ledger reconciled", timeout=30)
        assert record["task_name"] == "points.reconcile_ledger"
        assert record["task_id"] == task_id
        assert record["logger"] == "points.reconciliation"
        assert record["level"] == "INFO"
        assert record["accounts_checked"] == 0
        # The task id stands in for a request id, so audit entries name the task too.
        assert record["request_id"] == task_id

        # Celery's own record of the run is inside the task too.
        done = stderr.wait_for(lambda r: "succeeded" in r.get("message", ""), timeout=30)
        assert done["task_id"] == task_id
        assert done["logger"] == "celery.app.trace"
    assert stderr.not_json() == []


@pytest.mark.redis
def test_beat_logs_json(tmp_path: Path) -> None:
    schedule = tmp_path / "celerybeat-schedule"
    args = ["celery", "-A", "predictmarket", "beat", "--schedule", str(schedule)]
    with running(args, _json_env()) as (_, stderr):
        record = stderr.wait_for(
            lambda r: "Starting" in r.get("message", ""), timeout=START_TIMEOUT
        )
        assert record["logger"] == "celery.beat"
        assert record["level"] == "INFO"
        assert set(record) >= {"time", "level", "logger", "message", "request_id"}
    assert stderr.not_json() == []
    app.control.purge()  # whatever beat sent to the broker is not for anyone


def test_the_gunicorn_access_log_is_json(tmp_path: Path) -> None:
    port = free_port()
    env = server_environment(os.environ.get("DATABASE_URL", "sqlite:///unused.sqlite3"))
    env.update(LOG_FORMAT="json", LOG_LEVEL="info", PORT=str(port), WEB_CONCURRENCY="1")
    args = ["gunicorn", "predictmarket.wsgi", "--config", "python:predictmarket.gunicorn_conf"]
    args += ["--bind", f"127.0.0.1:{port}"]
    with running(args, env) as (stdout, stderr):
        # gunicorn's own error log is JSON too.
        booted = stderr.wait_for(
            lambda r: "Booting worker" in r.get("message", ""), timeout=START_TIMEOUT
        )
        assert booted["logger"] == "gunicorn.error"
        response = requests.get(
            f"http://127.0.0.1:{port}/health/live?probe=1",
            headers={"X-Request-ID": "probe-123", "User-Agent": "ops-test"},
            timeout=10,
        )
        assert response.status_code == 200

        record = stdout.wait_for(lambda r: r.get("logger") == "gunicorn.access", timeout=10)
        assert record["method"] == "GET"
        assert record["path"] == "/health/live"
        assert record["query"] == "probe=1"
        assert record["status"] == 200
        assert isinstance(record["duration_ms"], float) and record["duration_ms"] >= 0
        assert record["bytes"] == len(response.content)
        assert record["user_agent"] == "ops-test"
        assert record["request_id"] == "probe-123"  # as the application answered it
        assert record["message"] == "GET /health/live 200"
    assert stdout.not_json() == []
    assert stderr.not_json() == []
