"""Party dues (党费规定 第二、五、六、十二条): monthly amounts by bracket, and unpaid months."""

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

EMPLOYED = "employed"
RETIREE = "retiree"
FARMER = "farmer"
STUDENT = "student"
UNEMPLOYED = "unemployed"
LOW_INCOME = "low_income"
DUES_KIND_LABELS = {
    EMPLOYED: "在职",
    RETIREE: "离退休",
    FARMER: "农民",
    STUDENT: "学生",
    UNEMPLOYED: "下岗失业",
    LOW_INCOME: "低保",
}
BACKPAY_LIMIT_MONTHS = 6
FLAT_AMOUNT = Decimal("0.20")
FARMER_RANGE = (Decimal("0.20"), Decimal("1.00"))
CENT = Decimal("0.01")

# (upper bound of the monthly base, rate); the last bound is open.
EMPLOYED_BRACKETS = (
    (Decimal(3000), Decimal("0.005")),
    (Decimal(5000), Decimal("0.01")),
    (Decimal(10000), Decimal("0.015")),
    (None, Decimal("0.02")),
)
RETIREE_BRACKETS = ((Decimal(5000), Decimal("0.005")), (None, Decimal("0.01")))


def _rate(brackets, base):
    for bound, rate in brackets:
        if bound is None or base <= bound:
            return rate
    raise AssertionError("brackets end with an open bound")


def monthly_dues(*, kind, base):
    if kind in (STUDENT, UNEMPLOYED, LOW_INCOME):
        return FLAT_AMOUNT
    if kind == FARMER:
        amount = FLAT_AMOUNT if base is None else Decimal(base)
        if not FARMER_RANGE[0] <= amount <= FARMER_RANGE[1]:
            raise ValueError("农民党员每月缴纳党费0.2元至1元。")
        return amount.quantize(CENT, rounding=ROUND_HALF_UP)
    if kind not in (EMPLOYED, RETIREE):
        raise ValueError("党费类别不正确。")
    if base is None:
        raise ValueError("请填写党费基数（税后月收入或离退休费）。")
    base = Decimal(base)
    if base < 0:
        raise ValueError("党费基数不能为负数。")
    brackets = EMPLOYED_BRACKETS if kind == EMPLOYED else RETIREE_BRACKETS
    return (base * _rate(brackets, base)).quantize(CENT, rounding=ROUND_HALF_UP)


def month_start(d):
    return d.replace(day=1)


def next_month(month):
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def months_between(start, end):
    months = []
    current = month_start(start)
    last = month_start(end)
    while current <= last:
        months.append(current)
        current = next_month(current)
    return months


def month_count(first, last):
    """How many months from first to last, both included: len(months_between(first, last)) in O(1)."""
    return max(0, (last.year - first.year) * 12 + last.month - first.month + 1)


def unpaid_months(paid, *, start, end):
    return [m for m in months_between(start, end) if m not in paid]


# An unpaid run stays in arrears until its months are paid (补交), while a back-payment can still make it
# good: for 6 months after its last month (第十二条: 补交 normally covers at most 6 months). An older run,
# never made good, was the branch's to settle when it was flagged.
ARREARS_LOOKBACK_MONTHS = BACKPAY_LIMIT_MONTHS


def lookback_from(last_month):
    """The first month of the arrears look-back that ends with last_month: a run of unpaid months counts if
    it ended in the look-back (`arrears_run`'s ended_from)."""
    index = last_month.year * 12 + last_month.month - ARREARS_LOOKBACK_MONTHS
    return date(index // 12, index % 12 + 1, 1)


def owed_from(joined_on, listed_on):
    """The first month whose dues are this branch's to collect: from joining, or from the day the member
    came onto a roster here (one transferred in paid the earlier months elsewhere); None if neither is known."""
    days = [day for day in (joined_on, listed_on) if day]
    return month_start(max(days)) if days else None


NOT_OWED_BEFORE_JOINING = "入党前无需缴纳"
NOT_OWED_BEFORE_LISTED = "转入本支部前无需在此缴纳"
NOT_OWED_BEFORE_RECORDS = "此前的党费未在本系统记录"


def not_owed_reason(joined_on, listed_on, records_from=None):
    """Why the months before `owed_from` are not owed here: the member had not yet joined the party, or
    (joined earlier) was not yet on a roster here and paid elsewhere, or was on it only from the month their
    records here began (records_from: imported, or registered by hand, then)."""
    if joined_on and (listed_on is None or month_start(joined_on) >= month_start(listed_on)):
        return NOT_OWED_BEFORE_JOINING
    if records_from and month_start(records_from) == month_start(listed_on):
        return NOT_OWED_BEFORE_RECORDS
    return NOT_OWED_BEFORE_LISTED


def owes(month, start):
    """Whether `month` is owed, given the first month owed (`owed_from`); owed when that is not known, as
    the compliance engine counts it."""
    return start is None or month >= start


# 预缴: paying up to a year ahead (the whole year at January's 主题党日) is common; a 缴纳日期 further
# before the month is nearly always a mistyped year.
PREPAY_LIMIT_MONTHS = 12


def months_before(month, count):
    """The first day of the month `count` months before `month`; date.min when that is before year 1."""
    index = month.year * 12 + month.month - 1 - count
    return date(index // 12, index % 12 + 1, 1) if index >= 12 else date.min


def month_label(month):
    return f"{month.year}年{month.month}月"


def future_month_problem(month, *, today):
    """Why `month` (a first day) cannot be entered yet, or None: a month after the current one.

    RULES.md (党费) allows back-payment (补交, normally at most 6 months) and says nothing of paying for a
    month to come; what the README calls 预缴 is a 缴纳日期 before the month paid for (paid_on_problem,
    up to a year early), entered once that month has come. So every dues entry (one member's, the monthly
    page's, a range of months) refuses a later month alike, whatever the amount: the member's page shows
    the months up to this one, and a payment of a month to come could be neither seen nor voided there."""
    this_month = month_start(today)
    if month <= this_month:
        return None
    return f"不能登记{month_label(this_month)}以后的党费（预交党费请在当月登记）。"


# 补交 of several months in one entry: at most a year, the months the member's page shows (so each month
# entered can be checked and voided there); a longer range is nearly always a mistyped year.
RANGE_LIMIT_MONTHS = 12


def range_problem(first, last):
    """Why the months first..last (first days) cannot be entered in one go, or None."""
    if last < first:
        return "结束月份不能早于起始月份。"
    if month_count(first, last) > RANGE_LIMIT_MONTHS:
        return f"一次最多登记{RANGE_LIMIT_MONTHS}个月的党费，请分次登记。"
    return None


def latest_months(first, last, count=RANGE_LIMIT_MONTHS):
    """The last `count` months of first..last, as (first, last): what one entry may cover of a longer run."""
    return max(first, months_before(last, count - 1)), last


def paid_on_problem(paid_on, *, month, today, joined_on=None):
    """Why a 缴纳日期 is not believable for the dues of `month` (a first day), or None.

    It may not be after today (a payment is recorded once made), nor before the member joined the party,
    nor before the first day of the month PREPAY_LIMIT_MONTHS months before `month` (预缴 of up to a year
    ahead: for December 2026, 2025-12-01 at the earliest). A date after the month is a back-payment (补交),
    however late: the arrears reminder asks for exactly that."""
    if paid_on > today:
        return "缴纳日期不能晚于今天。"
    earliest = months_before(month, PREPAY_LIMIT_MONTHS)
    if joined_on and joined_on >= earliest and paid_on < joined_on:  # the later bound is the one to name
        return f"缴纳日期不能早于入党日期（{joined_on:%Y-%m-%d}）。"
    if paid_on < earliest:
        return (
            f"缴纳日期早于所属月份{PREPAY_LIMIT_MONTHS}个月以上：{month.year}年{month.month}月的党费"
            f"最早可于{earliest:%Y-%m-%d}预缴，请核对缴纳日期或所属月份。"
        )
    return None


def arrears_run(paid, *, start, end, ended_from=None):
    """(first month, number of months) of the longest run of months from start to end (both included)
    with no payment, among the runs ending on or after ended_from (default: start); the latest of
    equals; (None, 0) if none. A later payment does not end an earlier run: only paying its months does."""
    best, first, count = (None, 0), None, 0
    for month in [*months_between(start, end), None]:
        if month is not None and month not in paid:
            first, count = first or month, count + 1
            continue
        ended_on = _previous_month(month) if month is not None else month_start(end)
        if count and count >= best[1] and (ended_from is None or ended_on >= ended_from):
            best = (first, count)
        first, count = None, 0
    return best


def _previous_month(month):
    return (month - timedelta(days=1)).replace(day=1)


def backpay_months(paid, *, start, end):
    return unpaid_months(paid, start=start, end=end)[-BACKPAY_LIMIT_MONTHS:]
