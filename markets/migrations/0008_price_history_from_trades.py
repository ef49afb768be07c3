"""Price history is read from trades: ``PricePoint`` goes.

Every price point was written either with a trade (same market, same time,
the trade's ``probabilities_after``) or at the market's creation (at its
``opens_at``, every outcome equally likely). Both are now derived
(``markets.selectors.price_history``): the first from the trade, the second
from the market. Before the table is dropped each point is checked against
what replaces it; a point that neither a trade nor its market's opening
reproduces would be history lost, so the migration stops and names them
instead (nothing in the code ever wrote one). Reversing the migration
rebuilds the points from the markets and their trades.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import migrations, models


def opening_probabilities(outcomes: int) -> list[str]:
    """What market creation wrote: ``probabilities_payload`` of equal pools."""
    from markets import amm

    return [str(p.quantize(amm.SHARE_QUANTUM)) for p in amm.prices([Decimal(1)] * outcomes)]


def _unexplained_points(apps) -> list[int]:  # type: ignore[no-untyped-def]
    PricePoint = apps.get_model("markets", "PricePoint")
    Trade = apps.get_model("betting", "Trade")
    Outcome = apps.get_model("markets", "Outcome")
    Market = apps.get_model("markets", "Market")
    from_trades = set(
        (market_id, at, tuple(probabilities))
        for market_id, at, probabilities in Trade.objects.values_list(
            "market_id", "created_at", "probabilities_after"
        ).iterator()
    )
    counts = dict(
        Outcome.objects.values("market_id")
        .annotate(n=models.Count("id"))
        .values_list("market_id", "n")
    )
    opens = dict(Market.objects.values_list("id", "opens_at"))
    unexplained = []
    for pk, market_id, at, probabilities in PricePoint.objects.values_list(
        "id", "market_id", "created_at", "probabilities"
    ).iterator():
        if (market_id, at, tuple(probabilities)) in from_trades:
            continue
        if at == opens[market_id] and probabilities == opening_probabilities(
            counts.get(market_id, 0)
        ):
            continue
        unexplained.append(pk)
    return unexplained


def check_every_point_is_derived(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    unexplained = _unexplained_points(apps)
    if unexplained:
        raise RuntimeError(
            f"{len(unexplained)} price points match neither a trade nor their market's "
            f"opening (ids {unexplained[:20]}…); they would be lost with the table. "
            "Look at them before migrating."
        )


def rebuild_points(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    PricePoint = apps.get_model("markets", "PricePoint")
    Trade = apps.get_model("betting", "Trade")
    Market = apps.get_model("markets", "Market")
    for market in Market.objects.annotate(n=models.Count("outcomes")).iterator():
        PricePoint.objects.create(
            market_id=market.pk,
            created_at=market.opens_at,
            probabilities=opening_probabilities(market.n),
        )
    PricePoint.objects.bulk_create(
        PricePoint(market_id=market_id, created_at=at, probabilities=probabilities)
        for market_id, at, probabilities in Trade.objects.order_by("id")
        .values_list("market_id", "created_at", "probabilities_after")
        .iterator()
    )


class Migration(migrations.Migration):
    dependencies = [
        ("markets", "0007_leaderboard_indexes"),
        ("betting", "0002_initial"),
    ]

    operations = [
        migrations.RunPython(check_every_point_is_derived, rebuild_points),
        migrations.DeleteModel(name="PricePoint"),
    ]
