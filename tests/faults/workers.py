"""A real ``celery worker`` subprocess on a queue of its own, that a test can SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.api.gunicorn_server import ROOT
from tests.faults.servers import wait_for


class Worker:
    """``celery -A predictmarket worker`` (prefork, one child) in a process group of its own.

    ``kill()`` sends SIGKILL to the whole group, the main process and its child
    alike, as the kernel's OOM killer or a lost machine would: no task is
    acknowledged, rejected or restored on the way out.
    """

    def __init__(self, env: dict[str, str], queue: str, log: Path) -> None:
        self.env = dict(env, WORKER_METRICS_PORT="0")
        self.queue = queue
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "predictmarket",
                    "worker",
                    "--pool=prefork",
                    "--concurrency=1",
                    "--without-heartbeat",
                    "--without-mingle",
                    "--without-gossip",
                    "-Q",
                    self.queue,
                    "-l",
                    "info",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        # " ready." means the queue is declared: a task sent before could be lost.
        def ready() -> bool:
            assert self.process is not None and self.process.poll() is None, self.tail()
            with self.log.open("rb") as text:
                text.seek(offset)
                return b" ready." in text.read()

        wait_for(ready, "the worker to be ready", log=self.log)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""
