"""Shared fixtures: a small tree of two townships and one persona per role."""

from datetime import date, datetime, time, timedelta
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.utils import timezone

from branches import services
from branches.models import OrgKind, OrgLevel, Role, RoleAssignment


@pytest.fixture(autouse=True, scope="session")
def _tasks_run_inline():
    from config.celery import app

    app.conf.task_always_eager = True


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    # Each test's database starts empty again; counts cached by an earlier test must not be read.
    cache.clear()
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Production serves hashed names from collectstatic's manifest; tests render without collecting.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def make_org(parent, name, level=OrgLevel.BRANCH, kind=OrgKind.COMMUNITY, **extra):
    return services.create_organisation(
        parent=parent,
        name=name,
        level=level,
        kind=kind,
        founded_on=extra.pop("founded_on", date(2010, 1, 1)),
        **extra,
    )


@pytest.fixture
def tree(db):
    """Two townships. Township A: 社区党委 > 支部 A1 (groups g1, g2), 支部 A2; township B: 支部 B1.

    Returned as a simple namespace of organisations.
    """
    township = make_org(None, "甲镇党委", OrgLevel.PARTY_COMMITTEE, OrgKind.TOWNSHIP)
    community = make_org(township, "甲社区党委", OrgLevel.PARTY_COMMITTEE)
    a1 = make_org(community, "甲社区第一党支部")
    g1 = make_org(a1, "第一党小组", OrgLevel.GROUP)
    g2 = make_org(a1, "第二党小组", OrgLevel.GROUP)
    a2 = make_org(township, "甲村党支部", kind=OrgKind.VILLAGE, merged_group=True)
    other_township = make_org(None, "乙镇党委", OrgLevel.PARTY_COMMITTEE, OrgKind.TOWNSHIP)
    b1 = make_org(other_township, "乙村党支部", kind=OrgKind.VILLAGE)
    return SimpleNamespace(
        township=township,
        community=community,
        a1=a1,
        g1=g1,
        g2=g2,
        a2=a2,
        other_township=other_township,
        b1=b1,
    )


def make_user(username, role=None, organisation=None, **extra):
    user = get_user_model().objects.create_user(username=username, password="pw-Testing-123", **extra)
    if role:
        RoleAssignment.objects.create(user=user, organisation=organisation, role=role)
    return user


# Where each persona's role sits in the `tree` fixture.
PERSONA_HOMES = {
    Role.TOWNSHIP_ADMIN: "township",
    Role.TOWNSHIP_LEADER: "township",
    Role.INSTRUCTOR: "a1",
    Role.SECRETARY: "a1",
    Role.COMMITTEE_MEMBER: "a1",
    Role.GROUP_LEADER: "g1",
    Role.MEMBER: "a1",
}


@pytest.fixture
def personas(tree):
    """One user per role, each assigned inside township A, plus a superuser."""
    users = {role: make_user(role.value, role, getattr(tree, home)) for role, home in PERSONA_HOMES.items()}
    users["superuser"] = get_user_model().objects.create_superuser(
        "root", "root@example.invalid", "pw-Testing-123"
    )
    return users


def make_member(branch, group, id_number, *, name="测试党员", user=None, category="full", **extra):
    """A member registered through the service (so the dated history exists), 入党 2005, 转正 2006."""
    from members import services as member_services

    dates = {"joined_on": date(2005, 7, 1), "confirmed_on": date(2006, 7, 1)} if category == "full" else {}
    dates.update(extra)
    known = [value for key, value in dates.items() if key in member_services.CATEGORY_OF_DATE and value]
    if known and "started_on" not in dates and "transfer" not in dates:
        # On this branch's roster since their earliest date (a member of long standing registered by hand
        # without one would be on it only from the month of registration, when their records_from begins).
        dates["started_on"] = min(known)
    member = member_services.register_member(
        branch=branch, group=group, name=name, id_number=id_number, category=category, **dates
    )
    # Entered by hand today, a member of long standing would be judged only from this month on
    # (records_from); the suite's members stand for a roster kept here since they joined (an update:
    # no edit of the member's own to show in its history).
    type(member).objects.filter(pk=member.pk).update(records_from=None)
    member.records_from = None
    if user is not None:
        member.user = user
        member.save()
    return member


def make_meeting(branch, group, present, *, types=("group_meeting",), held_on=None, attachment=True, **extra):
    """A meeting recorded through the service; `present` members attend, the rest of 应到 are absent."""
    import uuid

    from django.core.files.uploadedfile import SimpleUploadedFile

    from meetings import services as meeting_services

    held_on = held_on or date(2026, 11, 20)
    expected = meeting_services.attendance_list(
        branch=branch, types=list(types), held_on=held_on, group=group
    )
    present_ids = {m.pk for m in present}
    attendance = {r.member_id: ("present" if r.member_id in present_ids else "absent", "") for r in expected}
    uploads = (
        [SimpleUploadedFile("签到表.pdf", b"%PDF-1.4 test", content_type="application/pdf")]
        if attachment
        else []
    )
    return meeting_services.record_meeting(
        branch=branch,
        group=group,
        types=list(types),
        held_on=held_on,
        topic=extra.pop("topic", "学习讨论"),
        attendance=attendance,
        token=uuid.uuid4().hex,
        uploads=uploads,
        lecturer=extra.pop("lecturer", "书记"),
        # Entered on the day it was held, so the record is not a 补录 whatever today's date is.
        now=extra.pop("now", timezone.make_aware(datetime.combine(held_on, time(20)))),
        **extra,
    )


def make_campaign(branch, *, year=2026, campaign_on=None, grades=None, ballots=(10, 9), close=False):
    """A 民主评议 campaign opened through the service; grades is {member: (grade, reason)} to save."""
    import uuid

    from evaluations import services as review_services

    campaign = review_services.open_campaign(
        branch=branch, year=year, campaign_on=campaign_on or date(year, 11, 25), token=uuid.uuid4().hex
    )
    if grades is not None:
        # The 民主测评 and 组织评定 dates, which closing needs: held on the list's day.
        review_services.update_campaign(campaign=campaign, campaign_on=campaign.campaign_on,
                                        vote_on=campaign.campaign_on, assessment_on=campaign.campaign_on)  # fmt: skip
        chosen = {member.pk: value for member, value in grades.items()}
        rows = {}
        for p in campaign.participants.filter(exempt_reason=""):
            grade, reason = chosen.get(p.member_id, ("qualified", ""))
            rows[p.pk] = {"votes_qualified": ballots[1], "grade": grade, "grade_reason": reason}
        review_services.save_results(
            campaign=campaign, ballots_issued=ballots[0], ballots_returned=ballots[1], rows=rows
        )
    if close:
        review_services.close_campaign(campaign=campaign, closed_on=campaign.campaign_on + timedelta(days=3))
    return campaign


@pytest.fixture
def branch(tree):
    """甲社区第一党支部 (founded 2010) with 4 full members in 第一党小组 and a full committee."""
    from tests.compliance.conftest import idn

    people = [make_member(tree.a1, tree.g1, idn(i), name=f"党员{i}") for i in range(4)]
    services.record_term(
        organisation=tree.a1, elected_on=date(2024, 1, 5),
        positions=[("secretary", "党员0"), ("organisation", "党员1"), ("propaganda", "党员2")],
    )  # fmt: skip
    tree.a1.people = people
    return tree.a1


def page_queries(client, url, params=None):
    """The queries of one GET of a page, read after a first GET: the first page of a session (or the first
    after a change) reads what later ones find cached, such as the bell's count."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url, params)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, params).status_code == 200
    return len(queries)
