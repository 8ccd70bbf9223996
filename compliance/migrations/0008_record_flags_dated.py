"""Record-quality flags carry their meeting's date as period_end, so that a refresh judging from a later date
leaves them standing instead of resolving them as no longer wanted."""

from django.db import migrations
from django.db.models import OuterRef, Subquery

RECORD_RULES = ("backfill", "low_quorum", "no_attendance", "theme_day_moved", "org_life_records")


def date_record_flags(apps, schema_editor):
    Flag = apps.get_model("compliance", "Flag")
    Meeting = apps.get_model("meetings", "Meeting")
    Flag.objects.filter(rule__in=RECORD_RULES, period_end__isnull=True, meeting__isnull=False).update(
        period_end=Subquery(Meeting.objects.filter(pk=OuterRef("meeting_id")).values("held_on")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0007_training_settings"),
        ("meetings", "0004_meeting_newest_first"),
    ]

    operations = [migrations.RunPython(date_record_flags, migrations.RunPython.noop)]
