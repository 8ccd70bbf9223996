"""`seed_demo`: the demo township, safe to run again, matching the sample roster, with one login per role."""

from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from openpyxl import load_workbook

from branches import demo
from branches.models import CommitteePosition, CommitteeTerm, Organisation, OrgLevel, Role, RoleAssignment

# Byte-identical copy of /work/shared/data/sample_roster.xlsx (see tests/data/README.md).
SAMPLE_ROSTER = Path(__file__).resolve().parents[1] / "data" / "sample_roster.xlsx"
COMMUNITY = "幸福里社区党委"
COMMUNITY_BRANCHES = ["幸福里社区第一党支部", "幸福里社区第二党支部", "幸福里社区离退休党支部"]
GROUPS = ["第一党小组", "第二党小组", "第三党小组"]


def _counts():
    return {
        "organisations": Organisation.objects.count(),
        "terms": CommitteeTerm.objects.count(),
        "positions": CommitteePosition.objects.count(),
        "users": get_user_model().objects.count(),
        "role_assignments": RoleAssignment.objects.count(),
    }


def _seed(*args):
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def _child(parent, name):
    return Organisation.objects.get_children(parent).get(name=name)


def _roster_pairs():
    """(所在党支部, 党小组) of every member row; the header is on row 3, a 制表人 footer follows the rows."""
    rows = load_workbook(SAMPLE_ROSTER, read_only=True).worksheets[0].iter_rows(min_row=3, values_only=True)
    header = next(rows)
    branch_col, group_col = header.index("所在党支部"), header.index("党小组")
    return {(row[branch_col], row[group_col]) for row in rows if row[branch_col]}


@pytest.fixture
def seeded(db):
    _seed()
    return demo.find_root()


# Seeding takes seconds: the read-only checks share one seeded database.
def test_the_demo_township_its_logins_and_a_second_run(seeded):
    _check_tree(seeded)
    _check_sample_roster_branches(seeded)
    _check_logins(seeded)
    _check_secretary(seeded)
    _check_lost_contact_story()
    first = _counts()
    assert first["organisations"] > 0 and first["terms"] > 0 and first["users"] > 0
    output = _seed()
    assert _counts() == first
    assert "新建党组织 0 个，换届记录 0 组，账号 0 个" in output


def _check_tree(seeded):
    assert seeded.name == "青溪镇党委" and seeded.is_root()
    community = _child(seeded, COMMUNITY)
    assert community.level == OrgLevel.PARTY_COMMITTEE
    branches = list(Organisation.objects.get_children(community))
    assert [b.name for b in branches] == COMMUNITY_BRANCHES
    for branch in branches:
        assert branch.level == OrgLevel.BRANCH and branch.is_active
        groups = Organisation.objects.get_children(branch)
        assert [(g.name, g.level) for g in groups] == [(name, OrgLevel.GROUP) for name in GROUPS]


def _check_sample_roster_branches(seeded):
    pairs = _roster_pairs()
    assert {branch for branch, _group in pairs} == set(COMMUNITY_BRANCHES)
    community = _child(seeded, COMMUNITY)
    for branch_name, group_name in sorted(pairs):
        branch = _child(community, branch_name)
        assert _child(branch, group_name).is_active, (branch_name, group_name)


def _check_lost_contact_story():
    """The member out of contact (失联) has, since that day, attended nothing, paid nothing, reported nothing:
    the 停止党籍 reminder the demo shows is not contradicted by their own page."""
    from meetings.models import Attendance
    from members.models import DuesPayment, Member, ThoughtReport

    lost = Member.objects.get(lost_contact_on__isnull=False)
    since = lost.lost_contact_on
    assert Attendance.objects.filter(member=lost, meeting__held_on__gte=since, status="present").count() == 0
    assert Attendance.objects.filter(member=lost, meeting__held_on__gte=since).exists()  # still expected
    assert not DuesPayment.objects.filter(member=lost, month__gt=since).exists()
    assert not ThoughtReport.objects.filter(member=lost, received_on__gte=since).exists()


def test_reset_rebuilds_with_the_same_counts(seeded):
    first = _counts()
    old_root_pk = seeded.pk
    output = _seed("--reset")
    assert "已删除原有演示数据。" in output
    assert _counts() == first
    assert demo.find_root().pk != old_root_pk
    assert Organisation.objects.filter(name=demo.ROOT_NAME, depth=1).count() == 1


def _check_logins(seeded):
    User = get_user_model()
    usernames = {"admin", *(username for username, *_rest in demo.USERS)}
    for username in usernames:
        user = User.objects.get(username=username)
        assert user.is_active and user.check_password(demo.DEMO_PASSWORD), username
    assert User.objects.get(username="admin").is_superuser
    for username, full_name, role, path in demo.USERS:
        org = seeded
        for name in path:
            org = _child(org, name)
        assignment = RoleAssignment.objects.get(user__username=username, role=role, organisation=org)
        assert assignment.user.first_name == full_name


def _check_secretary(seeded):
    branch = _child(_child(seeded, COMMUNITY), "幸福里社区第一党支部")
    assert RoleAssignment.objects.filter(
        user__username="secretary", role=Role.SECRETARY, organisation=branch
    ).exists()
    term = branch.terms.order_by("-elected_on").first()
    sitting = dict(term.positions.filter(ended_on__isnull=True).values_list("position", "holder_name"))
    assert sitting["secretary"] == "陈红梅"
