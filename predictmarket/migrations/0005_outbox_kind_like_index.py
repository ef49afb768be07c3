"""The outbox's ``kind`` is matched whole (``kind = …``, ``kind IN …``), never with LIKE: its
pattern index is one more entry per event (one per trade) that nothing reads."""

from django.db import migrations

from predictmarket.migration_ops import drop_pattern_index


class Migration(migrations.Migration):
    atomic = False  # DROP INDEX CONCURRENTLY (predictmarket.migration_ops)

    dependencies = [("core", "0004_process_heartbeats")]

    operations = [drop_pattern_index("core_outboxevent", "kind")]
