"""The Celery application, configured from Django settings (``CELERY_*``).

Worker and beat log through Django's ``LOGGING`` (JSON in production, like the
web) instead of Celery's own handlers: a receiver of ``setup_logging`` tells
Celery not to hijack the root logger. Every record logged while a task runs
carries the task's name and id (``predictmarket.logging.bind_task``).
"""

from __future__ import annotations

import logging.config
import os
from typing import Any

from celery import Celery, Task
from celery.signals import celeryd_init, setup_logging, task_postrun, task_prerun

from predictmarket.logging import bind_task, unbind_task

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "predictmarket.settings")

app = Celery("predictmarket")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _log_like_the_web(**_: Any) -> None:
    """Worker and beat: the project's LOGGING (``LOG_FORMAT``, ``LOG_LEVEL``), not Celery's."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
    logging.captureWarnings(True)  # warnings are records too, not bare lines on stderr


# The worker warns (e.g. about running as root) before it sets up logging: set it up first.
celeryd_init.connect(_log_like_the_web)


@task_prerun.connect
def _bind_task(*, task_id: str, task: Task, **_: Any) -> None:
    bind_task(task_id=task_id, task_name=task.name)


@task_postrun.connect
def _unbind_task(*, task_id: str, **_: Any) -> None:
    unbind_task(task_id=task_id)
