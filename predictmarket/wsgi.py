from __future__ import annotations

import importlib
import os

from django.core.wsgi import get_wsgi_application

from predictmarket.config import exit_on_config_error

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "predictmarket.settings")
exit_on_config_error(lambda: importlib.import_module(os.environ["DJANGO_SETTINGS_MODULE"]))
application = get_wsgi_application()
