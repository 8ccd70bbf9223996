"""Checks of a 民主测评 tally and a grade on plain values (no Django): the forms and the services share them.

A paper ballot lists every participant; a voter marks at most one of the four grades for each.
So for each member the votes add up to at most the ballots returned, and no more ballots come
back than were issued.
"""

GRADE_CODES = ("excellent", "qualified", "basic", "unqualified")
REASON_REQUIRED = ("basic", "unqualified")
VOTE_FIELDS = ("votes_excellent", "votes_qualified", "votes_basic", "votes_unqualified")


def ballot_problems(issued, returned):
    """Problems with the ballot counts of the campaign (None = not entered yet)."""
    problems = []
    if (issued is not None and issued < 0) or (returned is not None and returned < 0):
        problems.append("票数不能为负数。")
    elif issued is not None and returned is not None and returned > issued:
        problems.append(f"收回测评票（{returned}张）不能多于发出测评票（{issued}张）。")
    elif returned is not None and issued is None:
        problems.append("请先填写发出测评票数。")
    return problems


def row_problems(votes, *, returned, grade, reason):
    """Problems with one member's row: votes is {field: count}; returned is the ballots returned or None."""
    problems = []
    counts = [votes.get(field) or 0 for field in VOTE_FIELDS]
    if any(count < 0 for count in counts):
        problems.append("票数不能为负数。")
    total = sum(counts)
    if total and returned is None:
        problems.append("录入票数前请先填写收回测评票数。")
    elif returned is not None and total > returned:
        problems.append(f"各等次票数合计{total}票，超过收回测评票{returned}张。")
    if grade and grade not in GRADE_CODES:
        problems.append("评定等次只能是优秀、合格、基本合格、不合格之一。")
    if grade in REASON_REQUIRED and not (reason or "").strip():
        problems.append("评定为基本合格或不合格的，须写明理由。")
    return problems
