"""Dues of months to come, and 补交 of several months in one entry (walkthrough of 2026-12-07: 2027-02 offered
on the monthly page then refused with the wrong month, accepted on the member's page when an amount was typed
and then nowhere to be seen or voided; seven 登记党费 forms to catch up seven months)."""

import re
from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from branches.models import Role
from members import dues, services
from members.models import DuesPayment
from tests.conftest import make_member
from tests.members.conftest import WALKTHROUGH_DAY
from tests.members.test_views import id_number

TODAY = WALKTHROUGH_DAY
FUTURE = "不能登记2026年12月以后的党费（预交党费请在当月登记）。"


@pytest.fixture
def payer(tree):
    """入党 2005, 36 元 a month, paid January to April 2026 and nothing since: May..November unpaid."""
    member = make_member(tree.a1, None, id_number(80), name="张伟", dues_kind="employed", dues_base=3600)
    for month in range(1, 5):
        DuesPayment.objects.create(
            member=member, month=date(2026, month, 1), amount=Decimal(36), paid_on=date(2026, month, 20)
        )
    return member


@pytest.fixture
def newcomer(tree):
    return make_member(tree.a1, None, id_number(81), name="徐秀", category="probationary",
                       joined_on=date(2026, 7, 15), dues_kind="farmer")  # fmt: skip


@pytest.fixture
def secretary(client, personas):
    client.force_login(personas[Role.SECRETARY])
    return client


def dues_url(member):
    return reverse("members:action", args=[member.pk, "dues"])


def months_paid(member):
    return list(
        DuesPayment.objects.filter(member=member, voided_at__isnull=True)
        .order_by("month")
        .values_list("month", "amount", "paid_on")
    )


def shown(response):
    return [str(m) for m in response.context["messages"]]


# ---------------------------------------------------------------- a month to come


@pytest.mark.parametrize("amount", ["", "18"])
def test_a_month_to_come_is_refused_on_the_member_page_with_or_without_an_amount(secretary, payer, today,
                                                                                  amount):  # fmt: skip
    before = months_paid(payer)
    response = secretary.post(
        dues_url(payer), {"month": "2027-02", "paid_on": "2026-12-07", "amount": amount}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["month"] == [FUTURE]
    assert 'value="2027-02"' in response.content.decode()  # the input is kept
    assert months_paid(payer) == before


def test_this_month_is_still_accepted_and_shown_with_its_void_link(secretary, payer, today):
    response = secretary.post(dues_url(payer), {"month": "2026-12", "paid_on": "2026-12-07", "amount": "18"})
    assert response.status_code == 302
    payment = DuesPayment.objects.get(member=payer, month=date(2026, 12, 1))
    page = secretary.get(reverse("members:detail", args=[payer.pk])).content.decode()
    assert f'href="{reverse("members:void", args=[payer.pk, "dues", payment.pk])}"' in page


def test_the_service_refuses_a_month_to_come_whatever_the_amount(payer):
    with pytest.raises(ValidationError) as refused:
        services.record_dues_payment(
            member=payer, month=date(2027, 2, 1), paid_on=TODAY, amount=Decimal(18), today=TODAY
        )
    assert refused.value.message_dict["month"] == [FUTURE]
    # 预缴: a 缴纳日期 before the month is entered once the month has come.
    services.record_dues_payment(member=payer, month=date(2027, 2, 1), paid_on=TODAY, today=date(2027, 2, 3))
    assert DuesPayment.objects.filter(member=payer, month=date(2027, 2, 1), paid_on=TODAY).exists()


def test_the_member_form_offers_no_month_to_come(secretary, payer, today):
    page = secretary.get(dues_url(payer)).content.decode()
    assert re.search(r'<input type="month" name="month"[^>]*max="2026-12"', page)
    assert re.search(r'<input type="month" name="until"[^>]*max="2026-12"', page)


def test_the_monthly_page_offers_no_month_to_come(secretary, tree, payer, today):
    url = reverse("members:dues_month", args=[tree.a1.pk])
    page = secretary.get(url).content.decode()
    assert 'name="month" value="2026-12" max="2026-12"' in page
    assert "所选人员2026年12月已缴</button>" in page
    page = secretary.get(url, {"month": "2027-02"}).content.decode()
    assert FUTURE in page
    assert "已缴</button>" not in page and 'name="member"' not in page
    assert "张伟" in page  # who will owe it is still listed


def test_the_monthly_page_refuses_a_month_to_come_once_with_the_right_month(secretary, tree, payer, today):
    url = reverse("members:dues_month", args=[tree.a1.pk])
    response = secretary.post(url, {"month": "2027-02", "member": [payer.pk]}, follow=True)
    assert shown(response) == [FUTURE]
    assert not DuesPayment.objects.filter(month__gt=date(2026, 12, 1)).exists()


# ---------------------------------------------------------------- 补交 of several months


def test_the_arrears_message_links_to_the_form_with_the_run_filled_in(secretary, payer, today):
    page = secretary.get(reverse("members:detail", args=[payer.pk])).content.decode()
    assert "2026年5月至2026年11月连续 7 个月未缴纳党费，请补交。" in page
    link = f"{dues_url(payer)}?month=2026-05&amp;until=2026-11"
    assert f'href="{link}">登记补交</a>' in page
    form = secretary.get(link.replace("&amp;", "&")).content.decode()
    assert re.search(r'name="month" value="2026-05"', form) and re.search(
        r'name="until" value="2026-11"', form
    )


def test_a_reader_is_told_of_the_arrears_without_the_link(client, personas, payer, today):
    client.force_login(personas[Role.TOWNSHIP_LEADER])
    page = client.get(reverse("members:detail", args=[payer.pk])).content.decode()
    assert "连续 7 个月未缴纳党费，请补交。" in page and "登记补交" not in page


def test_the_link_fills_in_the_latest_year_of_a_longer_run(secretary, tree, today):
    long_unpaid = make_member(tree.a1, None, id_number(82), name="李兰", dues_kind="farmer")
    DuesPayment.objects.create(
        member=long_unpaid, month=date(2026, 11, 1), amount=1, paid_on=date(2026, 11, 5)
    )
    page = secretary.get(reverse("members:detail", args=[long_unpaid.pk])).content.decode()
    assert "2005年7月至2026年10月连续 256 个月未缴纳党费" in page
    assert f"{dues_url(long_unpaid)}?month=2025-11&amp;until=2026-10" in page


def test_one_entry_records_each_month_of_the_range_at_the_monthly_amount(secretary, payer, today):
    response = secretary.post(
        dues_url(payer), {"month": "2026-05", "until": "2026-11", "paid_on": "2026-12-07"}, follow=True
    )
    assert shown(response) == ["登记党费：已登记2026年5月至2026年11月党费，共7个月，合计252.00元。"]
    recorded = months_paid(payer)[4:]
    assert recorded == [(date(2026, m, 1), Decimal("36.00"), TODAY) for m in range(5, 12)]
    page = response.content.decode()
    assert "未缴纳党费" not in page and "26.05 已缴" in page and "26.11 已缴" in page


def test_a_typed_amount_is_each_months_amount(secretary, payer, today):
    secretary.post(
        dues_url(payer), {"month": "2026-05", "until": "2026-07", "paid_on": "2026-12-07", "amount": "40"}
    )
    assert [amount for _m, amount, _p in months_paid(payer)[4:]] == [Decimal(40)] * 3


def test_a_month_already_paid_is_skipped_and_named_not_paid_twice(secretary, payer, today):
    DuesPayment.objects.create(
        member=payer, month=date(2026, 8, 1), amount=Decimal(30), paid_on=date(2026, 8, 9)
    )
    response = secretary.post(
        dues_url(payer), {"month": "2026-05", "until": "2026-11", "paid_on": "2026-12-07"}, follow=True
    )
    assert shown(response) == [
        "登记党费：已登记2026年5月至2026年11月党费，共6个月，合计216.00元。2026年8月此前已登记，未重复登记。"
    ]
    assert DuesPayment.objects.filter(member=payer, month__gte=date(2026, 5, 1)).count() == 7
    assert DuesPayment.objects.get(member=payer, month=date(2026, 8, 1)).amount == Decimal(30)  # kept as paid


def test_a_range_posted_twice_is_recorded_once(secretary, payer, today):
    data = {"month": "2026-05", "until": "2026-11", "paid_on": "2026-12-07"}
    assert secretary.post(dues_url(payer), data).status_code == 302
    again = secretary.post(dues_url(payer), data)
    assert again.status_code == 200
    assert "张伟2026年5月至2026年11月的党费此前均已登记，未重复登记。" in again.content.decode()
    assert DuesPayment.objects.filter(member=payer).count() == 4 + 7


def test_a_month_not_owed_refuses_the_range_with_its_reason_and_records_none(secretary, newcomer, today):
    response = secretary.post(
        dues_url(newcomer), {"month": "2026-05", "until": "2026-09", "paid_on": "2026-12-07", "amount": "0.5"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["month"] == [
        "徐秀的党费自2026年7月起缴纳（入党前无需缴纳），2026年5月无需缴纳。"
    ]
    page = response.content.decode()
    assert 'value="2026-05"' in page and 'value="2026-09"' in page and 'value="0.5"' in page
    assert not DuesPayment.objects.exists()  # July..September were owed, but a range is all or none


def test_a_range_reaching_a_month_to_come_is_refused_on_its_end(secretary, payer, today):
    response = secretary.post(
        dues_url(payer), {"month": "2026-10", "until": "2027-01", "paid_on": "2026-12-07"}
    )
    assert response.context["form"].errors["until"] == [FUTURE]
    assert DuesPayment.objects.filter(member=payer).count() == 4


def test_each_month_of_the_range_is_checked_against_the_payment_date(secretary, payer, today):
    """A 缴纳日期 may be at most a year before the month paid for: fine for May, not for July."""
    response = secretary.post(
        dues_url(payer), {"month": "2026-05", "until": "2026-07", "paid_on": "2025-06-01"}
    )
    assert response.context["form"].errors["paid_on"] == [
        "缴纳日期早于所属月份12个月以上：2026年7月的党费最早可于2025-07-01预缴，请核对缴纳日期或所属月份。"
    ]
    assert DuesPayment.objects.filter(member=payer).count() == 4


@pytest.mark.parametrize(
    ("until", "message"),
    [("2026-04", "结束月份不能早于起始月份。"), ("2026-12", "一次最多登记12个月的党费，请分次登记。")],
)
def test_a_backward_or_overlong_range_is_refused_on_its_end(secretary, payer, today, until, message):
    start = "2026-05" if until == "2026-04" else "2025-12"
    response = secretary.post(dues_url(payer), {"month": start, "until": until, "paid_on": "2026-12-07"})
    assert response.context["form"].errors["until"] == [message]
    assert DuesPayment.objects.filter(member=payer).count() == 4


def test_the_range_service_is_keyword_only_and_returns_what_it_skipped(payer):
    with pytest.raises(TypeError):
        services.record_dues_range(payer, date(2026, 5, 1), date(2026, 6, 1), TODAY)
    created, already = services.record_dues_range(
        member=payer, month=date(2026, 3, 1), until=date(2026, 6, 1), paid_on=TODAY, today=TODAY
    )
    assert [p.month for p in created] == [date(2026, 5, 1), date(2026, 6, 1)]
    assert already == [date(2026, 3, 1), date(2026, 4, 1)]


def test_range_and_future_rules_are_pure():
    assert dues.future_month_problem(date(2026, 12, 1), today=TODAY) is None
    assert dues.future_month_problem(date(2027, 1, 1), today=TODAY) == FUTURE
    assert dues.range_problem(date(2026, 1, 1), date(2026, 12, 1)) is None
    assert dues.latest_months(date(2026, 5, 1), date(2026, 11, 1)) == (date(2026, 5, 1), date(2026, 11, 1))
    assert dues.latest_months(date(2005, 7, 1), date(2026, 10, 1)) == (date(2025, 11, 1), date(2026, 10, 1))
