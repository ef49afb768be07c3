"""Request/interaction ids, and the Celery task being run, carried into every log record.

``RequestIdFilter`` (on the one handler in settings' ``LOGGING``) stamps each
record with ``request_id`` and, inside a Celery task, ``task_name`` and
``task_id``; the JSON formatter writes every such attribute as a field.
``predictmarket.celery`` binds the task around each run (``task_prerun`` /
``task_postrun``), so whatever the task's code logs says which task it was.
``TraceIdFilter`` adds ``trace_id`` and ``span_id`` inside a recorded span
(tracing on, ``predictmarket.tracing``), so a log line leads to its trace.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING

from opentelemetry import trace

if TYPE_CHECKING:  # Celery's app imports this module: keep django.http out of its start-up
    from django.http import HttpRequest, HttpResponse

_request_id: ContextVar[str] = ContextVar("request_id", default="-")
# Accept a caller's id only if it is short and plain, so it cannot forge log lines.
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


# (task name, task id) of the Celery task running in this context, if any.
_task: ContextVar[tuple[str, str] | None] = ContextVar("celery_task", default=None)
# Tokens to undo each task's binding, by task id (an eager task may run inside another).
_task_tokens: dict[str, tuple[Token[tuple[str, str] | None], Token[str] | None]] = {}


def current_request_id() -> str:
    return _request_id.get()


@contextmanager
def bind_request_id(value: str | None = None) -> Iterator[str]:
    """Bind an id (a Discord interaction id, a task id…) for the duration of a block."""
    request_id = value if value and _VALID_ID.match(value) else uuid.uuid4().hex
    token = _request_id.set(request_id)
    try:
        yield request_id
    finally:
        _request_id.reset(token)


def bind_task(*, task_id: str, task_name: str) -> None:
    """Mark the records logged from now on as the task's, until ``unbind_task``.

    The task id also becomes the request id unless one is bound already (a task
    run eagerly inside a web request keeps the request's), so audit entries a
    task writes name the task that wrote them.
    """
    task_token = _task.set((task_name, task_id))
    request_token = None
    if _request_id.get() == "-" and _VALID_ID.match(task_id):
        request_token = _request_id.set(task_id)
    _task_tokens[task_id] = (task_token, request_token)


def unbind_task(*, task_id: str) -> None:
    tokens = _task_tokens.pop(task_id, None)
    if tokens is None:
        return
    task_token, request_token = tokens
    if request_token is not None:
        _request_id.reset(request_token)
    _task.reset(task_token)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record, and ``task_name``/``task_id`` inside a task."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):  # one given in ``extra`` is kept
            record.request_id = _request_id.get()
        task = _task.get()
        if task is not None:
            record.task_name, record.task_id = task
        return True


class TraceIdFilter(logging.Filter):
    """Adds ``trace_id`` and ``span_id`` (hex, as trace backends show them) inside a recorded span.

    Only then: with tracing off (or a span not sampled) there is no trace to look
    up, and the fields are left out rather than written empty.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        span = trace.get_current_span()
        if span.is_recording():
            context = span.get_span_context()
            record.trace_id = trace.format_trace_id(context.trace_id)
            record.span_id = trace.format_span_id(context.span_id)
        return True


class RequestIdMiddleware:
    """Takes ``X-Request-ID`` from the caller (or makes one) and echoes it back."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with bind_request_id(request.headers.get("X-Request-ID")) as request_id:
            request.request_id = request_id  # type: ignore[attr-defined]
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            return response
