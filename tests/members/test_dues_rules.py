"""When dues begin, what a dues entry may say, and how the member and monthly pages show it (walkthrough
of 2026-12-07: months before joining shown as 未缴, a 缴纳日期 two years early accepted, an empty bulk
entry reported as a success)."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from branches.models import Role
from compliance import engine
from compliance.models import Flag
from members import dues, selectors, services
from members.models import DuesPayment
from tests.conftest import make_member
from tests.members.conftest import WALKTHROUGH_DAY
from tests.members.test_views import id_number

TODAY = WALKTHROUGH_DAY


@pytest.fixture
def newcomer(tree):
    """Like 徐秀 of the demo: on the roster since 2024 as an activist, 预备党员 from 2026-07-15."""
    return make_member(tree.a1, None, id_number(40), name="徐秀", category="probationary",
                       applied_on=date(2023, 5, 1), activist_on=date(2024, 1, 27), candidate_on=date(2025, 9, 1),
                       joined_on=date(2026, 7, 15), dues_kind="farmer")  # fmt: skip


@pytest.fixture
def veteran(tree):
    return make_member(tree.a1, None, id_number(41), name="张伟", dues_kind="farmer")


def test_dues_begin_where_the_arrears_reminder_begins(tree, newcomer):
    """One notion: the engine's dues.owed_from(joined_on, first day on a roster here)."""
    assert selectors.dues_start(newcomer) == (date(2026, 7, 1), "入党前无需缴纳")
    transferred = services.register_member(
        branch=tree.a1, id_number=id_number(42), name="转入者", category="full", joined_on=date(2001, 7, 1),
        confirmed_on=date(2002, 7, 1), started_on=date(2026, 4, 9), transfer={"counterpart": "外县某党支部"},
        today=TODAY,
    )  # fmt: skip
    assert selectors.dues_start(transferred) == (date(2026, 4, 1), "转入本支部前无需在此缴纳")
    # The annotated read of the monthly page agrees with the member's own.
    annotated = {m.pk: m for m in selectors.dues_payers(tree.a1)}
    assert selectors.dues_start(annotated[transferred.pk])[0] == date(2026, 4, 1)
    # The engine's reminder (3 months unpaid) counts from the same month: April and May are 2, not 3 or more.
    arrears = Flag.objects.filter(rule="dues_arrears", member=transferred, resolved_on=None)
    engine.refresh(as_of=date(2026, 6, 2))
    assert not arrears.exists()
    engine.refresh(as_of=date(2026, 7, 1))  # April..June
    assert arrears.exists()


def test_the_member_page_shows_months_before_joining_as_not_owed(client, personas, newcomer, today):
    client.force_login(personas[Role.SECRETARY])
    page = client.get(reverse("members:detail", args=[newcomer.pk])).content.decode()
    assert 'title="入党前无需缴纳">26.06 —</span>' in page
    assert "26.01 未缴" not in page and "26.06 未缴" not in page
    assert "26.07 未缴" in page and "26.12 未缴" in page
    assert "“—”：入党前无需缴纳。" in page
    assert "本系统暂无该党员的党费缴纳记录（自2026年7月起应缴）。" in page  # counted from July, as before


def test_the_monthly_page_lists_and_counts_only_those_who_owed(
    client, personas, tree, newcomer, veteran, today
):
    DuesPayment.objects.create(member=veteran, month=date(2026, 1, 1), amount=1, paid_on=date(2026, 1, 20))
    client.force_login(personas[Role.SECRETARY])
    url = reverse("members:dues_month", args=[tree.a1.pk])
    page = client.get(url, {"month": "2026-01"}).content.decode()
    assert "2026年01月：已缴 1 / 1 人，合计 1.00 元。" in page
    assert "徐秀" not in page
    assert "另有 1 人当月尚未开始缴纳党费（入党或转入本支部在此之后），不列入本月。" in page
    page = client.get(url, {"month": "2026-08"}).content.decode()
    assert "2026年08月：已缴 0 / 2 人" in page and "徐秀" in page and "另有" not in page


def test_a_month_before_anyone_owed_says_so(client, personas, tree, newcomer, today):
    client.force_login(personas[Role.SECRETARY])
    page = client.get(reverse("members:dues_month", args=[tree.a1.pk]), {"month": "2019-01"}).content.decode()
    assert "2019年01月本支部在册党员均尚未开始缴纳党费，本月无需收缴。" in page
    assert "已缴 0 / 0 人" not in page and "已缴</button>" not in page


# ---------------------------------------------------------------- 登记党费


def test_a_month_before_joining_is_refused_on_its_field_and_the_form_keeps_the_input(
    client, personas, newcomer, today
):
    client.force_login(personas[Role.SECRETARY])
    url = reverse("members:action", args=[newcomer.pk, "dues"])
    response = client.post(url, {"month": "2026-02", "paid_on": "2026-12-01", "amount": "0.50"})
    assert response.status_code == 200
    assert response.context["form"].errors["month"] == [
        "徐秀的党费自2026年7月起缴纳（入党前无需缴纳），2026年2月无需缴纳。"
    ]
    page = response.content.decode()
    assert 'value="2026-02"' in page and 'value="0.50"' in page
    assert not DuesPayment.objects.exists()


@pytest.mark.parametrize(
    ("who", "paid_on", "message"),
    [
        ("veteran", "2025-01-01", "缴纳日期早于所属月份12个月以上：2026年12月的党费最早可于2025-12-01预缴，请核对缴纳日期或所属月份。"),
        ("veteran", "2026-12-08", "缴纳日期不能晚于今天。"),
        ("newcomer", "2025-01-01", "缴纳日期不能早于入党日期（2026-07-15）。"),
    ],
)  # fmt: skip
def test_an_unbelievable_payment_date_is_refused_on_its_field(client, personas, request, today, who, paid_on,
                                                              message):  # fmt: skip
    member = request.getfixturevalue(who)
    client.force_login(personas[Role.SECRETARY])
    url = reverse("members:action", args=[member.pk, "dues"])
    response = client.post(url, {"month": "2026-12", "paid_on": paid_on})
    assert response.context["form"].errors["paid_on"] == [message]
    assert f'value="{paid_on}"' in response.content.decode()
    assert not DuesPayment.objects.exists()


def test_prepayment_up_to_a_year_and_back_payment_are_accepted(veteran):
    for month, paid_on in ((date(2026, 12, 1), date(2025, 12, 1)), (date(2026, 1, 1), date(2026, 12, 7))):
        services.record_dues_payment(member=veteran, month=month, paid_on=paid_on, amount=1, today=TODAY)
    assert DuesPayment.objects.count() == 2
    with pytest.raises(ValidationError) as refused:
        services.record_dues_payment(
            member=veteran, month=date(2026, 11, 1), paid_on=date(2025, 10, 31), amount=1, today=TODAY
        )
    assert "最早可于2025-11-01预缴" in refused.value.message_dict["paid_on"][0]


def test_the_bulk_entry_applies_the_same_rule_to_each_member_and_names_who_was_refused(
    client, personas, tree, newcomer, veteran, today
):
    client.force_login(personas[Role.SECRETARY])
    url = reverse("members:dues_month", args=[tree.a1.pk])
    # 徐秀 is not listed for January: a stale page or an edited post still must not record her.
    response = client.post(url, {"month": "2026-01", "member": [newcomer.pk, veteran.pk]}, follow=True)
    shown = [str(m) for m in response.context["messages"]]
    assert shown == [
        "已登记 1 人2026年01月党费。",
        "徐秀未登记：徐秀的党费自2026年7月起缴纳（入党前无需缴纳），2026年1月无需缴纳。",
    ]
    assert list(DuesPayment.objects.values_list("member__name", "month")) == [("张伟", date(2026, 1, 1))]


def test_the_bulk_entry_with_no_one_ticked_asks_for_someone_and_saves_nothing(
    client, personas, tree, veteran, today
):
    client.force_login(personas[Role.SECRETARY])
    url = reverse("members:dues_month", args=[tree.a1.pk])
    response = client.post(url, {"month": "2026-12"}, follow=True)
    messages = [(m.level_tag, str(m)) for m in response.context["messages"]]
    assert messages == [("error", "请至少勾选一名党员。")]
    assert "已登记 0 人" not in response.content.decode()
    assert not DuesPayment.objects.exists()


def test_a_second_tap_of_the_bulk_entry_is_not_reported_as_zero_recorded(
    client, personas, tree, veteran, today
):
    client.force_login(personas[Role.SECRETARY])
    url = reverse("members:dues_month", args=[tree.a1.pk])
    client.post(url, {"month": "2026-12", "member": [veteran.pk]}, follow=True)
    response = client.post(url, {"month": "2026-12", "member": [veteran.pk]}, follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "所选人员2026年12月的党费此前均已登记，未重复登记。"
    ]
    assert DuesPayment.objects.count() == 1


def test_the_monthly_page_reads_a_constant_number_of_queries(client, personas, tree, today):
    """Whether each member had begun to owe is read with the roster, not member by member."""
    client.force_login(personas[Role.SECRETARY])
    url = reverse("members:dues_month", args=[tree.a1.pk])
    make_member(tree.a1, None, id_number(50), name="甲", dues_kind="farmer")
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for i in range(51, 66):
        make_member(tree.a1, None, id_number(i), name=f"乙{i}", category="probationary",
                    joined_on=date(2026, i % 12 + 1, 3), dues_kind="farmer")  # fmt: skip
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(many) == len(few)


def test_not_owed_reason_and_owes_are_pure():
    assert dues.not_owed_reason(date(2026, 7, 15), date(2024, 1, 27)) == "入党前无需缴纳"
    assert dues.not_owed_reason(date(2001, 7, 1), date(2026, 4, 9)) == "转入本支部前无需在此缴纳"
    assert dues.owes(date(2026, 6, 1), None) and not dues.owes(date(2026, 6, 1), date(2026, 7, 1))
    assert dues.months_before(date(2026, 1, 1), 12) == date(2025, 1, 1)
    assert dues.paid_on_problem(date(2025, 12, 1), month=date(2026, 12, 1), today=TODAY) is None
    assert dues.months_before(date(1, 12, 1), 12) == date.min  # a typed year 1 is refused, not a crash
    assert dues.months_before(date(2, 1, 1), 12) == date(1, 1, 1)
