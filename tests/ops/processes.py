"""Real worker, beat and gunicorn processes whose log lines a test reads as they come."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


class LogLines:
    """Lines a process writes to one stream, collected by a thread so reads can time out."""

    def __init__(self, stream: IO[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))

    def wait_for(
        self, match: Callable[[dict[str, Any]], bool], *, timeout: float
    ) -> dict[str, Any]:
        """The first JSON record (seen before or arriving within ``timeout``) that matches."""
        for line in self.seen:
            record = _as_json(line)
            if record is not None and match(record):
                return record
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append(line)
            record = _as_json(line)
            if record is not None and match(record):
                return record
        tail = "\n".join(self.seen[-40:])
        raise AssertionError(f"no matching JSON record within {timeout} s; last lines:\n{tail}")

    def not_json(self) -> list[str]:
        return [line for line in self.seen if line.strip() and _as_json(line) is None]


def _as_json(line: str) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@contextmanager
def running(args: list[str], env: dict[str, str]) -> Iterator[tuple[LogLines, LogLines]]:
    """Start ``args`` (a program in the virtualenv's bin); its (stdout, stderr) lines.

    Stopped with SIGTERM (SIGKILL after 15 s) on exit, whatever the test did.
    """
    process = subprocess.Popen(
        [str(BIN / args[0]), *args[1:]],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        yield LogLines(process.stdout), LogLines(process.stderr)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
