"""Bound a guild's amounts by MAX_AMOUNT (validators and a CHECK constraint).

Rows saved before the bound may hold anything a BIGINT holds; they are
clamped to the bound first, in the same migration, so adding the constraint
never fails on such a database. Clamping is the smallest change that makes
the row valid, keeps min_bet <= max_bet (both clamp to the same value), and
only ever lowers what the guild pays out; the change is logged in the audit
log so the guild's admins can see it.
"""

from __future__ import annotations

import django.core.validators
from django.db import migrations, models
from django.db.models import Q
from django.utils import timezone

import points.models

MAX_AMOUNT = 10**12  # points.amounts.MAX_AMOUNT when this was written; frozen here
AMOUNTS = ("starting_balance", "daily_amount", "min_bet", "max_bet", "default_liquidity")


def clamp_out_of_range_amounts(apps, schema_editor):  # type: ignore[no-untyped-def]
    Guild = apps.get_model("points", "Guild")
    AuditLogEntry = apps.get_model("core", "AuditLogEntry")
    over = Q()
    for name in AMOUNTS:
        over |= Q(**{f"{name}__gt": MAX_AMOUNT})
    for guild in Guild.objects.filter(over).order_by("pk"):
        before = {name: getattr(guild, name) for name in AMOUNTS}
        after = {name: min(value, MAX_AMOUNT) for name, value in before.items()}
        Guild.objects.filter(pk=guild.pk).update(**after)
        AuditLogEntry.objects.create(
            created_at=timezone.now(),
            guild_id=guild.pk,
            actor="system:migration",
            action="guild.settings",
            target_type="points.guild",
            target_id=str(guild.pk),
            # Strings: values past 2**53 do not survive a JSON number.
            data={
                "before": {k: str(v) for k, v in before.items() if v != after[k]},
                "after": {k: str(v) for k, v in after.items() if v != before[k]},
                "reason": f"amounts are at most {MAX_AMOUNT:,} points",
            },
        )


class Migration(migrations.Migration):

    dependencies = [
        ("points", "0006_drip_transfer_sending_state"),
        ("core", "0001_audit_log_and_outbox"),
    ]

    operations = [
        migrations.AlterField(
            model_name='guild',
            name='daily_amount',
            field=models.BigIntegerField(default=points.models.default_daily_amount, validators=[django.core.validators.MinValueValidator(0), django.core.validators.MaxValueValidator(1000000000000, message='At most 1,000,000,000,000 points.')]),
        ),
        migrations.AlterField(
            model_name='guild',
            name='default_liquidity',
            field=models.BigIntegerField(default=points.models.default_liquidity, validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(1000000000000, message='At most 1,000,000,000,000 points.')]),
        ),
        migrations.AlterField(
            model_name='guild',
            name='max_bet',
            field=models.BigIntegerField(default=points.models.default_max_bet, validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(1000000000000, message='At most 1,000,000,000,000 points.')]),
        ),
        migrations.AlterField(
            model_name='guild',
            name='min_bet',
            field=models.BigIntegerField(default=points.models.default_min_bet, validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(1000000000000, message='At most 1,000,000,000,000 points.')]),
        ),
        migrations.AlterField(
            model_name='guild',
            name='starting_balance',
            field=models.BigIntegerField(default=points.models.default_starting_balance, validators=[django.core.validators.MinValueValidator(0), django.core.validators.MaxValueValidator(1000000000000, message='At most 1,000,000,000,000 points.')]),
        ),
        migrations.RunPython(clamp_out_of_range_amounts, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='guild',
            constraint=models.CheckConstraint(condition=models.Q(('starting_balance__lte', 1000000000000), ('daily_amount__lte', 1000000000000), ('min_bet__lte', 1000000000000), ('max_bet__lte', 1000000000000), ('default_liquidity__lte', 1000000000000)), name='guild_amounts_lte_max'),
        ),
    ]
