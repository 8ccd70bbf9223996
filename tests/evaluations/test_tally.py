"""The tally checks on plain values (no database)."""

from evaluations import tally


def test_ballots_returned_cannot_exceed_issued():
    assert tally.ballot_problems(30, 28) == []
    assert tally.ballot_problems(None, None) == []
    assert "不能多于" in tally.ballot_problems(28, 30)[0]
    assert "发出" in tally.ballot_problems(None, 5)[0]


def test_votes_of_a_member_add_up_to_at_most_the_ballots_returned():
    votes = {"votes_excellent": 10, "votes_qualified": 15, "votes_basic": 2, "votes_unqualified": 1}
    assert tally.row_problems(votes, returned=28, grade="qualified", reason="") == []
    problems = tally.row_problems(votes, returned=27, grade="qualified", reason="")
    assert problems == ["各等次票数合计28票，超过收回测评票27张。"]


def test_votes_need_the_ballots_returned_first():
    assert tally.row_problems({"votes_qualified": 3}, returned=None, grade="", reason="")
    assert tally.row_problems({}, returned=None, grade="qualified", reason="") == []


def test_grade_is_one_of_four_codes_and_low_grades_need_a_reason():
    assert tally.row_problems({}, returned=9, grade="good", reason="")
    for grade in ("basic", "unqualified"):
        assert tally.row_problems({}, returned=9, grade=grade, reason="  ")
        assert tally.row_problems({}, returned=9, grade=grade, reason="多次无故缺席组织生活") == []
    assert tally.row_problems({}, returned=9, grade="excellent", reason="") == []
