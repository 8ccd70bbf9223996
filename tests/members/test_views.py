"""The roster pages as a secretary and the township office use them."""

from datetime import date, datetime
from io import BytesIO

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from branches.models import Role
from members.idcard import check_character
from members.models import DuesPayment, Member, ThoughtReport
from tests.conftest import make_member


def id_number(serial, birth="19800722", male=True):
    body = f"320102{birth}{serial:02d}{1 if male else 2}"
    return body + check_character(body)


@pytest.fixture
def roster(tree):
    return [
        make_member(tree.a1, tree.g1, id_number(i), name=f"党员{i:02d}", phone=f"139{i:08d}")
        for i in range(3)
    ]


def test_secretary_sees_full_id_numbers_and_the_instructor_sees_them_masked(client, personas, roster):
    client.force_login(personas[Role.SECRETARY])
    page = client.get(reverse("members:list")).content.decode()
    assert roster[0].id_number in page
    client.force_login(personas[Role.INSTRUCTOR])
    page = client.get(reverse("members:list")).content.decode()
    assert roster[0].id_number not in page
    assert roster[0].id_number[:6] + "********" + roster[0].id_number[-4:] in page
    assert "13900000000" in page  # the instructor may call members
    client.force_login(personas[Role.TOWNSHIP_LEADER])
    page = client.get(reverse("members:list")).content.decode()
    assert "13900000000" not in page and "139****0000" in page


def test_search_by_name_initials_and_phone(client, personas, tree, roster):
    make_member(tree.a1, None, id_number(50), name="龙欣芳")
    client.force_login(personas[Role.SECRETARY])
    by_initials = client.get(reverse("members:list"), {"q": "lxf"}).content.decode()
    assert "龙欣芳" in by_initials and "党员00" not in by_initials
    by_phone = client.get(reverse("members:list"), {"q": "13900000001"}).content.decode()
    assert "党员01" in by_phone and "党员02" not in by_phone


def test_roster_of_other_township_is_not_listed(client, personas, tree, roster):
    make_member(tree.b1, None, id_number(60), name="乙镇党员")
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    page = client.get(reverse("members:list")).content.decode()
    assert "党员00" in page and "乙镇党员" not in page


def test_list_query_count_does_not_grow_with_the_roster(client, personas, tree):
    client.force_login(personas[Role.SECRETARY])
    make_member(tree.a1, tree.g1, id_number(0), name="甲")
    client.get(reverse("members:list"))  # warm caches (content types, sessions)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("members:list"))
    for i in range(1, 40):
        make_member(tree.a1, tree.g1 if i % 2 else tree.g2, id_number(i), name=f"乙{i}")
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("members:list"))
    assert response.context["page"].paginator.count == 40
    assert len(many) == len(few)


def test_detail_query_count_does_not_grow_with_history(client, personas, tree):
    member = make_member(tree.a1, tree.g1, id_number(1), name="甲")
    client.force_login(personas[Role.SECRETARY])
    url = reverse("members:detail", args=[member.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for month in range(1, 11):
        DuesPayment.objects.create(
            member=member, month=date(2026, month, 1), amount=1, paid_on=date(2026, month, 2)
        )
        ThoughtReport.objects.create(member=member, received_on=date(2026, month, 3))
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(many) == len(few)


def test_register_through_the_form_and_see_the_timeline(client, personas, tree):
    client.force_login(personas[Role.SECRETARY])
    response = client.post(
        reverse("members:create"),
        {
            "name": "周新",
            "id_number": id_number(7).lower(),
            "branch": tree.a1.pk,
            "group": tree.g2.pk,
            "category": "activist",
            "applied_on": "2025-01-10",
            "activist_on": "2025-03-01",
            "ethnicity": "汉族",
            "dues_kind": "employed",
        },
    )
    member = Member.objects.get(name="周新")
    assert response["Location"] == reverse("members:detail", args=[member.pk])
    page = client.get(response["Location"]).content.decode()
    assert "成为入党积极分子" in page and "成为入党申请人" in page
    assert "培养满一年，可列为发展对象" in page and "2026-03-01" in page


def test_bad_form_input_rerenders_with_the_message_and_keeps_what_was_typed(client, personas, tree):
    client.force_login(personas[Role.SECRETARY])
    response = client.post(
        reverse("members:create"),
        {
            "name": "周新",
            "id_number": "320102198007227313",
            "branch": tree.a1.pk,
            "category": "full",
            "joined_on": "2005-07-01",
            "ethnicity": "汉族",
            "dues_kind": "employed",
            "work_unit": "社区网格员",
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "校验位错误" in page and "社区网格员" in page
    assert not Member.objects.exists()


def test_secretary_cannot_register_into_another_branch_by_editing_the_post(client, personas, tree):
    client.force_login(personas[Role.SECRETARY])
    response = client.post(
        reverse("members:create"),
        {
            "name": "周新",
            "id_number": id_number(8),
            "branch": tree.b1.pk,
            "category": "applicant",
            "applied_on": "2025-01-10",
            "ethnicity": "汉族",
            "dues_kind": "employed",
        },
    )
    assert response.status_code == 200
    assert "选择一个有效的选项" in response.content.decode()
    assert not Member.objects.exists()


def test_lifecycle_action_through_the_page(client, personas, tree):
    member = make_member(tree.a1, tree.g1, id_number(2), name="甲")
    client.force_login(personas[Role.SECRETARY])
    url = reverse("members:action", args=[member.pk, "mobility"])
    response = client.post(url, {"destination": "江苏省苏州市", "started_on": "2026-06-01"})
    assert response.status_code == 302
    page = client.get(reverse("members:detail", args=[member.pk])).content.decode()
    assert "外出江苏省苏州市" in page and "未开具证明信" in page
    bad = client.post(
        reverse("members:action", args=[member.pk, "mobility"]),
        {"destination": "南京", "started_on": "2026-07-01"},
    )
    assert "该时段已有外出登记" in bad.content.decode()


def test_unknown_action_is_404(client, personas, tree):
    member = make_member(tree.a1, tree.g1, id_number(3), name="甲")
    client.force_login(personas[Role.SECRETARY])
    assert client.get(reverse("members:action", args=[member.pk, "delete"])).status_code == 404


def test_dues_month_marks_the_chosen_members_paid_once(client, personas, tree):
    members = [
        make_member(tree.a1, None, id_number(10 + i), name=f"缴费{i}", dues_kind="farmer") for i in range(3)
    ]
    client.force_login(personas[Role.SECRETARY])
    url = reverse("members:dues_month", args=[tree.a1.pk]) + "?month=2026-11"
    chosen = {"month": "2026-11", "member": [members[0].pk, members[1].pk]}
    client.post(url, chosen)
    client.post(url, chosen)  # a double tap records nothing more
    assert DuesPayment.objects.filter(month=date(2026, 11, 1)).count() == 2
    page = client.get(url).content.decode()
    assert "已缴 2 / 3 人" in page


def test_a_member_with_no_dues_recorded_is_not_told_of_hundreds_of_months_unpaid(
    client, personas, tree, monkeypatch
):
    """Imported without their payment history (入党 2005): the page says there is no record here since the
    first month owed, not "连续 257 个月未缴纳党费"; once payments are recorded, the unpaid run is counted."""
    monkeypatch.setattr("members.selectors.timezone.localdate", lambda: date(2026, 12, 7))
    member = make_member(tree.a1, None, id_number(30), name="导入党员", dues_kind="farmer")
    url = reverse("members:detail", args=[member.pk])
    client.force_login(personas[Role.SECRETARY])
    page = client.get(url).content.decode()
    assert "本系统暂无该党员的党费缴纳记录（自2005年7月起应缴）。" in page
    assert "个月未缴纳党费" not in page
    DuesPayment.objects.create(member=member, month=date(2026, 11, 1), amount=1, paid_on=date(2026, 11, 5))
    page = client.get(url).content.decode()
    assert "本系统暂无该党员的党费缴纳记录" not in page
    assert "2005年7月至2026年10月连续 256 个月未缴纳党费，请补交。" in page  # the current message stands


def test_a_member_entered_before_their_dues_began_is_told_the_unpaid_run_and_to_pay(
    client, personas, tree, monkeypatch
):
    """Entered as an applicant in 2024, 预备党员 from June 2026, nothing paid yet: the page counts the months
    and asks for them (no imported history to excuse), as the engine's reminder does."""
    monkeypatch.setattr("members.selectors.timezone.localdate", lambda: date(2026, 12, 7))
    member = make_member(tree.a1, None, id_number(31), name="新党员", category="probationary",
                         joined_on=date(2026, 6, 10), dues_kind="farmer")  # fmt: skip
    Member.objects.filter(pk=member.pk).update(created_at=timezone.make_aware(datetime(2024, 3, 1, 9)))
    client.force_login(personas[Role.SECRETARY])
    page = client.get(reverse("members:detail", args=[member.pk])).content.decode()
    assert "2026年6月至2026年11月连续 6 个月未缴纳党费，请补交。" in page
    assert "本系统暂无该党员的党费缴纳记录" not in page


def test_a_paid_month_on_the_member_page_opens_its_void_page_for_the_secretary_only(client, personas, tree):
    member = make_member(tree.a1, None, id_number(20), name="缴费人", dues_kind="farmer")
    today = timezone.localdate()
    payment = DuesPayment.objects.create(member=member, month=today.replace(day=1), amount=1, paid_on=today)
    void = reverse("members:void", args=[member.pk, "dues", payment.pk])
    client.force_login(personas[Role.SECRETARY])
    page = client.get(reverse("members:detail", args=[member.pk])).content.decode()
    assert f'href="{void}"' in page and f"{today:%y.%m} 已缴" in page
    client.force_login(personas[Role.TOWNSHIP_LEADER])  # reads, records nothing
    page = client.get(reverse("members:detail", args=[member.pk])).content.decode()
    assert void not in page and f"{today:%y.%m} 已缴" in page


def test_export_opens_in_excel_with_masked_ids_for_the_leader(client, personas, tree, roster):
    Member.objects.filter(pk=roster[0].pk).update(note="=1+1")
    client.force_login(personas[Role.TOWNSHIP_LEADER])
    response = client.get(reverse("members:export"))
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("序号", "姓名", "性别")
    assert len(rows) == 4
    first = rows[1]
    assert first[5] == roster[0].id_number[:6] + "********" + roster[0].id_number[-4:]
    assert first[15] == "=1+1"  # text stays text, never a formula
    assert sheet["P2"].data_type == "s"
    assert sheet.freeze_panes == "A2"
    assert sheet.page_setup.orientation == "landscape"


def test_member_role_lands_on_their_own_record(client, personas, tree):
    own = make_member(tree.a1, None, id_number(20), name="本人", user=personas[Role.MEMBER])
    make_member(tree.a1, None, id_number(21), name="别人")
    client.force_login(personas[Role.MEMBER])
    assert client.get(reverse("home"))["Location"] == reverse("members:detail", args=[own.pk])
    page = client.get(reverse("members:list")).content.decode()
    assert "本人" in page and "别人" not in page
    assert own.id_number in client.get(reverse("members:detail", args=[own.pk])).content.decode()


def test_a_large_scope_offers_groups_once_a_branch_is_chosen(client, personas, tree, monkeypatch):
    monkeypatch.setattr("members.views.GROUP_CHOICES_LIMIT", 1)
    make_member(tree.a1, tree.g2, "320102198007220022", name="二组党员")
    client.force_login(personas[Role.TOWNSHIP_ADMIN])

    def offered(params):
        page = client.get(reverse("members:list"), params)
        assert page.status_code == 200
        return [g.pk for g in page.context["filter"].form.fields["group"].queryset], page

    assert offered({})[0] == []  # two groups in scope, more than the limit
    assert offered({"branch": tree.a1.pk})[0] == [tree.g1.pk, tree.g2.pk]
    groups, page = offered({"group": tree.g2.pk})  # a drill-down link to one group still filters
    assert groups == [tree.g2.pk] and [m.name for m in page.context["page"]] == ["二组党员"]


# ---------------------------------------------------------------- walkthrough of the 2026-12 fixes


def test_a_masked_phone_cannot_be_found_by_its_hidden_digits(client, personas, tree, roster):
    """党委领导 sees 139****0001: searching the middle digits must not single the member out."""
    url = reverse("members:list")
    client.force_login(personas[Role.TOWNSHIP_LEADER])
    for digits in ("00000001", "13900000001"):
        page = client.get(url, {"q": digits})
        assert list(page.context["page"]) == []
    assert [m.name for m in client.get(url, {"q": "党员01"}).context["page"]] == ["党员01"]  # names still
    for role in (Role.SECRETARY, Role.INSTRUCTOR, Role.GROUP_LEADER):  # they see the number whole
        client.force_login(personas[role])
        assert [m.name for m in client.get(url, {"q": "00000001"}).context["page"]] == ["党员01"]


def test_a_member_finds_their_own_record_by_their_phone(client, personas, tree):
    make_member(tree.a1, None, id_number(20), name="本人", user=personas[Role.MEMBER], phone="13811112222")
    client.force_login(personas[Role.MEMBER])
    page = client.get(reverse("members:list"), {"q": "1111222"})
    assert [m.name for m in page.context["page"]] == ["本人"]


def test_a_zeng_is_listed_and_found_under_z(client, personas, tree):
    for i, name in enumerate(("曾伟敏", "蔡明", "张兰")):
        make_member(tree.a1, None, id_number(60 + i), name=name)
    client.force_login(personas[Role.SECRETARY])
    url = reverse("members:list")
    assert [m.name for m in client.get(url).context["page"]] == ["蔡明", "张兰", "曾伟敏"]  # cm, zl, zwm
    assert [m.name for m in client.get(url, {"q": "zwm"}).context["page"]] == ["曾伟敏"]
    assert list(client.get(url, {"q": "cwm"}).context["page"]) == []


def test_initials_stored_before_the_fix_are_recomputed_by_the_migration(tree):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("members.migrations.0006_surname_initials")
    zeng = make_member(tree.a1, None, id_number(60), name="曾伟敏")
    wei = make_member(tree.a1, None, id_number(61), name="尉迟恭")
    make_member(tree.a1, None, id_number(62), name="王曾")
    Member.objects.filter(pk=zeng.pk).update(name_initials="cwm")  # as pypinyin's everyday reading had it
    Member.objects.filter(pk=wei.pk).update(name_initials="wcg")
    migration.give_surnames_their_letters(apps, None)
    stored = dict(Member.objects.values_list("name", "name_initials"))
    assert stored == {"曾伟敏": "zwm", "尉迟恭": "ycg", "王曾": "wc"}  # only a surname's letter changes


def test_conversion_before_the_probation_ends_is_refused_on_the_date(client, personas, tree, today):
    member = make_member(tree.a1, None, id_number(63), name="预备", category="probationary",
                         joined_on=date(2026, 3, 8))  # fmt: skip
    client.force_login(personas[Role.SECRETARY])
    response = client.post(
        reverse("members:action", args=[member.pk, "category"]), {"category": "full", "on": "2026-03-09"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["on"] == ["预备期至2027-03-08届满，转正时间不能早于该日。"]
    assert 'value="2026-03-09"' in response.content.decode()
    member.refresh_from_db()
    assert (member.category, member.confirmed_on) == ("probationary", None)


def test_registering_a_full_member_converted_the_day_after_joining_is_refused(client, personas, tree):
    client.force_login(personas[Role.SECRETARY])
    response = client.post(
        reverse("members:create"),
        {"name": "周新", "id_number": id_number(64), "branch": tree.a1.pk, "category": "full",
         "joined_on": "2020-01-01", "confirmed_on": "2020-01-02", "ethnicity": "汉族", "dues_kind": "employed"},
    )  # fmt: skip
    assert response.status_code == 200
    assert response.context["form"].errors["confirmed_on"] == [
        "预备期至2021-01-01届满，转正时间不能早于该日。"
    ]
    assert not Member.objects.exists()


@pytest.mark.parametrize(("action", "data"), [
    ("dues", {"month": "2026-04", "paid_on": "2026-04-05", "amount": "1"}),
    ("report", {"received_on": "2026-04-05", "title": "思想汇报"}),
])  # fmt: skip
def test_dues_and_reports_of_a_deceased_member_are_refused_on_the_form(client, personas, tree, today, action,
                                                                       data):  # fmt: skip
    from members import services

    member = make_member(tree.a1, None, id_number(65), name="故人", dues_kind="farmer")
    services.change_status(member=member, status="deceased", on=date(2026, 5, 1), reason="病故")
    client.force_login(personas[Role.SECRETARY])
    response = client.post(reverse("members:action", args=[member.pk, action]), data)
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "故人已不在册（党籍状态：去世），不能再登记或办理。"
    ]
    assert not DuesPayment.objects.exists() and not ThoughtReport.objects.exists()


def test_the_void_page_names_the_payment_it_voids(client, personas, tree, today):
    member = make_member(tree.a1, None, id_number(66), name="张伟", dues_kind="farmer")
    payment = DuesPayment.objects.create(member=member, month=date(2026, 5, 1), amount="30.00",
                                         paid_on=date(2026, 5, 20))  # fmt: skip
    report = ThoughtReport.objects.create(member=member, received_on=date(2026, 6, 3), title="学习体会")
    client.force_login(personas[Role.SECRETARY])
    page = client.get(reverse("members:void", args=[member.pk, "dues", payment.pk])).content.decode()
    assert '<h1 class="h5 mb-3">作废张伟的党费缴纳记录：2026年5月，30.00元（2026-05-20缴纳）</h1>' in page
    page = client.get(reverse("members:void", args=[member.pk, "report", report.pk])).content.decode()
    assert "作废张伟的思想汇报记录：2026-06-03收到，学习体会" in page


def test_the_bulk_button_of_a_past_month_names_the_month(client, personas, tree, today):
    make_member(tree.a1, None, id_number(67), name="张伟", dues_kind="farmer")
    client.force_login(personas[Role.SECRETARY])
    page = client.get(reverse("members:dues_month", args=[tree.a1.pk]), {"month": "2026-05"}).content.decode()
    assert ">所选人员2026年5月已缴</button>" in page and "本月已缴" not in page


def test_a_suspended_member_is_listed_apart_and_not_as_owing(client, personas, tree, today):
    from members import services

    make_member(tree.a1, None, id_number(68), name="在籍", dues_kind="farmer")
    lost = make_member(tree.a1, None, id_number(69), name="失联", dues_kind="farmer")
    services.change_status(member=lost, status="suspended", on=date(2026, 10, 15), reason="失联满六个月")
    client.force_login(personas[Role.SECRETARY])
    url = reverse("members:dues_month", args=[tree.a1.pk])
    response = client.get(url, {"month": "2026-11"})
    page = response.content.decode()
    assert [m.name for m, _payment in response.context["rows"]] == ["在籍"]
    assert "2026年11月：已缴 0 / 1 人" in page
    assert "停止党籍，不计应缴（1 人）" in page and f'name="member" value="{lost.pk}"' not in page
    # Before the suspension the month was owed as any other.
    response = client.get(url, {"month": "2026-09"})
    assert [m.name for m, _payment in response.context["rows"]] == ["失联", "在籍"]
    assert "停止党籍，不计应缴" not in response.content.decode()
    # An edited post cannot record the suspended month either.
    response = client.post(url, {"month": "2026-11", "member": [lost.pk]}, follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "失联未登记：2026年11月党籍停止，不计应缴党费。"
    ]
    assert not DuesPayment.objects.exists()
