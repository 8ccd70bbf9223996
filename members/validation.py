"""Checks of a member's facts that need no database: used by the forms, the services and the roster import.

Each check returns {field: Chinese message}; an empty dict means the facts hold together.
"""

from dataclasses import dataclass
from datetime import date

from . import idcard, pipeline
from .normalise import normalise_phone

ADULT_AGE = 18

# The pipeline dates in the order they must happen, with the Chinese names used in messages.
DATE_ORDER = [
    ("applied_on", "递交入党申请日期"),
    ("activist_on", "确定为积极分子日期"),
    ("candidate_on", "确定为发展对象日期"),
    ("joined_on", "入党时间"),
    ("confirmed_on", "转正时间"),
]


@dataclass
class MemberFacts:
    name: str
    id_number: str
    category: str
    gender: str | None = None
    birth_on: date | None = None
    phone: str = ""
    applied_on: date | None = None
    activist_on: date | None = None
    candidate_on: date | None = None
    joined_on: date | None = None
    confirmed_on: date | None = None
    # Months of a recorded 延长预备期 (a PipelineEvent): the 预备期 ends that much later.
    extension_months: int = 0


def check_member(facts: MemberFacts, *, today: date) -> tuple[dict, dict, dict]:
    """Validate and complete the facts. Returns (cleaned values, errors by field, warnings by field).

    Warnings are facts worth a second look that a roster may still legitimately hold: a
    historical 入党时间 before the 18th birthday is in the member's file and is recorded as it
    is (with a warning), while a new development step at that age is refused (see services).
    """
    errors, cleaned = {}, {}
    name = (facts.name or "").strip()
    if not name:
        errors["name"] = "请填写姓名。"
    elif len(name) > 50:
        errors["name"] = "姓名过长（最多50个字）。"
    cleaned["name"] = name

    try:
        info = idcard.parse_id_number(facts.id_number, today=today)
    except idcard.InvalidIdNumber as error:
        errors["id_number"] = str(error)
        info = None
    else:
        cleaned.update(id_number=info.number, birth_on=info.birth_on, gender=info.gender)
        if facts.gender and facts.gender != info.gender:
            errors["gender"] = "性别与身份证号不符。"
        if facts.birth_on and facts.birth_on != info.birth_on:
            errors["birth_on"] = f"出生日期与身份证号不符（身份证号为 {info.birth_on:%Y-%m-%d}）。"

    try:
        cleaned["phone"] = normalise_phone(facts.phone)
    except ValueError as error:
        errors["phone"] = str(error)

    if facts.category not in pipeline.CATEGORY_LABELS:
        errors["category"] = "人员类别不正确。"
    birth_on = info.birth_on if info else None
    errors.update(_check_dates(facts, today=today, birth_on=birth_on))
    warnings = {}
    if facts.joined_on and birth_on and idcard.age_on(birth_on, facts.joined_on) < ADULT_AGE:
        warnings["joined_on"] = "入党时未满18周岁，请核对本人档案。"
    return cleaned, errors, warnings


def probation_problem(joined_on, confirmed_on, extension_months=0):
    """转正 before the 预备期 (a year from 入党, plus a recorded extension) has run out, in Chinese; else ""."""
    ends_on = pipeline.probation_ends_on(joined_on, extension_months or 0)
    if confirmed_on >= ends_on:
        return ""
    extended = f"（含延长{extension_months}个月）" if extension_months else ""
    return f"预备期{extended}至{ends_on:%Y-%m-%d}届满，转正时间不能早于该日。"


def _check_dates(facts, *, today, birth_on):
    errors = {}
    previous = None
    for field, label in DATE_ORDER:
        value = getattr(facts, field)
        if value is None:
            continue
        if value > today:
            errors[field] = f"{label}不能晚于今天。"
        elif birth_on and value < birth_on:
            errors[field] = f"{label}不能早于出生日期。"
        elif previous and value < previous[1]:
            errors[field] = f"{label}不能早于{previous[0]}。"
        previous = (label, value)
    if facts.confirmed_on and facts.joined_on and facts.confirmed_on <= facts.joined_on:
        errors.setdefault("confirmed_on", "转正时间必须晚于入党时间。")
    elif facts.confirmed_on and facts.joined_on:
        problem = probation_problem(facts.joined_on, facts.confirmed_on, facts.extension_months)
        if problem:
            errors.setdefault("confirmed_on", problem)
    if facts.category in (pipeline.PROBATIONARY, pipeline.FULL) and not facts.joined_on:
        errors.setdefault("joined_on", "预备党员和正式党员须填写入党时间。")
    if facts.category == pipeline.PROBATIONARY and facts.confirmed_on:
        errors.setdefault("confirmed_on", "预备党员不应有转正时间。")
    if facts.category != pipeline.FULL and facts.category != pipeline.PROBATIONARY and facts.joined_on:
        errors.setdefault("joined_on", "尚未入党的人员不应有入党时间。")
    return errors
