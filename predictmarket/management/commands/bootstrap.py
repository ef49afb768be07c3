"""Make a fresh database usable locally: an admin login and idempotent demo data."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

ADMIN_USERNAME = "admin"


class Command(BaseCommand):
    help = "Ensure an admin login exists and load demo data (safe to run repeatedly)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--no-demo", action="store_true", help="Skip the demo data.")

    def handle(self, *args: Any, no_demo: bool = False, **options: Any) -> None:
        self._ensure_admin()
        if not no_demo:
            # Each app that has demo data exposes load_demo_data() on its AppConfig,
            # so this core command never imports the apps above it.
            for config in apps.get_app_configs():
                loader = getattr(config, "load_demo_data", None)
                if loader is not None:
                    with transaction.atomic():
                        summary = loader()
                    self.stdout.write(f"demo data ({config.label}): {summary}")

    def _ensure_admin(self) -> None:
        user_model = get_user_model()
        password_file = Path(settings.VAR_DIR) / "admin-password"
        user = user_model.objects.filter(username=ADMIN_USERNAME).first()
        if user is None:
            password = secrets.token_urlsafe(18)
            user_model.objects.create_superuser(ADMIN_USERNAME, "", password)
            password_file.parent.mkdir(parents=True, exist_ok=True)
            password_file.write_text(password + "\n")
            os.chmod(password_file, 0o600)
        if password_file.exists():
            password = password_file.read_text().strip()
            self.stdout.write(
                f"admin login: user '{ADMIN_USERNAME}', password '{password}' "
                f"(generated for this machine, kept in {password_file})"
            )
        else:
            self.stdout.write(
                f"admin login: user '{ADMIN_USERNAME}' exists; set its password with "
                f"'python manage.py changepassword {ADMIN_USERNAME}'"
            )
