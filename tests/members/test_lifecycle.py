"""Member lifecycle services and the roster as of a date."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from members import selectors, services
from members.models import CategoryChange, DuesPayment, ExemptionKind, Member, Status, Transfer
from tests.conftest import make_org

TODAY = date(2026, 11, 23)
ID_A = "320102198007227312"  # male, born 1980-07-22
ID_B = "440106195109195322"  # female, born 1951-09-19
ID_C = "320102197704166821"  # female, born 1977-04-16


def register(tree, id_number=ID_A, **values):
    defaults = {
        "name": "王强",
        "category": "full",
        "joined_on": date(2005, 7, 1),
        "confirmed_on": date(2006, 7, 1),
    }
    defaults.update(values)
    # On the branch's roster since their first date, as make_member registers: without a 编入日期, a member
    # of long standing registered by hand is on it only from the month of registration (records_from).
    known = [value for key, value in defaults.items() if key in services.CATEGORY_OF_DATE and value]
    if known and "started_on" not in defaults and "transfer" not in defaults:
        defaults["started_on"] = min(known)
    return services.register_member(branch=tree.a1, id_number=id_number, today=TODAY, **defaults)


def test_registration_derives_birth_and_gender_and_stores_upper_case_x(tree):
    member = register(
        tree, id_number="11010519491231002x", joined_on=date(1980, 1, 1), confirmed_on=date(1981, 1, 1)
    )
    assert member.id_number == "11010519491231002X"
    assert member.birth_on == date(1949, 12, 31)
    assert member.gender == "female"
    assert member.name_initials == "wq"


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"id_number": "320102198007227313"}, "id_number", "校验位错误（应为2）"),
        ({"gender": "female"}, "gender", "性别与身份证号不符"),
        ({"birth_on": date(1980, 7, 23)}, "birth_on", "出生日期与身份证号不符"),
        ({"confirmed_on": date(2005, 7, 1)}, "confirmed_on", "转正时间必须晚于入党时间"),
        (
            {"confirmed_on": date(2005, 7, 2)},
            "confirmed_on",
            "预备期至2006-07-01届满，转正时间不能早于该日。",
        ),
        ({"joined_on": date(2027, 1, 1), "confirmed_on": None}, "joined_on", "不能晚于今天"),
        (
            {"category": "probationary", "confirmed_on": date(2006, 7, 1)},
            "confirmed_on",
            "预备党员不应有转正时间",
        ),
        ({"joined_on": None, "confirmed_on": None}, "joined_on", "须填写入党时间"),
        ({"phone": "1381234abcd"}, "phone", "手机号码格式不正确"),
        ({"name": "  "}, "name", "请填写姓名"),
    ],
)
def test_registration_rejects_bad_facts_with_a_chinese_message(tree, values, field, message):
    data = {"id_number": ID_A, **values}
    with pytest.raises(ValidationError) as caught:
        register(tree, **data)
    assert message in " ".join(caught.value.message_dict[field])
    assert Member.objects.count() == 0


def test_one_registration_per_id_number(tree):
    register(tree)
    with pytest.raises(ValidationError) as caught:
        register(tree, name="另一人")
    assert "身份证号已登记" in str(caught.value)
    assert Member.objects.count() == 1


def test_group_must_belong_to_the_branch(tree):
    other_group = make_org(tree.b1, "乙村第一党小组", "group")
    with pytest.raises(ValidationError) as caught:
        services.register_member(
            branch=tree.a1,
            group=other_group,
            id_number=ID_A,
            name="王强",
            category="applicant",
            applied_on=date(2025, 1, 1),
            today=TODAY,
        )
    assert "不是“甲社区第一党支部”的党小组" in str(caught.value)


def test_historical_joining_before_18_is_kept_with_a_warning(tree):
    member = register(tree, joined_on=date(1998, 6, 1), confirmed_on=date(1999, 6, 1))
    assert member.pk
    assert member.warnings == ["入党时未满18周岁，请核对本人档案。"]


def test_pipeline_moves_one_step_at_a_time_with_its_dates(tree):
    member = services.register_member(
        branch=tree.a1,
        id_number=ID_A,
        name="王强",
        category="applicant",
        applied_on=date(2024, 3, 1),
        today=TODAY,
    )
    with pytest.raises(ValidationError, match="须依次经过各阶段"):
        services.advance_category(member=member, category="candidate", on=date(2025, 4, 1), today=TODAY)
    services.advance_category(member=member, category="activist", on=date(2024, 4, 10), today=TODAY)
    with pytest.raises(ValidationError, match="最早可于2025-04-10"):
        services.advance_category(member=member, category="candidate", on=date(2025, 4, 9), today=TODAY)
    services.advance_category(member=member, category="candidate", on=date(2025, 4, 10), today=TODAY)
    # A course taken as an 积极分子, before becoming a 发展对象, is not the 发展对象's 集中培训.
    services.record_pipeline_event(member=member, kind="training", happened_on=date(2025, 3, 1), hours=24,
                                   today=TODAY)  # fmt: skip
    with pytest.raises(ValidationError) as refused:
        services.advance_category(member=member, category="probationary", on=date(2025, 9, 1), today=TODAY)
    assert refused.value.messages == [
        "发展对象接收为预备党员前须完成集中培训不少于3天或24学时（2025-09-01前已登记0学时）和政治审查，"
        "请先在“登记事项 › 发展党员事项”中登记。"
    ]
    services.record_pipeline_event(member=member, kind="training", happened_on=date(2025, 5, 8), hours=16,
                                   today=TODAY)  # fmt: skip
    services.record_pipeline_event(
        member=member, kind="political_review", happened_on=date(2025, 6, 3), today=TODAY
    )
    with pytest.raises(ValidationError, match="已登记16学时"):
        services.advance_category(member=member, category="probationary", on=date(2025, 9, 1), today=TODAY)
    # A training recorded after the vote's date does not count for it.
    services.record_pipeline_event(member=member, kind="training", happened_on=date(2025, 9, 2), hours=8,
                                   today=TODAY)  # fmt: skip
    with pytest.raises(ValidationError, match="已登记16学时"):
        services.advance_category(member=member, category="probationary", on=date(2025, 9, 1), today=TODAY)
    services.record_pipeline_event(member=member, kind="training", happened_on=date(2025, 8, 20), hours=8,
                                   today=TODAY)  # fmt: skip
    services.advance_category(member=member, category="probationary", on=date(2025, 9, 1), today=TODAY)
    member.refresh_from_db()
    assert (member.category, member.joined_on) == ("probationary", date(2025, 9, 1))
    history = list(
        CategoryChange.objects.filter(member=member).order_by("changed_on").values_list("category", flat=True)
    )
    assert history == ["applicant", "activist", "candidate", "probationary"]
    with pytest.raises(ValidationError, match="不能晚于今天"):
        services.advance_category(member=member, category="full", on=date(2026, 12, 1), today=TODAY)


def test_a_development_step_before_18_is_refused(tree):
    # Born 2007-06-01 (ID body computed below): 18 on 2025-06-01.
    from members.idcard import check_character

    body = "32010220070601001"
    member = services.register_member(
        branch=tree.a1,
        id_number=body + check_character(body),
        name="小李",
        category="candidate",
        applied_on=date(2023, 9, 1),
        activist_on=date(2023, 10, 1),
        candidate_on=date(2024, 11, 1),
        today=TODAY,
    )
    with pytest.raises(ValidationError, match="入党时未满18周岁"):
        services.advance_category(member=member, category="probationary", on=date(2025, 5, 1), today=TODAY)


def test_conversion_waits_for_the_probation_and_its_extension_to_end(tree):
    """转正 the day after 入党 was accepted: the 预备期 is a year from 入党, plus a recorded extension."""
    member = register(tree, category="probationary", joined_on=date(2025, 3, 1), confirmed_on=None)
    with pytest.raises(ValidationError) as refused:
        services.advance_category(member=member, category="full", on=date(2025, 3, 2), today=TODAY)
    assert refused.value.message_dict == {"on": ["预备期至2026-03-01届满，转正时间不能早于该日。"]}
    services.record_pipeline_event(
        member=member, kind="extension", happened_on=date(2026, 2, 20), months=6, today=TODAY
    )
    with pytest.raises(ValidationError) as refused:
        services.advance_category(member=member, category="full", on=date(2026, 3, 1), today=TODAY)
    assert refused.value.message_dict == {
        "on": ["预备期（含延长6个月）至2026-09-01届满，转正时间不能早于该日。"]
    }
    member.refresh_from_db()
    assert (member.category, member.confirmed_on) == ("probationary", None)
    services.advance_category(member=member, category="full", on=date(2026, 9, 1), today=TODAY)
    member.refresh_from_db()
    assert (member.category, member.confirmed_on) == ("full", date(2026, 9, 1))


def test_a_conversion_on_file_before_the_rule_does_not_block_correcting_a_phone(tree):
    member = register(tree)
    Member.objects.filter(pk=member.pk).update(confirmed_on=date(2005, 7, 2))  # recorded before the check
    member.refresh_from_db()
    services.update_member(member=member, name="王强", phone="13912345678", today=TODAY)
    member.refresh_from_db()
    assert member.phone == "13912345678"
    with pytest.raises(ValidationError) as refused:  # a new problem of the edit is still refused
        services.update_member(member=member, name="王强", phone="1391234", today=TODAY)
    assert list(refused.value.message_dict) == ["phone"]


def test_no_dues_or_thought_report_for_someone_off_the_roster(tree):
    member = register(tree, dues_base=Decimal("2000"))
    services.change_status(
        member=member, status=Status.DECEASED, on=date(2026, 5, 1), reason="病故", today=TODAY
    )
    with pytest.raises(ValidationError, match=r"王强已不在册（党籍状态：去世），不能再登记或办理。"):
        services.record_dues_payment(
            member=member, month=date(2026, 4, 1), paid_on=date(2026, 4, 5), today=TODAY
        )
    with pytest.raises(ValidationError, match="王强已不在册"):
        services.record_thought_report(member=member, received_on=date(2026, 4, 5), today=TODAY)
    assert not member.dues_payments.exists() and not member.thought_reports.exists()


def test_probation_extension_is_6_to_12_months_and_only_once(tree):
    member = register(tree, category="probationary", joined_on=date(2025, 12, 1), confirmed_on=None)
    with pytest.raises(ValidationError, match="六个月至一年"):
        services.record_pipeline_event(
            member=member, kind="extension", happened_on=date(2026, 11, 1), months=3, today=TODAY
        )
    services.record_pipeline_event(
        member=member, kind="extension", happened_on=date(2026, 11, 1), months=6, today=TODAY
    )
    with pytest.raises(ValidationError, match="只能延长一次"):
        services.record_pipeline_event(
            member=member, kind="extension", happened_on=date(2026, 11, 2), months=6, today=TODAY
        )


def test_transfer_out_keeps_the_record_but_leaves_the_roster(tree):
    member = register(tree)
    services.transfer_out(
        member=member,
        on=date(2026, 3, 1),
        counterpart="南京市某街道党工委",
        letter_no="转2026-01",
        today=TODAY,
    )
    member.refresh_from_db()
    assert not member.on_roster
    assert Transfer.objects.get(member=member).letter_no == "转2026-01"
    assert [r.member for r in selectors.roster_as_of(branch=tree.a1, on=date(2026, 2, 28))] == [member]
    assert list(selectors.roster_as_of(branch=tree.a1, on=date(2026, 3, 1))) == []


def test_moving_between_branches_and_groups(tree):
    member = register(tree)
    services.move_member(member=member, branch=tree.a1, group=tree.g2, on=date(2025, 1, 1), today=TODAY)
    services.move_member(
        member=member, branch=tree.a2, group=None, on=date(2026, 1, 1), letter_no="内转01", today=TODAY
    )
    assert [r.member for r in selectors.roster_as_of(group=tree.g2, on=date(2025, 6, 1))] == [member]
    assert [r.member for r in selectors.roster_as_of(branch=tree.a2, on=date(2026, 6, 1))] == [member]
    assert list(selectors.roster_as_of(branch=tree.a1, on=date(2026, 6, 1))) == []
    with pytest.raises(ValidationError, match="相同"):
        services.move_member(member=member, branch=tree.a2, group=None, on=date(2026, 2, 1), today=TODAY)


def test_death_takes_the_member_off_the_roster_and_suspension_does_not(tree):
    alive = register(tree)
    deceased = register(
        tree, id_number=ID_B, name="李兰", joined_on=date(1980, 1, 1), confirmed_on=date(1981, 1, 1)
    )
    services.change_status(
        member=alive, status=Status.SUSPENDED, on=date(2026, 5, 1), reason="失联满六个月", today=TODAY
    )
    services.change_status(
        member=deceased, status=Status.DECEASED, on=date(2026, 5, 1), reason="病故", today=TODAY
    )
    alive.refresh_from_db()
    deceased.refresh_from_db()
    assert alive.on_roster and alive.status == "suspended"
    assert not deceased.on_roster
    with pytest.raises(ValidationError, match="请填写原因"):
        services.change_status(
            member=alive, status=Status.NORMAL, on=date(2026, 6, 1), reason=" ", today=TODAY
        )


def test_roster_as_of_replays_a_scripted_history(tree):
    """One member's year: activist → probationary, sick leave, 外出, then transferred out."""
    member = services.register_member(
        branch=tree.a1,
        group=tree.g1,
        id_number=ID_C,
        name="赵敏",
        category="activist",
        applied_on=date(2023, 1, 5),
        activist_on=date(2023, 3, 1),
        today=TODAY,
    )
    services.advance_category(member=member, category="candidate", on=date(2024, 3, 1), today=TODAY)
    services.record_pipeline_event(member=member, kind="training", happened_on=date(2024, 6, 1), hours=24,
                                   today=TODAY)  # fmt: skip
    services.record_pipeline_event(
        member=member, kind="political_review", happened_on=date(2024, 9, 1), today=TODAY
    )
    services.advance_category(member=member, category="probationary", on=date(2025, 3, 1), today=TODAY)
    services.record_exemption(
        member=member,
        kind=ExemptionKind.SICK,
        started_on=date(2025, 6, 1),
        ended_on=date(2025, 7, 31),
        approved_on=date(2025, 5, 28),
        today=TODAY,
    )
    services.start_mobility(
        member=member,
        destination="深圳",
        started_on=date(2025, 9, 1),
        ended_on=date(2025, 12, 31),
        today=TODAY,
    )
    services.transfer_out(member=member, on=date(2026, 2, 1), counterpart="深圳市某党委", today=TODAY)

    def state(on):
        rows = list(selectors.roster_as_of(branch=tree.a1, on=on))
        if not rows:
            return None
        row = rows[0]
        return (row.category_then, row.exemption_then, row.away_then, len(selectors.expected_attendees(rows)))

    assert state(date(2023, 1, 4)) is None  # before the first known date
    assert state(date(2024, 1, 1)) == ("activist", None, False, 0)
    assert state(date(2025, 4, 1)) == ("probationary", None, False, 1)
    assert state(date(2025, 7, 1)) == ("probationary", "sick", False, 0)
    assert state(date(2025, 10, 1)) == ("probationary", None, True, 1)  # 外出 members stay expected
    assert state(date(2026, 2, 1)) is None
    assert [r.member for r in selectors.roster_as_of(group=tree.g1, on=date(2025, 4, 1))] == [member]


def test_overlapping_exemptions_are_refused(tree):
    member = register(tree)
    services.record_exemption(
        member=member, kind="frail", started_on=date(2025, 1, 1), approved_on=date(2025, 1, 1), today=TODAY
    )
    with pytest.raises(ValidationError, match="该时段已有"):
        services.record_exemption(
            member=member,
            kind="sick",
            started_on=date(2026, 1, 1),
            ended_on=date(2026, 2, 1),
            approved_on=date(2026, 1, 1),
            today=TODAY,
        )


def test_voided_exemption_no_longer_exempts(tree):
    member = register(tree)
    exemption = services.record_exemption(
        member=member,
        kind="sick",
        started_on=date(2026, 1, 1),
        ended_on=date(2026, 3, 1),
        approved_on=date(2026, 1, 1),
        today=TODAY,
    )
    with pytest.raises(ValidationError, match="请填写作废原因"):
        services.void_record(record=exemption, reason=" \u3000 ")
    services.void_record(record=exemption, reason="  录错人 ")
    exemption.refresh_from_db()
    assert exemption.void_reason == "录错人"  # kept as every other void keeps it: trimmed
    [row] = selectors.roster_as_of(branch=tree.a1, on=date(2026, 2, 1))
    assert row.exemption_then is None
    with pytest.raises(ValidationError, match="已作废"):
        services.void_record(record=exemption, reason="再次")


def test_dues_amount_by_bracket_and_arrears(tree):
    member = register(tree, dues_base=Decimal("4000"))
    # As if kept here since joining: not judged only from the month of registration (records_from).
    member.records_from = None
    services.update_member(member=member, dues_kind="employed", dues_base=Decimal("4000"), today=TODAY)
    payment = services.record_dues_payment(
        member=member, month=date(2026, 10, 15), paid_on=date(2026, 10, 20), today=TODAY
    )
    assert (payment.month, payment.amount) == (date(2026, 10, 1), Decimal("40.00"))
    with pytest.raises(ValidationError, match="已登记"):
        services.record_dues_payment(
            member=member, month=date(2026, 10, 1), paid_on=date(2026, 10, 21), today=TODAY
        )
    summary = selectors.dues_summary(member, today=TODAY)
    # October, the last full month, is paid; the months before it are still owed.
    assert summary["arrears_to"] == date(2026, 9, 1) and summary["arrears"] > 12
    DuesPayment.objects.filter(member=member).delete()
    summary = selectors.dues_summary(member, today=TODAY)
    assert summary["arrears_to"] == date(2026, 10, 1) and summary["arrears"] > 12


def test_mark_month_paid_skips_the_paid_and_reports_the_unpriced(tree):
    paid = register(tree, dues_base=Decimal("2000"))
    unpriced = register(
        tree, id_number=ID_B, name="李兰", joined_on=date(1980, 1, 1), confirmed_on=date(1981, 1, 1)
    )
    applicant = services.register_member(
        branch=tree.a1,
        id_number=ID_C,
        name="赵敏",
        category="applicant",
        applied_on=date(2026, 1, 1),
        today=TODAY,
    )
    services.record_dues_payment(member=paid, month=date(2026, 11, 1), paid_on=date(2026, 11, 2), today=TODAY)
    created, skipped = services.mark_month_paid(
        members=[paid, unpriced, applicant], month=date(2026, 11, 1), paid_on=TODAY, today=TODAY
    )
    assert created == []
    assert {m.name: reason for m, reason in skipped} == {
        "李兰": "李兰未设置党费基数，无法计算应缴金额。",
        "赵敏": "赵敏尚未入党，不缴纳党费。",
    }
    assert DuesPayment.objects.count() == 1


def test_dues_marked_paid_for_the_month_keep_history(tree):
    first = register(tree, dues_base=Decimal("2000"))
    second = register(tree, id_number=ID_B, name="李兰", dues_base=Decimal("3000"))
    created, _skipped = services.mark_month_paid(
        members=[first, second], month=date(2026, 11, 1), paid_on=TODAY, today=TODAY
    )
    assert len(created) == 2
    for payment in DuesPayment.objects.filter(month=date(2026, 11, 1)):
        assert [h.history_type for h in payment.history.all()] == ["+"]
        assert payment.history.get().amount == payment.amount


def test_edits_keep_history(tree):
    member = register(tree)
    services.update_member(member=member, phone="13912345678", name="王强", today=TODAY)
    assert member.history.count() == 2
    assert member.history.earliest().phone == ""


def test_a_member_transferred_out_can_come_back_with_their_history(tree):
    member = register(tree)
    services.transfer_out(member=member, on=date(2025, 3, 1), counterpart="南京市某党委", today=TODAY)
    with pytest.raises(ValidationError, match="转回"):
        register(tree, name="王强")
    with pytest.raises(ValidationError, match="不能早于上次转出日期"):
        services.transfer_in(
            member=member, branch=tree.a2, on=date(2025, 2, 1), counterpart="南京市某党委", today=TODAY
        )
    services.transfer_in(
        member=member,
        branch=tree.a2,
        on=date(2026, 1, 1),
        counterpart="南京市某党委",
        letter_no="回01",
        today=TODAY,
    )
    member.refresh_from_db()
    assert member.on_roster and member.branch == tree.a2
    assert list(selectors.roster_as_of(branch=tree.a2, on=date(2025, 6, 1))) == []
    assert [r.member for r in selectors.roster_as_of(branch=tree.a2, on=date(2026, 6, 1))] == [member]
    assert [t.direction for t in Transfer.objects.filter(member=member).order_by("transferred_on")] == [
        "out",
        "in",
    ]


def test_registration_by_transfer_in_records_the_letter(tree):
    member = register(
        tree, transfer={"counterpart": "苏州市某党委", "letter_no": "苏转088"}, started_on=date(2026, 5, 1)
    )
    transfer = Transfer.objects.get(member=member)
    assert (transfer.direction, transfer.counterpart, transfer.transferred_on) == (
        "in",
        "苏州市某党委",
        date(2026, 5, 1),
    )
    assert list(selectors.roster_as_of(branch=tree.a1, on=date(2026, 4, 30))) == []


def test_a_member_comes_back_from_away(tree):
    member = register(tree)
    away = services.start_mobility(
        member=member, destination="深圳", started_on=date(2026, 3, 1), today=TODAY
    )
    with pytest.raises(ValidationError, match="返回日期不能晚于今天"):
        services.end_mobility(mobility=away, ended_on=date(2026, 12, 1), today=TODAY)
    services.end_mobility(mobility=away, ended_on=date(2026, 6, 30), today=TODAY)
    assert [r.away_then for r in selectors.roster_as_of(branch=tree.a1, on=date(2026, 6, 30))] == [True]
    assert [r.away_then for r in selectors.roster_as_of(branch=tree.a1, on=date(2026, 7, 1))] == [False]
    report = services.record_thought_report(
        member=member, received_on=date(2026, 7, 2), title="返回后思想汇报", today=TODAY
    )
    assert report.member == member
    with pytest.raises(ValidationError, match="收到日期不能晚于今天"):
        services.record_thought_report(member=member, received_on=date(2026, 12, 2), today=TODAY)
