"""Prometheus metrics of the bot process, served on ``BOT_METRICS_PORT`` (0 = off).

The web process exposes django-prometheus on ``/metrics``; the bot is another
process, so it serves its own registry with ``prometheus_client``.
"""

from __future__ import annotations

import logging
import math

from prometheus_client import Counter, Gauge, Histogram, start_http_server

logger = logging.getLogger(__name__)

COMMANDS = Counter(
    "predictmarket_bot_commands_total",
    "Slash commands and component interactions handled, by name and outcome",
    ["command", "outcome"],
)
COMMAND_SECONDS = Histogram(
    "predictmarket_bot_command_seconds",
    "Time from receiving an interaction to the final reply",
    ["command"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
ERRORS = Counter(
    "predictmarket_bot_errors_total",
    "Interactions that ended in an error, by domain error code (or 'unexpected')",
    ["code"],
)
GATEWAY_LATENCY = Gauge(
    "predictmarket_bot_gateway_latency_seconds",
    "Discord gateway heartbeat latency (average over the shards)",
)
GATEWAY_CONNECTED = Gauge(
    "predictmarket_bot_gateway_shards_connected",
    "Shards of this process connected to Discord's gateway (0: the bot is deaf)",
)
HEARTBEAT_TIMESTAMP = Gauge(
    "predictmarket_bot_heartbeat_timestamp_seconds",
    "Unix time of the bot's last heartbeat for /health/ready (written while connected)",
)
OUTBOX_EVENTS = Counter(
    "predictmarket_bot_outbox_events_total", "Outbox events handled by the bot", ["kind"]
)
MESSAGE_EDITS = Counter(
    "predictmarket_bot_message_edits_total", "Live market message edits, by result", ["result"]
)

RESULT_DMS = Counter(
    "predictmarket_bot_result_dms_total",
    "Result direct messages (/notify on), by result: sent, refused (the member's DMs are "
    "closed to the bot, Discord code 50007: dropped), failed (another refusal: dropped), "
    "unwanted (the member turned /notify off after the DM was queued: not sent)",
    ["result"],
)


def record_command(command: str, outcome: str, seconds: float) -> None:
    COMMANDS.labels(command, outcome).inc()
    COMMAND_SECONDS.labels(command).observe(seconds)
    if outcome != "ok":
        ERRORS.labels(outcome).inc()


def record_gateway_latency(seconds: float) -> None:
    # nextcord reports inf before the first heartbeat acknowledgement.
    if math.isfinite(seconds):
        GATEWAY_LATENCY.set(seconds)


def record_shards_connected(count: int) -> None:
    GATEWAY_CONNECTED.set(count)


def record_heartbeat(at: float) -> None:
    HEARTBEAT_TIMESTAMP.set(at)


def serve_metrics(port: int) -> bool:
    """Start the HTTP endpoint (a daemon thread); ``port`` 0 turns it off."""
    if not port:
        return False
    start_http_server(port)
    logger.info("bot metrics on port %s", port)
    return True
