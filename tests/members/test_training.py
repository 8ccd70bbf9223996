"""学习培训 pages as a branch secretary uses them: one training for many members, voids, the year's totals."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from branches.models import Role
from meetings import services as meeting_services
from members import services
from members.models import TrainingRecord
from tests.conftest import make_member
from tests.members.test_views import id_number

# This year's 1 January: never in the future, and the member's page shows this year.
HELD_ON = timezone.localdate().replace(month=1, day=1)
YEAR = HELD_ON.year


@pytest.fixture
def people(tree):
    return [make_member(tree.a1, tree.g1, id_number(i), name=f"党员{i:02d}") for i in range(4)]


def form_data(members, **extra):
    return {
        "held_on": HELD_ON.isoformat(), "hours": "4", "title": "学习党的二十届四中全会精神", "organiser": "镇党校",
        "kind": "classroom", "token": "t-1", "members": [m.pk for m in members], **extra,
    }  # fmt: skip


def test_one_training_for_the_ticked_members_creates_a_row_each_once(client, personas, tree, people):
    client.force_login(personas[Role.SECRETARY])
    url = reverse("members:training_create", args=[tree.a1.pk])
    page = client.get(url).content.decode()
    assert all(p.name in page for p in people) and 'name="token"' in page
    response = client.post(url, form_data(people[:3]))
    assert response.status_code == 302
    assert response["Location"] == reverse("members:training", args=[tree.a1.pk]) + f"?year={YEAR}"
    again = client.post(url, form_data(people[:3]))  # a double tap: the same token
    assert again.status_code == 302
    rows = TrainingRecord.objects.filter(voided_at__isnull=True)
    assert sorted(rows.values_list("member__name", flat=True)) == ["党员00", "党员01", "党员02"]
    assert {(r.hours, r.branch_id, r.held_on, r.recorded_by_id) for r in rows} == {
        (Decimal("4.0"), tree.a1.pk, HELD_ON, personas[Role.SECRETARY].pk)
    }
    assert all(r.history.count() == 1 for r in rows)
    listing = client.get(response["Location"]).content.decode()
    assert "已为 3 名党员登记培训学时" in listing


@pytest.mark.parametrize(
    ("hours", "message"),
    [("0", "学时必须大于0"), ("-2", "学时必须大于0"), ("121", "一次培训最多登记120学时"), ("2.25", "小数不超过 1 位"),
     ("", "这个字段是必填项")],
)  # fmt: skip
def test_invalid_hours_show_a_chinese_error_and_save_nothing(client, personas, tree, people, hours, message):
    client.force_login(personas[Role.SECRETARY])
    response = client.post(
        reverse("members:training_create", args=[tree.a1.pk]), form_data(people, hours=hours)
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not TrainingRecord.objects.exists()


def test_another_branchs_member_cannot_be_posted(client, personas, tree, people):
    stranger = make_member(tree.b1, None, id_number(50), name="乙镇党员")
    neighbour = make_member(tree.a2, None, id_number(51), name="甲村党员")
    client.force_login(personas[Role.SECRETARY])
    url = reverse("members:training_create", args=[tree.a1.pk])
    for outsider in (stranger, neighbour):
        response = client.post(url, form_data([people[0], outsider], token=f"t-{outsider.pk}"))
        assert response.status_code == 200
        assert "不是本支部在册党员" in response.content.decode()
    assert not TrainingRecord.objects.exists()
    client.force_login(personas[Role.TOWNSHIP_ADMIN])  # may record for both, but one branch at a time
    response = client.post(url, form_data([people[0], neighbour], token="t-admin"))
    assert response.status_code == 200 and not TrainingRecord.objects.exists()


def test_the_service_refuses_members_not_in_the_branch_that_day_and_locked_years(tree, people):
    late = make_member(tree.a1, None, id_number(60), name="新党员", category="probationary",
                       applied_on=date(2024, 1, 5), activist_on=date(2024, 3, 1), candidate_on=date(2025, 4, 1),
                       joined_on=date(YEAR - 1, 6, 1))  # fmt: skip
    with pytest.raises(Exception, match="不是本支部的党员"):
        services.record_training(branch=tree.a1, members=[people[0], late], held_on=date(YEAR - 1, 5, 20),
                                 hours=Decimal(4),
                                 title="学习", token="t-late")  # fmt: skip
    meeting_services.set_year_lock(branch=tree.a1, year=YEAR - 1, locked=True)
    with pytest.raises(Exception, match=f"{YEAR - 1}年度台账已锁定"):
        services.record_training(branch=tree.a1, members=people, held_on=date(YEAR - 1, 5, 1), hours=Decimal(4),
                                 title="学习", token="t-locked")  # fmt: skip
    future = timezone.localdate().replace(year=timezone.localdate().year + 1)
    with pytest.raises(Exception, match="不能晚于今天"):
        services.record_training(branch=tree.a1, members=people, held_on=future, hours=Decimal(4), title="学习",
                                 token="t-future")  # fmt: skip
    assert not TrainingRecord.objects.exists()


def test_void_keeps_the_record_and_takes_its_hours_out_of_the_total(client, personas, tree, people):
    rows = services.record_training(branch=tree.a1, members=people[:2], held_on=HELD_ON, hours=Decimal("6.5"),
                                    title="红色教育", token="t-void")  # fmt: skip
    services.record_training(branch=tree.a1, members=people[:1], held_on=HELD_ON, hours=Decimal(2),
                             title="网络学习", kind="online", token="t-keep")  # fmt: skip
    client.force_login(personas[Role.COMMITTEE_MEMBER])
    url = reverse("members:training_void", args=[rows[0].pk])
    assert client.post(url, {"reason": ""}).status_code == 200  # a reason is required
    response = client.post(url, {"reason": "录错了人"})
    assert response["Location"] == reverse("members:training", args=[tree.a1.pk]) + f"?year={YEAR}"
    voided = TrainingRecord.objects.get(pk=rows[0].pk)
    assert voided.voided_at and voided.void_reason == "录错了人" and voided.history.count() == 2
    assert "已作废" in client.post(url, {"reason": "再来一次"}).content.decode()
    detail = client.get(reverse("members:detail", args=[people[0].pk])).content.decode()
    assert '已完成 <span class="fw-semibold">2</span> 学时' in detail
    listing = client.get(reverse("members:training", args=[tree.a1.pk]), {"year": YEAR})
    totals = {s.name: s.done for s, _label in listing.context["standings"]}
    assert totals["党员00"] == Decimal(2) and totals["党员01"] == Decimal("6.5")
    with_void = client.get(reverse("members:training", args=[tree.a1.pk]), {"year": YEAR, "void": "1"})
    assert with_void.context["page"].paginator.count == 3


def test_the_list_finds_members_filters_by_year_and_says_when_there_is_nothing(
    client, personas, tree, people
):
    services.record_training(branch=tree.a1, members=people[:2], held_on=HELD_ON, hours=Decimal(8), title="集中轮训",
                             token="t-2026")  # fmt: skip
    services.record_training(branch=tree.a1, members=people[2:3], held_on=date(YEAR - 1, 9, 1), hours=Decimal(3),
                             title="往年培训", token="t-2025")  # fmt: skip
    client.force_login(personas[Role.SECRETARY])
    url = reverse("members:training", args=[tree.a1.pk])
    page = client.get(url, {"year": YEAR})
    assert page.context["page"].paginator.count == 2 and "往年培训" not in page.content.decode()
    found = client.get(url, {"year": YEAR, "q": "党员01"})
    assert [r.member.name for r in found.context["page"]] == ["党员01"]
    assert client.get(url, {"year": YEAR - 1}).context["page"].paginator.count == 1
    empty = client.get(url, {"year": YEAR - 2}).content.decode()
    assert f"{YEAR - 2}年尚无培训记录" in empty
    nobody = client.get(url, {"year": YEAR, "q": "无此人"}).content.decode()
    assert "没有“无此人”的培训记录" in nobody


def test_the_list_shows_who_is_short_of_hours(client, personas, tree, people):
    services.record_training(branch=tree.a1, members=people[:1], held_on=date(YEAR - 1, 3, 1), hours=Decimal(32),
                             title="全年学习", token="t-full")  # fmt: skip
    client.force_login(personas[Role.INSTRUCTOR])
    response = client.get(reverse("members:training", args=[tree.a1.pk]), {"year": YEAR - 1})
    states = {s.name: (s.state, s.due.hours) for s, _label in response.context["standings"]}
    assert states["党员00"] == ("met", 32) and states["党员01"] == ("overdue", 32)
    assert response.context["met"] == 1 and response.context["short"] == 3
    assert "登记培训学时" not in response.content.decode()  # an instructor reads, does not record


def test_list_query_count_does_not_grow_with_members_or_records(client, personas, tree, people):
    client.force_login(personas[Role.SECRETARY])
    url = reverse("members:training", args=[tree.a1.pk])
    services.record_training(branch=tree.a1, members=people[:1], held_on=HELD_ON, hours=Decimal(2), title="学习",
                             token="t-0")  # fmt: skip
    client.get(url, {"year": YEAR})
    with CaptureQueriesContext(connection) as few:
        client.get(url, {"year": YEAR})
    more = [make_member(tree.a1, tree.g2, id_number(10 + i), name=f"乙{i:02d}") for i in range(30)]
    for i in range(20):
        services.record_training(branch=tree.a1, members=people + more, held_on=HELD_ON, hours=Decimal(2),
                                 title=f"学习{i}", token=f"t-{i + 1}")  # fmt: skip
    with CaptureQueriesContext(connection) as many:
        response = client.get(url, {"year": YEAR})
    assert response.context["page"].paginator.count == 1 + 20 * 34
    assert len(many) == len(few)


def test_a_member_sees_their_own_years_training_on_their_page(client, personas, tree, people):
    own = make_member(tree.a1, None, id_number(70), name="本人", user=personas[Role.MEMBER])
    services.record_training(branch=tree.a1, members=[own], held_on=HELD_ON, hours=Decimal("3.5"), title="党课学习",
                             kind="lecture", token="t-own")  # fmt: skip
    client.force_login(personas[Role.MEMBER])
    page = client.get(reverse("members:detail", args=[own.pk])).content.decode()
    assert "党课学习（党课）" in page and "3.5学时" in page
    assert "作废" not in page  # a member reads their record, does not change it
