"""A trade's update of the market row writes no index entries (a HOT update).

Every trade updates its market's ``volume`` and ``version`` under the market
lock. With ``volume`` in ``market_list_volume`` that update could not be HOT:
PostgreSQL wrote a new entry into every one of the table's indexes (seventeen)
for each trade, on the row every trade of that market waits for. The list by
volume sorts one guild's markets of one status instead (a range of
``market_list_closing``). A lower fillfactor leaves room on the page for the
hot row's new versions, which a HOT update needs.
"""

from django.db import migrations


def _fillfactor(value: int):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE markets_market SET (fillfactor = {value})")

    return run


class Migration(migrations.Migration):
    dependencies = [("markets", "0010_market_resolver_rule_and_description_versions")]

    operations = [
        migrations.RemoveIndex(model_name="market", name="market_list_volume"),
        migrations.RunPython(_fillfactor(70), _fillfactor(100)),
    ]
