"""A fake DRIP server on localhost implementing the documented contract.

Members and balances live in memory; faults are scripted per request so tests
can make DRIP answer 401/404/429/500, time out, or apply a change and then
drop the response, answer with an unreadable body, or hold the answer until
the test lets it go (the cases that must not be applied twice).
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

SEARCH = re.compile(r"^/api/v1/realms/(?P<realm>[0-9a-f]{24})/members/search$")
BALANCE = re.compile(r"^/api/v1/realms/(?P<realm>[0-9a-f]{24})/members/(?P<drip>[\w-]+)/balance$")


@dataclass
class Fault:
    method: str  # "GET", "PATCH" or "*"
    status: int | None = None  # answer with this status (and the error body)
    retry_after: int | None = None
    delay: float = 0.0  # sleep before answering (a timeout when > client timeout)
    apply_then_drop: bool = False  # apply a PATCH, then close without answering
    unreadable_body: bool = False  # apply a PATCH, then answer 200 with a body that is not JSON
    # Apply a PATCH, set ``held``, then keep the answer until ``release`` is set: the
    # test can kill the client while DRIP has applied the write and not yet answered.
    release: threading.Event | None = None
    held: threading.Event = field(default_factory=threading.Event)


@dataclass
class FakeDrip:
    realm_id: str = "0123456789abcdef01234567"
    api_key: str = "drip-test-key-0001"
    currency_id: str = "points"
    members: dict[int, dict[str, Any]] = field(default_factory=dict)  # discord id -> member
    faults: deque[Fault] = field(default_factory=deque)
    requests: list[tuple[str, str]] = field(default_factory=list)
    applied: list[tuple[str, int]] = field(default_factory=list)  # (drip id, amount) per PATCH
    down: bool = False  # every request answers 503
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_member(self, discord_id: int, balance: int) -> str:
        drip_id = f"drip{discord_id}"
        self.members[discord_id] = {"id": drip_id, "discordId": str(discord_id), "balance": balance}
        return drip_id

    def balance(self, discord_id: int) -> int:
        return self.members[discord_id]["balance"]

    def fail_next(self, method: str = "*", **kwargs: Any) -> Fault:
        fault = Fault(method=method, **kwargs)
        self.faults.append(fault)
        return fault

    def patches(self) -> int:
        return sum(1 for method, _ in self.requests if method == "PATCH")

    # ------------------------------------------------------------------------
    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                """Keep test output clean: the fake logs nothing per request."""

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_PATCH(self) -> None:
                fake._handle(self, "PATCH")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = json.loads(handler.rfile.read(length) or b"{}") if length else {}
        url = urlsplit(handler.path)
        with self.lock:
            self.requests.append((method, url.path))
            fault = None
            if self.faults and self.faults[0].method in (method, "*"):
                fault = self.faults.popleft()
        if fault and fault.delay:
            time.sleep(fault.delay)
        if self.down:
            return self._error(handler, 503, "service_unavailable")
        if fault and fault.status:
            return self._error(handler, fault.status, "scripted", fault.retry_after)
        if handler.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._error(handler, 401, "unauthorized")
        if (match := SEARCH.match(url.path)) and method == "GET":
            if match["realm"] != self.realm_id:
                return self._error(handler, 404, "realm_not_found")
            ids = parse_qs(url.query).get("values", [""])[0].split(",")
            found = [
                self._member_json(int(i)) for i in ids if i.isdigit() and int(i) in self.members
            ]
            return self._json(handler, 200, {"data": found})
        if (match := BALANCE.match(url.path)) and method == "PATCH":
            with self.lock:
                member = next((m for m in self.members.values() if m["id"] == match["drip"]), None)
                if member is None:
                    return self._error(handler, 404, "member_not_found")
                amount = body.get("amount")
                if not isinstance(amount, int):
                    return self._error(handler, 400, "invalid_amount")
                if member["balance"] + amount < 0:
                    return self._error(handler, 422, "insufficient_balance")
                member["balance"] += amount
                self.applied.append((member["id"], amount))
            if fault and fault.release is not None:
                fault.held.set()
                fault.release.wait()
                handler.close_connection = True  # the client is likely gone by now
            if fault and fault.unreadable_body:
                # A proxy's HTML page, or a truncated answer: applied, but unreadable.
                data = b"<html><body>502 Bad Gateway</body"
                handler.send_response(200)
                handler.send_header("Content-Type", "application/json")
                handler.send_header("Content-Length", str(len(data)))
                handler.end_headers()
                self._write(handler, data)
                return None
            if fault and fault.apply_then_drop:
                handler.close_connection = True
                handler.connection.shutdown(2)  # applied, but the answer is lost
                return None
            return self._json(handler, 200, {"data": self._member_json(int(member["discordId"]))})
        return self._error(handler, 404, "not_found")

    def _member_json(self, discord_id: int) -> dict[str, Any]:
        member = self.members[discord_id]
        return {
            "id": member["id"],
            "discordId": member["discordId"],
            "balances": [{"balance": member["balance"], "currencyId": self.currency_id}],
        }

    def _json(self, handler: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        self._write(handler, data)

    def _write(self, handler: BaseHTTPRequestHandler, data: bytes) -> None:
        # The client may have given up (a timeout test): nothing to answer then.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            handler.wfile.write(data)

    def _error(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        error: str,
        retry_after: int | None = None,
    ) -> None:
        payload = {
            "error": error,
            "message": error.replace("_", " "),
            "details": {},
            "requestId": "req-test",
            "timestamp": datetime.now(UTC).isoformat(),
        }
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        if retry_after is not None:
            handler.send_header("Retry-After", str(retry_after))
        handler.end_headers()
        self._write(handler, data)
