"""The flag table keeps no foreign-key constraints in the database (a rebuild's 280,000 flags would
pay a lookup per key at commit): what they guarded is kept in Django."""

from datetime import date

import pytest
from django.db import connection
from django.db.models import ProtectedError

from compliance import engine
from compliance.models import Flag
from tests.compliance.conftest import absent_from_theme_days


def test_a_member_or_branch_with_flags_cannot_be_deleted(branch):
    absent_from_theme_days(branch, [branch.people[0]], range(6, 11))
    engine.refresh(as_of=date(2026, 11, 23))
    flag = Flag.objects.get(rule="absence_ladder", resolved_on__isnull=True)

    for flagged in (flag.member, flag.branch):
        with pytest.raises(ProtectedError) as refused:
            flagged.delete()
        assert flag in refused.value.protected_objects
    assert Flag.objects.filter(pk=flag.pk, member=flag.member).exists()


def test_the_flag_table_has_no_foreign_key_constraints_in_the_database(db):
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Flag._meta.db_table)
    assert [name for name, c in constraints.items() if c["foreign_key"]] == []
