"""Votes belong to people: re-key channel-specific voters and merge one person's duplicates.

Before this, a vote's ``voter`` named the channel: ``discord:<id>`` (bot),
``api:discord:<id>`` (API key) and ``admin:<username>`` (admin), so one
moderator could hold two votes on a market. Now it names the person:
``discord:<id>`` for a Discord user, ``user:<pk>`` for a staff user (no staff
user is linked to Discord yet when this runs). Where one person held several
votes on a market, the latest is kept. The channel stays in the audit log.
"""

from collections.abc import Mapping

from django.conf import settings
from django.db import migrations, models


def person_key(voter: str, staff_ids: Mapping[str, int]) -> str:
    """The person a legacy voter string names; unknown strings are left as they are."""
    if voter.startswith("api:discord:"):
        return voter.removeprefix("api:")
    if voter.startswith("admin:"):
        user_id = staff_ids.get(voter.removeprefix("admin:"))
        return f"user:{user_id}" if user_id is not None else voter
    return voter


def votes_to_people(apps, schema_editor) -> None:
    Vote = apps.get_model("markets", "ResolutionVote")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    username_field = getattr(User, "USERNAME_FIELD", "username")
    usernames = {
        v.removeprefix("admin:")
        for v in Vote.objects.filter(voter__startswith="admin:").values_list("voter", flat=True)
    }
    staff_ids = dict(
        User.objects.filter(**{f"{username_field}__in": usernames}).values_list(
            username_field, "pk"
        )
    )
    stale = Vote.objects.filter(
        models.Q(voter__startswith="api:") | models.Q(voter__startswith="admin:")
    )
    for market_id in stale.values_list("market_id", flat=True).distinct():
        latest: dict[str, object] = {}
        # Oldest first, so each person's last vote wins (id breaks a tie in time).
        for vote in Vote.objects.filter(market_id=market_id).order_by("updated_at", "id"):
            person = person_key(vote.voter, staff_ids)
            earlier = latest.get(person)
            if earlier is not None:
                earlier.delete()
            latest[person] = vote
        for person, vote in latest.items():
            if vote.voter != person:
                Vote.objects.filter(pk=vote.pk).update(voter=person)


class Migration(migrations.Migration):

    dependencies = [
        ("markets", "0002_market_keeps_its_rules"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="resolutionvote",
            name="vote_one_per_moderator",
        ),
        migrations.AlterField(
            model_name="resolutionvote",
            name="voter",
            field=models.CharField(
                help_text="The person: discord:<user id> (from Discord, an API key, or a staff "
                "user linked to that Discord user), or user:<id> (a staff user not linked to "
                "Discord)",
                max_length=100,
            ),
        ),
        # Merged one person's votes cannot be split again: going back keeps them merged.
        migrations.RunPython(votes_to_people, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="resolutionvote",
            constraint=models.UniqueConstraint(
                fields=("market", "voter"), name="vote_one_per_person"
            ),
        ),
    ]
