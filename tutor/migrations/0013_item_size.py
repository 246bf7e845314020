from django.db import migrations, models
from django.db.models.functions import Length


def sizes_estimate(apps, schema_editor):
    # Items saved before the caps count their text's characters: close enough to bytes for
    # the day's and the session's totals, and one UPDATE however many rows there are.
    apps.get_model("tutor", "ConversationItem").objects.update(size=Length("text"))


class Migration(migrations.Migration):

    dependencies = [
        ("tutor", "0012_written_test_sheet"),
    ]

    operations = [
        migrations.AddField(
            model_name="conversationitem",
            name="size",
            field=models.PositiveIntegerField(
                default=0, help_text="Bytes of text and raw data, counted against the storage caps."
            ),
        ),
        migrations.RunPython(sizes_estimate, migrations.RunPython.noop),
    ]
