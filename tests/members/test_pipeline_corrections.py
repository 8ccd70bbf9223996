"""更正日期: a development date entered wrong is corrected from the member's page, by the rules it was recorded
with; and a party member of long standing registered by hand is judged, like an imported one, from the month
of registration."""

from datetime import date

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.urls import reverse

from branches.models import Role
from compliance import engine
from compliance.models import Flag
from members import services
from members.models import CategoryChange, Member, PipelineEvent, PipelineEventKind
from tests.members.conftest import WALKTHROUGH_DAY
from tests.members.test_views import id_number

TODAY = WALKTHROUGH_DAY  # 2026-12-07


def register(tree, serial, name, **values):
    return services.register_member(
        branch=tree.a1, group=tree.g1, id_number=id_number(serial), name=name, today=TODAY, **values
    )


@pytest.fixture
def veteran(tree):
    """入党 2015, 转正 2016, registered by hand today: nothing of their development is recorded here."""
    return register(
        tree, 1, "老党员", category="full", joined_on=date(2015, 7, 1), confirmed_on=date(2016, 7, 1)
    )


@pytest.fixture
def developed(tree):
    """Developed step by step in this system: 申请 2022-01-10, 积极分子 2022-06-01, 发展对象 2023-07-01, 24 学时
    on 2023-09-01 and 政审 on 2023-10-01, 预备党员 2024-03-01, 正式党员 2025-03-01."""
    member = register(tree, 2, "新党员", category="candidate", applied_on=date(2022, 1, 10),
                      activist_on=date(2022, 6, 1), candidate_on=date(2023, 7, 1))  # fmt: skip
    services.record_pipeline_event(member=member, kind="training", happened_on=date(2023, 9, 1), hours=24,
                                   today=TODAY)  # fmt: skip
    services.record_pipeline_event(member=member, kind="political_review", happened_on=date(2023, 10, 1),
                                   today=TODAY)  # fmt: skip
    services.advance_category(member=member, category="probationary", on=date(2024, 3, 1), today=TODAY)
    services.advance_category(member=member, category="full", on=date(2025, 3, 1), today=TODAY)
    return member


def correct(member, key, on, reason="据本人档案核对，原登记有误"):
    if (
        key.startswith("event:") and not key[6:].isdigit()
    ):  # "event:training": the member's event of that kind
        key = f"event:{member.pipeline_events.get(kind=key[6:]).pk}"
    return services.correct_pipeline_date(member=member, key=key, on=on, reason=reason, today=TODAY)


def errors_of(caught):
    return {field: " ".join(messages) for field, messages in caught.value.message_dict.items()}


def test_correcting_the_joining_date_moves_the_member_and_its_category_change_together(veteran):
    correction = correct(veteran, "step:joined_on", date(2015, 6, 20), reason="据入党志愿书核对")
    assert (correction.old_on, correction.new_on, correction.changed) == (
        date(2015, 7, 1),
        date(2015, 6, 20),
        True,
    )
    veteran.refresh_from_db()
    assert veteran.joined_on == date(2015, 6, 20)
    assert CategoryChange.objects.get(member=veteran, category="probationary").changed_on == date(2015, 6, 20)
    # The member's history keeps the old date, the new one and the reason.
    latest, before = veteran.history.all()[:2]
    assert latest.history_change_reason == "更正入党时间：据入党志愿书核对"
    assert (before.joined_on, latest.joined_on) == (date(2015, 7, 1), date(2015, 6, 20))
    # No 24 学时 or 政治审查 is on record for a member who joined before this system: not asked for.
    assert not veteran.pipeline_events.exists()


@pytest.mark.parametrize(
    ("key", "on", "field", "message"),
    [
        ("step:activist_on", date(2021, 12, 1), "on", "确定为积极分子日期不能早于递交入党申请日期。"),
        (
            "step:applied_on",
            date(2022, 7, 1),
            NON_FIELD_ERRORS,
            "确定为积极分子日期不能早于递交入党申请日期。",
        ),
        ("step:applied_on", date(2026, 12, 8), "on", "递交入党申请日期不能晚于今天。"),
        (
            "step:candidate_on",
            date(2023, 5, 1),
            "on",
            "培养考察期未满一年（最早可于2023-06-01列为发展对象）。",
        ),
        (
            "step:activist_on",
            date(2022, 8, 1),
            "on",
            "培养考察期未满一年（最早可于2023-08-01列为发展对象）。",
        ),
        ("step:confirmed_on", date(2025, 2, 28), "on", "预备期至2025-03-01届满，转正时间不能早于该日。"),
        (
            "step:joined_on",
            date(2024, 6, 1),
            NON_FIELD_ERRORS,
            "预备期至2025-06-01届满，转正时间不能早于该日。",
        ),
        (
            "step:joined_on",
            date(2023, 9, 15),
            NON_FIELD_ERRORS,
            "入党（2023-09-15）前的发展对象阶段没有政治审查",
        ),
        ("step:candidate_on", date(2023, 9, 2), NON_FIELD_ERRORS, "没有集中培训不少于3天或24学时"),
        (
            "event:training",
            date(2024, 3, 2),
            "on",
            "没有集中培训不少于3天或24学时（2024-03-01前已登记0学时）",
        ),
        ("event:political_review", date(2026, 12, 8), "on", "日期不能晚于今天。"),
    ],
)
def test_a_correction_is_held_to_the_rules_the_date_was_recorded_with(developed, key, on, field, message):
    before = Member.objects.filter(pk=developed.pk).values().get()
    events = list(PipelineEvent.objects.values())
    with pytest.raises(ValidationError) as caught:
        correct(developed, key, on)
    assert message in errors_of(caught)[field]
    assert Member.objects.filter(pk=developed.pk).values().get() == before
    assert list(PipelineEvent.objects.values()) == events


def test_dates_that_keep_every_rule_are_corrected(developed):
    correct(developed, "step:candidate_on", date(2023, 6, 15))
    correct(developed, "event:training", date(2023, 8, 20))
    correct(developed, "step:joined_on", date(2024, 2, 20))
    developed.refresh_from_db()
    assert (developed.candidate_on, developed.joined_on) == (date(2023, 6, 15), date(2024, 2, 20))
    assert developed.pipeline_events.get(kind="training").happened_on == date(2023, 8, 20)
    assert set(developed.category_changes.values_list("category", "changed_on")) >= {
        ("candidate", date(2023, 6, 15)),
        ("probationary", date(2024, 2, 20)),
    }


def test_the_extended_probation_counts_against_an_earlier_conversion(tree):
    member = register(tree, 3, "延长者", category="probationary", joined_on=date(2024, 3, 1))
    services.record_pipeline_event(member=member, kind="extension", happened_on=date(2025, 2, 1), months=6,
                                   today=TODAY)  # fmt: skip
    services.advance_category(member=member, category="full", on=date(2025, 9, 1), today=TODAY)
    with pytest.raises(ValidationError) as caught:
        correct(member, "step:confirmed_on", date(2025, 6, 1))
    assert errors_of(caught)["on"] == "预备期（含延长6个月）至2025-09-01届满，转正时间不能早于该日。"
    correct(member, "step:confirmed_on", date(2025, 9, 10))
    member.refresh_from_db()
    assert member.confirmed_on == date(2025, 9, 10)


def test_a_joining_date_before_the_18th_birthday_is_refused(tree):
    young = services.register_member(
        branch=tree.a1, id_number=id_number(4, birth="20000501"), name="青年", category="full",
        joined_on=date(2019, 6, 1), confirmed_on=date(2020, 6, 1), today=TODAY,
    )  # fmt: skip
    with pytest.raises(ValidationError) as caught:
        correct(young, "step:joined_on", date(2018, 4, 30))
    assert errors_of(caught)["on"] == "入党时未满18周岁，请核对本人档案。"


def test_a_problem_already_on_file_does_not_stop_correcting_another_date(developed):
    """A roster entered before the 预备期 rule was checked holds a 转正 a month early: the 申请 date can still be
    corrected; a corrected 入党 or 转正 must meet the rule."""
    Member.objects.filter(pk=developed.pk).update(confirmed_on=date(2025, 2, 1))
    developed.refresh_from_db()
    correct(developed, "step:applied_on", date(2022, 1, 5))
    with pytest.raises(ValidationError) as caught:
        correct(developed, "step:joined_on", date(2024, 2, 20))
    assert errors_of(caught)[NON_FIELD_ERRORS] == "预备期至2025-02-20届满，转正时间不能早于该日。"
    with pytest.raises(ValidationError) as caught:
        correct(developed, "step:confirmed_on", date(2025, 2, 15))
    assert errors_of(caught)["on"] == "预备期至2025-03-01届满，转正时间不能早于该日。"
    developed.refresh_from_db()
    assert (developed.applied_on, developed.joined_on) == (date(2022, 1, 5), date(2024, 3, 1))


def test_a_step_known_only_by_its_category_change_gets_its_date_on_the_member(tree):
    """正式党员 registered without a 转正时间: the step is dated by the category change of the registration."""
    member = register(tree, 5, "缺转正", category="full", joined_on=date(2010, 7, 1))
    dates = {d.key: d.on for d in services.pipeline_dates(member)}
    assert dates == {"step:joined_on": date(2010, 7, 1), "step:confirmed_on": date(2010, 7, 1)}
    correct(member, "step:confirmed_on", date(2011, 7, 1))
    member.refresh_from_db()
    assert member.confirmed_on == date(2011, 7, 1)
    assert CategoryChange.objects.get(member=member, category="full").changed_on == date(2011, 7, 1)


def test_an_event_correction_is_kept_in_its_history(developed):
    correct(developed, "event:political_review", date(2023, 9, 20), reason="政审材料落款日期为9月20日")
    review = developed.pipeline_events.get(kind=PipelineEventKind.POLITICAL_REVIEW)
    latest, before = review.history.all()[:2]
    assert (before.happened_on, latest.happened_on) == (date(2023, 10, 1), date(2023, 9, 20))
    assert latest.history_change_reason == "更正政治审查：政审材料落款日期为9月20日"


def test_the_same_correction_sent_twice_changes_once(veteran):
    first = correct(veteran, "step:joined_on", date(2015, 6, 20))
    rows = veteran.history.count()
    second = correct(veteran, "step:joined_on", date(2015, 6, 20))
    assert first.changed and not second.changed
    assert veteran.history.count() == rows


@pytest.mark.parametrize(
    ("key", "reason", "field", "message"),
    [
        ("step:joined_on", "   ", "reason", "请填写更正原因。"),
        ("step:joined_on", "原" * 61, "reason", "更正原因最多60个字。"),
        ("event:999999", "有误", "key", "没有该日期的记录，请刷新页面后重新选择。"),
        ("step:candidate_on", "有误", "key", "没有该日期的记录"),  # the veteran has no 发展对象 date
    ],
)
def test_what_to_correct_and_why_must_be_given(veteran, key, reason, field, message):
    with pytest.raises(ValidationError) as caught:
        correct(veteran, key, date(2015, 6, 20), reason=reason)
    assert message in errors_of(caught)[field]
    veteran.refresh_from_db()
    assert veteran.joined_on == date(2015, 7, 1)


def test_a_member_off_the_roster_is_not_corrected(veteran):
    services.transfer_out(member=veteran, on=TODAY, counterpart="外县某党支部", today=TODAY)
    with pytest.raises(ValidationError, match="已不在册"):
        correct(veteran, "step:joined_on", date(2015, 6, 20))


def test_a_correction_refreshes_the_branch_flags(tree, today, django_capture_on_commit_callbacks):
    """预备党员 from 2025-10-01: the 预备期 ran out on 2026-10-01, flagged. The vote was in fact on 2026-02-01:
    once corrected, the 转正 is not due until 2027-02-01, and the flag is resolved without waiting a night."""
    with django_capture_on_commit_callbacks(execute=True):
        member = register(tree, 6, "预备", category="probationary", joined_on=date(2025, 10, 1))
    open_flags = Flag.objects.filter(member=member, rule="pipeline", resolved_on=None)
    assert any("预备期满，讨论转正（期限 2026-10-01）" in f.message for f in open_flags)
    with django_capture_on_commit_callbacks(execute=True):
        correct(member, "step:joined_on", date(2026, 2, 1))
    assert not any("预备期满" in f.message for f in open_flags.all())


# ---------------------------------------------------------------- the page


def test_the_secretary_corrects_a_date_from_the_members_page(client, personas, veteran, today):
    client.force_login(personas[Role.SECRETARY])
    page_url = reverse("members:detail", args=[veteran.pk])
    url = reverse("members:correct_date", args=[veteran.pk])
    assert f'href="{url}"' in client.get(page_url).content.decode()
    form = client.get(url).content.decode()
    assert "入党时间：2015-07-01" in form and "转正时间：2016-07-01" in form
    response = client.post(url, {"key": "step:joined_on", "on": "2015-06-20", "reason": "据入党志愿书核对"})
    assert response["Location"] == page_url
    page = client.get(page_url).content.decode()
    assert "已将入党时间由2015-07-01更正为2015-06-20。" in page
    assert "2015-06-20" in page and "更正入党时间：据入党志愿书核对" in page  # in 修改历史
    assert veteran.history.first().history_user == personas[Role.SECRETARY]


def test_bad_input_is_shown_on_the_form_and_what_was_typed_is_kept(client, personas, veteran, today):
    client.force_login(personas[Role.SECRETARY])
    url = reverse("members:correct_date", args=[veteran.pk])
    response = client.post(url, {"key": "step:confirmed_on", "on": "2016-03-01", "reason": "按批复文号核对"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "预备期至2016-07-01届满，转正时间不能早于该日。" in page and "按批复文号核对" in page
    empty = client.post(url, {"key": "", "on": "", "reason": ""}).content.decode()
    assert "请选择要更正的日期。" in empty and "请填写正确的日期。" in empty and "请填写更正原因。" in empty
    veteran.refresh_from_db()
    assert veteran.confirmed_on == date(2016, 7, 1)


def test_a_double_submit_on_the_page_corrects_once(client, personas, veteran, today):
    client.force_login(personas[Role.COMMITTEE_MEMBER])
    url = reverse("members:correct_date", args=[veteran.pk])
    data = {"key": "step:joined_on", "on": "2015-06-20", "reason": "据档案核对"}
    client.post(url, data)
    rows = veteran.history.count()
    second = client.post(url, data, follow=True).content.decode()
    assert "入党时间已是2015-06-20，未作更改。" in second
    assert veteran.history.count() == rows


def test_a_reader_is_not_offered_the_correction(client, personas, veteran, today):
    url = reverse("members:correct_date", args=[veteran.pk])
    client.force_login(personas[Role.TOWNSHIP_LEADER])
    assert url not in client.get(reverse("members:detail", args=[veteran.pk])).content.decode()
    assert client.post(url, {"key": "step:joined_on", "on": "2015-06-20", "reason": "x"}).status_code == 403
    veteran.refresh_from_db()
    assert veteran.joined_on == date(2015, 7, 1)


# ---------------------------------------------------------------- registered by hand


def test_a_party_member_registered_by_hand_is_judged_from_the_month_of_registration(tree, veteran):
    """入党 2015, registered on 7 December 2026: no twenty years of 党费 arrears, missing reports or training the
    first night; from December on they are judged like everyone, and one who pays is fine."""
    payer = register(tree, 7, "按时缴费", category="full", joined_on=date(2015, 7, 1),
                     confirmed_on=date(2016, 7, 1), dues_kind="farmer")  # fmt: skip
    assert veteran.records_from == payer.records_from == date(2026, 12, 1)

    def open_rules(member, as_of):
        engine.refresh(as_of=as_of)
        return set(Flag.objects.filter(member=member, resolved_on=None).values_list("rule", flat=True))

    assert not open_rules(veteran, TODAY) & {"dues_arrears", "thought_report"}
    # 学习培训 is owed from December only: a month's share of the 32 学时, due by the year's end.
    training = Flag.objects.get(member=veteran, rule="training_hours", resolved_on=None)
    assert (training.state, training.message.split("：", 1)[1]) == (
        "due_soon",
        "2026年度学习培训已0学时，年底前还差3学时（应3学时，按1个月折算）",
    )
    # On the branch's roster from December (the months before are not in this system): November's dues are
    # not entered here, and this month's are paid as usual.
    with pytest.raises(ValidationError, match="自2026年12月起在本系统登记（此前的党费未在本系统记录）"):
        services.record_dues_payment(member=payer, month=date(2026, 11, 1), paid_on=TODAY, today=TODAY)
    for month in (date(2026, 12, 1), date(2027, 1, 1), date(2027, 2, 1)):
        services.record_dues_payment(member=payer, month=month, paid_on=month, today=date(2027, 3, 2))
    # December, January and February unpaid by 2 March: the first step of the arrears reminder.
    assert "dues_arrears" in open_rules(veteran, date(2027, 3, 2))
    assert "dues_arrears" not in open_rules(payer, date(2027, 3, 2))


@pytest.mark.parametrize(
    "values",
    [
        # 由外单位转入: judged from the transfer date, their membership here starts then.
        {"category": "full", "joined_on": date(2001, 7, 1), "confirmed_on": date(2002, 7, 1),
         "started_on": date(2026, 4, 9), "transfer": {"counterpart": "外县某党支部"}},
        {"category": "applicant", "applied_on": date(2026, 11, 2)},
        {"category": "activist", "applied_on": date(2025, 1, 2), "activist_on": date(2025, 6, 1)},
        {"category": "probationary", "joined_on": date(2026, 12, 1)},  # joined this month: owes from now anyway
    ],
)  # fmt: skip
def test_who_is_registered_with_no_month_their_records_begin(tree, values):
    member = register(tree, 8, "新登记", **values)
    assert member.records_from is None


def test_the_members_page_says_from_when_the_system_records_them(client, personas, veteran, today):
    client.force_login(personas[Role.SECRETARY])
    page = client.get(reverse("members:detail", args=[veteran.pk])).content.decode()
    assert "本系统记录</dt>" in page and "自2026年12月起" in page
    assert "此前的党费、思想汇报、学习培训未在本系统记录，不据以提醒。" in page
    assert "本系统自2026年12月起记录：此前的党费未在本系统登记，可以补录，但不计欠缴提醒。" in page
