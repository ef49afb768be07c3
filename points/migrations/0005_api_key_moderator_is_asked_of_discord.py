"""A key's moderator rights are asked of Discord at each action; the column only says who got it.

``is_moderator`` granted the moderator endpoints for the key's whole life. It is
renamed, not dropped, so existing keys still show that they were issued to a
moderator; nothing reads it as a right any more.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("points", "0004_drip_backend"),
    ]

    operations = [
        migrations.RenameField(
            model_name="apitoken",
            old_name="is_moderator",
            new_name="issued_by_moderator",
        ),
        migrations.AlterField(
            model_name="apitoken",
            name="issued_by_moderator",
            field=models.BooleanField(
                default=False,
                help_text="The member was a moderator when the key was issued. Grants nothing by "
                "itself: every moderator action asks Discord whether they still are one.",
            ),
        ),
    ]
