"""The image's HEALTHCHECK (deploy/docker/healthcheck.py) against a real production-mode gunicorn.

Production's ``ALLOWED_HOSTS`` names the public host only, and Django answers
400 to any other Host, so a probe of ``http://127.0.0.1:PORT/health/live`` as
such would mark every healthy web container unhealthy.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.gunicorn_server import BIN, ROOT, free_port, server_environment

HEALTHCHECK = ROOT / "deploy" / "docker" / "healthcheck.py"
PUBLIC_HOST = "markets.example.com"


def _wait_for_port(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not listen within 60 s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def web_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """gunicorn in production mode answering only the public host name."""
    port = free_port()
    env = server_environment(os.environ.get("DATABASE_URL", "sqlite:///:memory:"))
    env.update(ALLOWED_HOSTS=PUBLIC_HOST, SECURE_SSL_REDIRECT="true", PORT=str(port))
    log = tmp_path_factory.mktemp("healthcheck") / "gunicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "predictmarket.wsgi",
                "--config",
                "python:predictmarket.gunicorn_conf",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_port(process, port, log)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _healthcheck(port: int, allowed_hosts: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "PORT": str(port), "ALLOWED_HOSTS": allowed_hosts}
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_a_probe_of_the_loopback_address_alone_is_refused(web_port: int) -> None:
    """Why the healthcheck names the host: Django refuses 127.0.0.1 in production."""
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"http://127.0.0.1:{web_port}/health/live", timeout=5)
    assert refused.value.code == 400


def test_it_passes_when_the_web_process_answers(web_port: int) -> None:
    result = _healthcheck(web_port, f"{PUBLIC_HOST},.example.org")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_it_passes_with_a_subdomain_wildcard_first(web_port: int) -> None:
    # ".example.com" lets example.com and its subdomains in; the server only allows one.
    result = _healthcheck(web_port, ".markets.example.com")
    assert result.returncode == 0, result.stderr


def test_it_fails_when_the_web_process_refuses_the_request(web_port: int) -> None:
    result = _healthcheck(web_port, "elsewhere.example.net")
    assert result.returncode == 1
    assert "HTTP 400" in result.stderr


def test_it_fails_when_nothing_listens() -> None:
    result = _healthcheck(free_port(), PUBLIC_HOST)
    assert result.returncode == 1
    assert "Connection refused" in result.stderr
