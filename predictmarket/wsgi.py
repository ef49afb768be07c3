from __future__ import annotations

import importlib
import os

from django.core.wsgi import get_wsgi_application

from predictmarket import tracing
from predictmarket.config import exit_on_config_error

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "predictmarket.settings")
exit_on_config_error(lambda: importlib.import_module(os.environ["DJANGO_SETTINGS_MODULE"]))
# Tracing (when OTEL_EXPORTER_OTLP_ENDPOINT is set) before the handler loads the middleware
# it adds; under gunicorn's preload the provider itself is set after the fork.
tracing.init_tracing("web")
application = get_wsgi_application()
