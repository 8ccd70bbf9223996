"""Pure rules: ID numbers, dues brackets, pipeline deadlines, roster cell parsing. No database."""

from datetime import date, datetime
from decimal import Decimal

import pytest

from members import dues, names, pipeline, validation
from members.idcard import InvalidIdNumber, age_on, check_character, normalise_id_number, parse_id_number
from members.normalise import clean_text, normalise_phone, parse_roster_date

TODAY = date(2026, 11, 23)


# ---------------------------------------------------------------- 身份证号


def test_a_real_number_from_the_sample_roster():
    info = parse_id_number("320102198007227312", today=TODAY)
    assert (info.birth_on, info.gender, info.region_code) == (date(1980, 7, 22), "male", "320102")
    assert parse_id_number("440106195109195322", today=TODAY).gender == "female"


def test_lower_case_x_full_width_and_invisible_characters_are_normalised():
    body = "11010519491231002"
    assert check_character(body) == "X"
    assert parse_id_number(body + "x", today=TODAY).number == body + "X"
    assert normalise_id_number("３２０１０２１９８００７２２７３１２") == "320102198007227312"
    assert normalise_id_number("3201021980\u200b07227312 ") == "320102198007227312"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("32010219800722731", "身份证号应为18位，当前为17位"),
        ("32010219800722731A", "只能由数字组成"),
        ("320102198002307318", "出生日期19800230不存在"),
        ("320102203001017315", "不合理"),
        ("320102198007227313", "校验位错误（应为2）"),
    ],
)
def test_bad_id_numbers_say_what_is_wrong(raw, message):
    with pytest.raises(InvalidIdNumber, match=message.replace("（", "\\（").replace("）", "\\）")):
        parse_id_number(raw, today=TODAY)


def test_age_counts_full_years():
    assert age_on(date(2000, 12, 23), date(2018, 12, 22)) == 17
    assert age_on(date(2000, 12, 23), date(2018, 12, 23)) == 18


# ---------------------------------------------------------------- 党费


@pytest.mark.parametrize(
    ("kind", "base", "amount"),
    [
        ("employed", "3000.00", "15.00"),
        ("employed", "3000.01", "30.00"),
        ("employed", "5000", "50.00"),
        ("employed", "5000.01", "75.00"),
        ("employed", "10000", "150.00"),
        ("employed", "12000", "240.00"),
        ("retiree", "5000", "25.00"),
        ("retiree", "6000", "60.00"),
        ("farmer", None, "0.20"),
        ("farmer", "1", "1.00"),
        ("student", "8000", "0.20"),
        ("low_income", None, "0.20"),
    ],
)
def test_dues_brackets(kind, base, amount):
    assert dues.monthly_dues(kind=kind, base=Decimal(base) if base else None) == Decimal(amount)


def test_dues_refuse_what_cannot_be_priced():
    with pytest.raises(ValueError, match="0.2元至1元"):
        dues.monthly_dues(kind="farmer", base=Decimal("2"))
    with pytest.raises(ValueError, match="请填写党费基数"):
        dues.monthly_dues(kind="employed", base=None)
    with pytest.raises(ValueError, match="不能为负数"):
        dues.monthly_dues(kind="retiree", base=Decimal("-1"))


def test_arrears_count_the_longest_unpaid_run_and_backpay_covers_six():
    paid = {date(2026, 1, 1), date(2026, 2, 1), date(2026, 4, 1)}
    start, end = date(2026, 1, 1), date(2026, 10, 31)
    assert dues.arrears_run(paid, start=start, end=end) == (date(2026, 5, 1), 6)  # May..October
    assert dues.unpaid_months(paid, start=start, end=end)[0] == date(2026, 3, 1)
    assert dues.backpay_months(paid, start=start, end=end) == [date(2026, m, 1) for m in range(5, 11)]
    # Paying October alone does not pay May..September.
    assert dues.arrears_run(paid | {date(2026, 10, 1)}, start=start, end=end) == (date(2026, 5, 1), 5)
    # Of two equal runs, the later; a run that ended before ended_from does not count.
    assert dues.arrears_run({date(2026, 2, 1)}, start=start, end=date(2026, 3, 31)) == (date(2026, 3, 1), 1)
    assert dues.arrears_run({date(2026, 4, 1)}, start=start, end=date(2026, 4, 30)) == (date(2026, 1, 1), 3)
    late = {"start": start, "end": date(2026, 4, 30), "ended_from": date(2026, 4, 1)}
    assert dues.arrears_run({date(2026, 4, 1)}, **late) == (None, 0)
    assert dues.arrears_run(set(paid) | {date(2026, m, 1) for m in range(3, 11)}, start=start, end=end) == (
        None,
        0,
    )
    assert dues.months_between(date(2025, 11, 5), date(2026, 2, 1)) == [
        date(2025, 11, 1), date(2025, 12, 1), date(2026, 1, 1), date(2026, 2, 1)]  # fmt: skip


# ---------------------------------------------------------------- 发展党员


def test_pipeline_steps_one_at_a_time():
    pipeline.check_transition(None, "full")
    pipeline.check_transition("activist", "candidate")
    with pytest.raises(pipeline.PipelineError, match="须依次经过各阶段"):
        pipeline.check_transition("applicant", "candidate")
    with pytest.raises(pipeline.PipelineError, match="不能由正式党员退回为预备党员"):
        pipeline.check_transition("full", "probationary")


def test_deadlines_from_the_rules():
    assert pipeline.talk_due_on(date(2026, 1, 31)) == date(2026, 2, 28)
    assert pipeline.earliest_candidate_on(date(2024, 2, 29)) == date(2025, 2, 28)
    assert pipeline.approval_due_on(date(2026, 5, 10)) == date(2026, 8, 10)
    assert pipeline.approval_due_on(date(2026, 5, 10), special=True) == date(2026, 11, 10)
    assert pipeline.probation_ends_on(date(2025, 9, 1), extension_months=6) == date(2027, 3, 1)
    [talk] = pipeline.deadlines(category="applicant", applied_on=date(2026, 10, 1))
    assert (talk.code, talk.due_on, talk.is_met) == ("talk", date(2026, 11, 1), False)
    approval, end = pipeline.deadlines(
        category="probationary", joined_on=date(2026, 3, 1), approved_on=date(2026, 4, 1)
    )
    assert approval.is_met and end.due_on == date(2027, 3, 1)


def test_extension_and_candidate_checks():
    with pytest.raises(pipeline.PipelineError, match="六个月至一年"):
        pipeline.check_extension(13, 0)
    with pytest.raises(pipeline.PipelineError, match="只能延长一次"):
        pipeline.check_extension(6, 1)
    with pytest.raises(pipeline.PipelineError, match="最早可于2025-03-01"):
        pipeline.check_candidate_date(date(2024, 3, 1), date(2025, 2, 28))


# ---------------------------------------------------------------- roster cells


@pytest.mark.parametrize(
    "value",
    ["2019-07-01", "2019.07.01", "2019.7.1", "2019/7/1", "2019年7月1日", "2019年07月01日", "20190701",
     "２０１９．０７．０１", 43647, 43647.0, "43647", datetime(2019, 7, 1, 0, 0), date(2019, 7, 1)],
)  # fmt: skip
def test_the_date_forms_real_rosters_use(value):
    assert parse_roster_date(value, today=TODAY) == date(2019, 7, 1)


def test_month_only_dates_and_excel_leap_bug():
    assert parse_roster_date("2019.07") == date(2019, 7, 1)
    assert parse_roster_date("2019年7月") == date(2019, 7, 1)
    assert parse_roster_date(61) == date(1900, 3, 1)
    assert parse_roster_date(59) == date(1900, 2, 28)
    assert parse_roster_date("") is None and parse_roster_date(None) is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2019.02.30", "日期不存在：2019年2月30日"),
        ("去年七月", "无法识别的日期“去年七月”"),
        ("2027-01-01", "日期晚于今天"),
    ],
)
def test_bad_dates_are_reported_not_guessed(value, message):
    with pytest.raises(ValueError, match=message):
        parse_roster_date(value, today=TODAY)


def test_text_cells_are_cleaned_but_formulas_stay_text():
    assert clean_text("  张\u200b伟 ") == "张伟"
    assert clean_text("ＡＢＣ　１２３") == "ABC 123"
    assert clean_text(13800138000.0) == "13800138000"
    assert clean_text("=1+1") == "=1+1"


def test_phones():
    assert normalise_phone("+86 138 0013 8000") == "13800138000"
    assert normalise_phone("０２５-８３３３４４５５") == "025-83334455"
    assert normalise_phone("") == ""
    with pytest.raises(ValueError, match="手机号码格式不正确"):
        normalise_phone("1380013800a")


# ---------------------------------------------------------------- 姓名拼音首字母


@pytest.mark.parametrize(
    ("name", "initials"),
    [
        ("曾伟敏", "zwm"),  # Zēng, not céng: a 曾 was listed under C and not found by "zwm"
        ("单东", "sd"),
        ("解放", "xf"),
        ("仇平", "qp"),
        ("区志强", "ozq"),
        ("查良", "zl"),
        ("乐平", "yp"),
        ("覃敏", "qm"),
        ("尉缭", "wl"),  # 尉 alone is Wèi
        ("尉迟恭", "ycg"),  # Yùchí
        ("万俟卨", "mqx"),
        ("单于丽", "syl"),  # 单 (Shàn) with the given name 于丽
        ("王强", "wq"),
        ("龙欣芳", "lxf"),
    ],
)
def test_a_polyphonic_surname_is_read_as_a_surname(name, initials):
    assert names.name_initials(name) == initials


def test_the_probation_must_have_run_out_before_conversion():
    assert validation.probation_problem(date(2026, 3, 8), date(2027, 3, 8)) == ""
    assert validation.probation_problem(date(2026, 3, 8), date(2026, 3, 9)) == (
        "预备期至2027-03-08届满，转正时间不能早于该日。"
    )
    assert validation.probation_problem(date(2026, 3, 8), date(2027, 3, 8), 6) == (
        "预备期（含延长6个月）至2027-09-08届满，转正时间不能早于该日。"
    )
