"""Sentry set-up, only called when SENTRY_DSN is configured."""

from __future__ import annotations


def init_sentry(dsn: str, environment: str, traces_sample_rate: float) -> None:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        traces_sample_rate=traces_sample_rate,
        # Member names, tokens and IPs stay out of error reports.
        send_default_pii=False,
    )
