#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

from __future__ import annotations

import importlib
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "predictmarket.settings")
    from django.core.management import execute_from_command_line

    from predictmarket.config import exit_on_config_error

    # Import the settings first so a bad variable stops start-up with one line.
    exit_on_config_error(lambda: importlib.import_module(os.environ["DJANGO_SETTINGS_MODULE"]))
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
