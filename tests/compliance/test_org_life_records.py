"""The 组织生活会 records check, pure: what the org_life_records flag and the meeting's page both list."""

from datetime import date

from compliance.rules import ORG_LIFE_RECORDS, missing_org_life_records, missing_org_life_records_by_stage

EMPTY = {"opinions": "", "talks_summary": "", "self_examination": "", "criticism": "", "items": 0,
         "reported_on": None}  # fmt: skip


def test_an_empty_record_lacks_everything_before_during_and_after():
    assert missing_org_life_records(EMPTY) == [
        "会前征求意见", "会前谈心谈话", "对照检查材料", "批评与自我批评", "整改清单", "报告上级党委",
    ]  # fmt: skip
    assert missing_org_life_records_by_stage(EMPTY) == [
        ("会前", ["征求意见", "谈心谈话", "对照检查材料"]),
        ("会中", ["批评与自我批评"]),
        ("会后", ["整改清单", "报告上级党委"]),
    ]
    assert {field for field, _label in ORG_LIFE_RECORDS} == set(EMPTY)


def test_only_what_is_missing_is_listed_and_a_complete_record_lacks_nothing():
    partly = {**EMPTY, "opinions": "征求意见12条", "talks_summary": "8人次", "self_examination": "材料",
              "reported_on": date(2026, 1, 20)}  # fmt: skip
    assert missing_org_life_records(partly) == ["批评与自我批评", "整改清单"]
    assert missing_org_life_records_by_stage(partly) == [("会中", ["批评与自我批评"]), ("会后", ["整改清单"])]
    complete = {**partly, "criticism": "批评与自我批评", "items": 2}
    assert missing_org_life_records(complete) == [] == missing_org_life_records_by_stage(complete)
