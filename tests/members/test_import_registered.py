"""Import rows whose ID number is registered already: the preview says, row by row, what 更新 would change
(field: old → new) and what it leaves; a row under another name is refused, not renamed; a row registered
outside the user's branches is refused at preview as at commit, naming nobody (as the registration form)."""

import re
from datetime import date, datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from branches.models import Organisation, Role
from members import roster_import, services
from members.models import Member, RosterImport
from tests.members.test_roster_import import TODAY, idn, messages_for, row, run, workbook


def registered(**overrides):
    """党员1 of 甲社区第一党支部 (第一党小组), registered by an earlier import."""
    run(workbook([row(1, **overrides)]))
    return Member.objects.get()


def check(file, *, mode, branches=None):
    _header, rows = roster_import.read_rows(file, size=len(file.getvalue()))
    branches = Organisation.objects.all() if branches is None else branches
    return roster_import.check_import(rows=rows, branch_queryset=branches, mode=mode, today=TODAY)


def text(response):
    return re.sub(r"\s+", " ", re.sub("<[^>]+>", " ", response.content.decode()))


# ---------------------------------------------------------------- another name


@pytest.mark.parametrize("mode", ["skip", "update"])
def test_a_row_under_another_name_is_refused_not_renamed(tree, mode):
    member = registered()
    other = row(1, 姓名="龙欣芳", 联系电话="13700000000", 学历="大学本科", 人员类别="入党申请人", 入党时间=None,
                转正时间=None, 所在党支部="甲村党支部", 党小组=None)  # fmt: skip
    assert [r.action for r in check(workbook([other]), mode=mode)] == [mode]
    assert not check(workbook([other]), mode=mode)[0].ok  # the preview refuses it already
    results, counts = run(workbook([other]), mode=mode)
    assert counts == {"created": 0, "updated": 0, "skipped": 0, "failed": 1}
    message = messages_for(results)[(4, "姓名")]
    assert "该身份证号已登记为“党员1”，与本行姓名“龙欣芳”不符" in message and "请核对身份证号" in message
    member.refresh_from_db()
    assert (member.name, member.phone, member.education, member.category) == (
        "党员1",
        "13900000001",
        "高中",
        "full",
    )
    assert member.history.count() == 1


def test_spaces_in_a_name_are_the_same_name(tree):
    registered()
    [result] = check(workbook([row(1, 姓名=" 党员 1", 学历="大学本科")]), mode="update")
    assert result.ok and result.changes == [("学历", "高中", "大学本科")]


# ---------------------------------------------------------------- what 更新 changes, and leaves


def test_update_says_field_by_field_what_it_changes_and_what_it_leaves(tree):
    registered()
    given = row(1, 联系电话="13700000000", 学历="大学本科", 工作单位及职务=None, 所在党支部="甲村党支部", 党小组=None,
                人员类别="预备党员", 入党时间=datetime(2006, 7, 1), 转正时间=None)  # fmt: skip
    [result] = check(workbook([given]), mode="update")
    assert result.ok and result.action == "update"
    # A blank cell (工作单位及职务) is no change: it does not wipe what is registered.
    assert result.changes == [("学历", "高中", "大学本科"), ("联系电话", "13900000001", "13700000000")]
    assert result.not_applied == [
        ("所在党支部", "甲社区第一党支部", "甲村党支部"),
        ("人员类别", "正式党员", "预备党员"),
        ("入党时间", "2005-07-01", "2006-07-01"),
    ]
    results, counts = run(workbook([given]), mode="update")
    assert counts == {"created": 0, "updated": 1, "skipped": 0, "failed": 0}
    problems = messages_for(results)
    assert (
        "导入不调动组织关系" in problems[(4, "所在党支部")]
        and "调整支部/党小组" in problems[(4, "所在党支部")]
    )
    assert "导入不改变人员类别" in problems[(4, "人员类别")]
    assert "导入不改变发展日期" in problems[(4, "入党时间")]
    member = Member.objects.get()
    assert (member.phone, member.education, member.work_unit) == ("13700000000", "大学本科", "职员")
    assert (member.branch, member.group, member.category, member.joined_on, member.confirmed_on) == (
        tree.a1, tree.g1, "full", date(2005, 7, 1), date(2006, 7, 1)
    )  # fmt: skip
    assert member.history.count() == 2


def test_a_row_that_matches_the_registered_member_updates_nothing(tree):
    member = registered()
    results, counts = run(workbook([row(1)]), mode="update")
    assert counts == {"created": 0, "updated": 0, "skipped": 1, "failed": 0}
    assert roster_import.preview_counts(results)["update"] == 0
    assert member.history.count() == 1


def test_the_preview_shows_old_and_new_and_the_record_keeps_them(client, personas, tree):
    registered()
    file = workbook([row(1, 联系电话="13700000000"), row(2, 姓名="龙欣芳", 身份证号码=idn(1))])
    file.name = "名册.xlsx"
    client.force_login(personas[Role.SECRETARY])
    url = client.post(reverse("members:import"), {"file": file})["Location"]
    page = text(client.get(url, {"mode": "update"}))
    assert "更新（已登记）1 人" in page and "有问题 1 行" in page
    assert "联系电话：13900000001 → 13700000000" in page
    assert "该身份证号已登记为“党员1”，与本行姓名“龙欣芳”不符" in page
    assert "姓名与已登记的不符的行不导入" in page
    client.post(url, {"mode": "update"})
    record = RosterImport.objects.get()
    assert record.outcome["counts"] == {"created": 0, "updated": 1, "skipped": 0, "failed": 1}
    page = text(client.get(url))
    assert "更新明细" in page and "党员1" in page and "联系电话：13900000001 → 13700000000" in page
    assert Member.objects.get().name == "党员1"


# ---------------------------------------------------------------- outside the user's branches


@pytest.fixture
def elsewhere(tree):
    """丁丹 of 甲村党支部, a branch of the township that 甲社区第一党支部's secretary does not keep."""
    return services.register_member(branch=tree.a2, name="丁丹", id_number=idn(7), category="full",
                                     joined_on=date(2005, 7, 1), confirmed_on=date(2006, 7, 1), today=TODAY)  # fmt: skip


@pytest.mark.parametrize("mode", ["skip", "update"])
def test_a_row_registered_outside_the_users_branches_is_refused_at_preview_as_at_commit(
    tree, elsewhere, mode
):
    mine = Organisation.objects.filter(pk=tree.a1.pk)
    given = row(7, 姓名="丁丹", 身份证号码=idn(7), 联系电话="13700000000")
    [previewed] = check(workbook([given]), mode=mode, branches=mine)
    assert previewed.errors == [("身份证号码", services.REGISTERED_ELSEWHERE)]
    _header, rows = roster_import.read_rows(workbook([given]), size=1)
    results, counts = roster_import.run_import(
        rows=rows, branch_queryset=mine, mode=mode, strict=False, today=TODAY
    )
    assert counts == {"created": 0, "updated": 0, "skipped": 0, "failed": 1}
    assert results[0].errors == previewed.errors
    assert "甲村党支部" not in services.REGISTERED_ELSEWHERE
    elsewhere.refresh_from_db()
    assert elsewhere.phone == ""


def test_the_preview_page_says_the_row_cannot_be_imported(client, personas, tree, elsewhere):
    file = workbook([row(7, 姓名="王某", 身份证号码=idn(7))])
    file.name = "名册.xlsx"
    client.force_login(personas[Role.SECRETARY])
    url = client.post(reverse("members:import"), {"file": file})["Location"]
    for mode in ("skip", "update"):
        page = text(client.get(url, {"mode": mode}))
        assert services.REGISTERED_ELSEWHERE in page and "已登记，跳过" not in page
        assert "丁丹" not in page and "甲村党支部" not in page


def test_an_id_number_registered_off_the_roster_is_refused_with_the_way_back(tree):
    member = registered()
    services.change_status(
        member=member, status="deceased", on=date(2026, 11, 20), reason="病故", today=TODAY
    )
    results, counts = run(workbook([row(1, 联系电话="13700000000")]), mode="update")
    assert counts["failed"] == 1
    assert "党员1曾在本系统登记，现已不在册" in messages_for(results)[(4, "身份证号码")]


def test_the_registration_form_names_nobody_outside_the_users_branches(client, personas, tree, elsewhere):
    with pytest.raises(ValidationError) as caught:
        services.register_member(branch=tree.a1, name="王某", id_number=idn(7), category="applicant",
                                 applied_on=date(2025, 1, 1), scope=Organisation.objects.filter(pk=tree.a1.pk))  # fmt: skip
    assert caught.value.message_dict["id_number"] == [services.REGISTERED_ELSEWHERE]
    with pytest.raises(ValidationError) as caught:
        services.register_member(branch=tree.a1, name="王某", id_number=idn(7), category="applicant",
                                 applied_on=date(2025, 1, 1))  # fmt: skip
    assert caught.value.message_dict["id_number"] == ["身份证号已登记：丁丹（甲村党支部）。"]
    client.force_login(personas[Role.SECRETARY])
    response = client.post(
        reverse("members:create"),
        {"name": "王某", "id_number": idn(7), "branch": tree.a1.pk, "category": "applicant",
         "applied_on": "2025-01-10", "ethnicity": "汉族", "dues_kind": "employed"},
    )  # fmt: skip
    page = text(response)
    assert response.status_code == 200 and services.REGISTERED_ELSEWHERE in page
    assert "丁丹" not in page
    client.force_login(personas[Role.TOWNSHIP_ADMIN])  # keeps 甲村党支部: told whose it is
    response = client.post(
        reverse("members:create"),
        {"name": "王某", "id_number": idn(7), "branch": tree.a1.pk, "category": "applicant",
         "applied_on": "2025-01-10", "ethnicity": "汉族", "dues_kind": "employed"},
    )  # fmt: skip
    assert "身份证号已登记：丁丹（甲村党支部）。" in text(response)
