"""The development pipeline (发展党员工作细则): categories in order, allowed steps and deadlines."""

import calendar
from dataclasses import dataclass
from datetime import date

APPLICANT = "applicant"
ACTIVIST = "activist"
CANDIDATE = "candidate"
PROBATIONARY = "probationary"
FULL = "full"
CATEGORY_LABELS = {
    APPLICANT: "入党申请人",
    ACTIVIST: "入党积极分子",
    CANDIDATE: "发展对象",
    PROBATIONARY: "预备党员",
    FULL: "正式党员",
}
ORDER = list(CATEGORY_LABELS)


class PipelineError(ValueError):
    pass


CANDIDATE_TRAINING_HOURS = 24  # 发展对象的短期集中培训: 不少于3天或24学时 (发展党员工作细则 第十七条)


def check_transition(current, new):
    """One step forward at a time; any category when a person is first registered (current None)."""
    if new not in CATEGORY_LABELS:
        raise PipelineError("人员类别不正确。")
    if current is None:
        return
    step = ORDER.index(new) - ORDER.index(current)
    if step == 1:
        return
    if step <= 0:
        raise PipelineError(f"不能由{CATEGORY_LABELS[current]}退回为{CATEGORY_LABELS[new]}。")
    raise PipelineError(f"不能从{CATEGORY_LABELS[current]}直接变为{CATEGORY_LABELS[new]}，须依次经过各阶段。")


def add_months(d, n):
    month_index = d.year * 12 + d.month - 1 + n
    year, month = divmod(month_index, 12)
    month += 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def talk_due_on(applied_on):
    return add_months(applied_on, 1)


def earliest_candidate_on(activist_on):
    return add_months(activist_on, 12)


def approval_due_on(voted_on, special=False):
    return add_months(voted_on, 6 if special else 3)


def probation_ends_on(joined_on, extension_months=0):
    """The 预备期 is counted from the 支部大会 vote that made the member probationary (入党时间 on
    rosters, where 转正 falls exactly a year later), plus any extension."""
    return add_months(joined_on, 12 + extension_months)


def check_extension(months, previous_extensions):
    if previous_extensions:
        raise PipelineError("预备期只能延长一次。")
    if not 6 <= months <= 12:
        raise PipelineError("预备期延长时间为六个月至一年。")


def check_candidate_date(activist_on, candidate_on):
    earliest = earliest_candidate_on(activist_on)
    if candidate_on < earliest:
        raise PipelineError(f"培养考察期未满一年（最早可于{earliest:%Y-%m-%d}列为发展对象）。")


@dataclass(frozen=True)
class Deadline:
    code: str
    label: str
    due_on: date
    met_on: date | None = None

    @property
    def is_met(self):
        return self.met_on is not None


def deadlines(
    *,
    category,
    applied_on=None,
    talked_on=None,
    activist_on=None,
    voted_on=None,
    approved_on=None,
    joined_on=None,
    extension_months=0,
    confirmed_on=None,
):
    result = []
    if category == APPLICANT and applied_on:
        result.append(Deadline("talk", "申请后一个月内谈话", talk_due_on(applied_on), talked_on))
    if category == ACTIVIST and activist_on:
        result.append(
            Deadline("activist_year", "培养满一年，可列为发展对象", earliest_candidate_on(activist_on))
        )
    if category == PROBATIONARY and joined_on:
        result.append(
            Deadline("approval", "上级党委三个月内审批", approval_due_on(voted_on or joined_on), approved_on)
        )
        result.append(
            Deadline(
                "probation_end",
                "预备期满，讨论转正",
                probation_ends_on(joined_on, extension_months),
                confirmed_on,
            )
        )
    return result
