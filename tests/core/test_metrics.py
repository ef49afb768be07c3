"""/metrics exposes django-prometheus request and database metrics."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client


@pytest.mark.django_db
def test_metrics_expose_request_and_database_metrics() -> None:
    client = Client()
    get_user_model().objects.count()  # a query through the instrumented backend
    client.get("/health/ready")
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    assert "django_http_requests_total_by_method_total" in text
    assert 'django_http_requests_total_by_view_transport_method_total{method="GET"' in text
    assert "django_db_execute_total" in text
    assert "django_cache_get_total" in text
