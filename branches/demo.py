"""The demo township: a realistic 镇党委 with its organisations, committees and one login per role.

Used by `seed_demo` (and so by `make run`) and by tests. Idempotent: running it
again finds what exists by name under the same parent and creates only what is missing.
"""

import random
from datetime import date

from django.contrib.auth import get_user_model
from django.db import transaction

from . import services
from .models import (
    CommitteePosition,
    CommitteeTerm,
    Organisation,
    OrgKind,
    OrgLevel,
    Position,
    Role,
    RoleAssignment,
)

ROOT_NAME = "青溪镇党委"
DEMO_PASSWORD = "zhibu2026"  # noqa: S105 -- printed by `make run`; demo only

K = OrgKind
L = OrgLevel
GROUPS3 = ["第一党小组", "第二党小组", "第三党小组"]
GROUPS2 = ["第一党小组", "第二党小组"]

# (name, level, kind, founded_on, merged_group, groups, children)
TREE = [
    (
        "镇机关党总支",
        L.GENERAL_BRANCH,
        K.GOVERNMENT,
        date(1998, 7, 1),
        False,
        [],
        [
            ("镇机关第一党支部", L.BRANCH, K.GOVERNMENT, date(1998, 7, 1), False, GROUPS2, []),
            ("镇机关第二党支部", L.BRANCH, K.GOVERNMENT, date(2005, 3, 12), False, [], []),
            ("镇事业单位党支部", L.BRANCH, K.PUBLIC_INSTITUTION, date(2010, 6, 18), False, [], []),
        ],
    ),
    (
        "幸福里社区党委",
        L.PARTY_COMMITTEE,
        K.COMMUNITY,
        date(2003, 5, 20),
        False,
        [],
        [
            ("幸福里社区第一党支部", L.BRANCH, K.COMMUNITY, date(2003, 5, 20), False, GROUPS3, []),
            ("幸福里社区第二党支部", L.BRANCH, K.COMMUNITY, date(2008, 9, 1), False, GROUPS3, []),
            ("幸福里社区离退休党支部", L.BRANCH, K.RETIRED, date(2012, 4, 10), False, GROUPS3, []),
        ],
    ),
    ("东山村党支部", L.BRANCH, K.VILLAGE, date(1985, 10, 1), False, GROUPS3, []),
    ("西岭村党支部", L.BRANCH, K.VILLAGE, date(1987, 3, 15), False, GROUPS2, []),
    ("南塘村党支部", L.BRANCH, K.VILLAGE, date(1990, 6, 1), False, GROUPS2, []),
    ("北岗村党支部", L.BRANCH, K.VILLAGE, date(1992, 1, 8), True, [], []),
    ("杨柳村党支部", L.BRANCH, K.VILLAGE, date(1988, 7, 1), False, GROUPS2, []),
    ("石桥村党支部", L.BRANCH, K.VILLAGE, date(1986, 5, 4), False, GROUPS2, []),
    ("桃源村党支部", L.BRANCH, K.VILLAGE, date(1995, 11, 20), False, GROUPS2, []),
    ("青竹村党支部", L.BRANCH, K.VILLAGE, date(1999, 2, 14), True, [], []),
    ("花园村党支部", L.BRANCH, K.VILLAGE, date(2001, 8, 30), True, [], []),
    ("新河村党支部", L.BRANCH, K.VILLAGE, date(1993, 4, 22), False, GROUPS2, []),
    ("白沙村党支部", L.BRANCH, K.VILLAGE, date(1997, 9, 9), True, [], []),
    ("龙湾村党支部", L.BRANCH, K.VILLAGE, date(1991, 12, 26), False, GROUPS2, []),
    ("梅林村党支部", L.BRANCH, K.VILLAGE, date(2004, 3, 3), True, [], []),
    ("滨江社区党支部", L.BRANCH, K.COMMUNITY, date(2011, 7, 1), False, GROUPS2, []),
    ("望湖社区党支部", L.BRANCH, K.COMMUNITY, date(2015, 10, 16), False, GROUPS2, []),
    ("青溪镇中心小学党支部", L.BRANCH, K.SCHOOL, date(1996, 9, 10), False, [], []),
    ("青溪中学党支部", L.BRANCH, K.SCHOOL, date(1994, 9, 1), False, [], []),
    ("青溪镇卫生院党支部", L.BRANCH, K.PUBLIC_INSTITUTION, date(2002, 5, 12), False, [], []),
    ("青溪供电所党支部", L.BRANCH, K.STATE_ENTERPRISE, date(2006, 1, 18), True, [], []),
    ("青溪镇非公企业联合党支部", L.BRANCH, K.PRIVATE_ENTERPRISE, date(2013, 6, 28), True, [], []),
    ("绿源农业科技有限公司党支部", L.BRANCH, K.PRIVATE_ENTERPRISE, date(2017, 4, 12), True, [], []),
    ("恒达机械制造有限公司党支部", L.BRANCH, K.PRIVATE_ENTERPRISE, date(2016, 11, 3), False, GROUPS2, []),
    ("青溪镇社会组织联合党支部", L.BRANCH, K.SOCIAL_ORGANISATION, date(2019, 12, 20), True, [], []),
    ("柳树村党支部", L.BRANCH, K.VILLAGE, date(1989, 5, 1), True, [], []),
]
# Merged into 杨柳村 in 2024: shown as dissolved, with its history.
DISSOLVED = {"柳树村党支部": (date(2024, 3, 31), "村庄合并，党员转入杨柳村党支部")}

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程魏苏吕丁任沈姚卢"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国红梅兰晓辉鹏飞宇浩文斌志海波玲丹萍云燕亮春"

# (username, full name, role, organisation name path from the root)
USERS = [
    ("office", "周敏", Role.TOWNSHIP_ADMIN, []),
    ("leader", "郑国华", Role.TOWNSHIP_LEADER, []),
    ("instructor", "林晓辉", Role.INSTRUCTOR, ["东山村党支部"]),
    ("instructor", "林晓辉", Role.INSTRUCTOR, ["西岭村党支部"]),
    ("instructor", "林晓辉", Role.INSTRUCTOR, ["南塘村党支部"]),
    ("instructor", "林晓辉", Role.INSTRUCTOR, ["幸福里社区党委"]),
    ("secretary", "陈红梅", Role.SECRETARY, ["幸福里社区党委", "幸福里社区第一党支部"]),
    ("committee", "王建国", Role.COMMITTEE_MEMBER, ["幸福里社区党委", "幸福里社区第一党支部"]),
    ("groupleader", "刘秀英", Role.GROUP_LEADER, ["幸福里社区党委", "幸福里社区第一党支部", "第一党小组"]),
    ("member", "张伟", Role.MEMBER, ["幸福里社区党委", "幸福里社区第一党支部"]),
    ("dongshan", "何志海", Role.SECRETARY, ["东山村党支部"]),
]
FIXED_HOLDERS = {
    "幸福里社区第一党支部": {Position.SECRETARY: "陈红梅", Position.ORGANISATION: "王建国"},
    "东山村党支部": {Position.SECRETARY: "何志海"},
}


def _find_child(parent, name):
    qs = Organisation.objects.get_children(parent) if parent else Organisation.objects.get_root_nodes()
    return qs.filter(name=name).first()


def _ensure_org(parent, name, level, kind, founded_on, merged_group=False):
    existing = _find_child(parent, name)
    if existing:
        return existing, False
    org = services.create_organisation(
        parent=parent, name=name, level=level, kind=kind, founded_on=founded_on, merged_group=merged_group
    )
    return org, True


def _term_plan(org, rng):
    """Election dates: most 村/社区 re-elected in 2026 after the 2021 round; a few overdue or ending soon."""
    if org.kind in (K.VILLAGE, K.COMMUNITY):
        if org.name in ("龙湾村党支部", "梅林村党支部"):
            return [date(2021, 3, rng.randint(1, 28))]  # term ended in 2026: election overdue
        return [date(2021, 3, rng.randint(1, 28)), date(2026, 3, rng.randint(1, 28))]
    if org.name in ("青溪镇卫生院党支部", "青溪中学党支部"):
        return [date(2020, 12, 15), date(2023, 12, rng.randint(10, 28))]  # ends within six months
    return [date(2021, 6, rng.randint(1, 28)), date(2024, 6, rng.randint(1, 28))]


def _positions_for(org, rng, *, large):
    codes = [Position.SECRETARY]
    if large:
        codes += [Position.DEPUTY_SECRETARY, Position.ORGANISATION, Position.PROPAGANDA, Position.DISCIPLINE]
    fixed = FIXED_HOLDERS.get(org.name, {})
    return [(code, fixed.get(code) or _name(rng)) for code in codes]


def _name(rng):
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _ensure_terms(org, rng, *, large):
    if org.terms.exists():
        return 0
    dissolved_on = DISSOLVED.get(org.name, (date.max,))[0]
    for elected_on in (day for day in _term_plan(org, rng) if day <= dissolved_on):
        services.record_term(
            organisation=org, elected_on=elected_on, positions=_positions_for(org, rng, large=large)
        )
    return 1


def _build(parent, spec, rng, counts):
    name, level, kind, founded_on, merged, groups, children = spec
    org, created = _ensure_org(parent, name, level, kind, founded_on, merged)
    counts["organisations"] += created
    for group_name in groups:
        _group, created = _ensure_org(org, group_name, L.GROUP, kind, founded_on)
        counts["organisations"] += created
    for child in children:
        _build(org, child, rng, counts)
    # Every branch of 7 or more 正式党员 has a committee (支部条例 第十二条); the small enterprise branches
    # have a 书记 only, and one of them has grown past 7 without electing one (a 待办 the demo shows).
    small = kind in (K.STATE_ENTERPRISE, K.PRIVATE_ENTERPRISE)
    counts["terms"] += _ensure_terms(org, rng, large=bool(groups) or level != L.BRANCH or not small)
    if name in DISSOLVED and org.is_active:
        dissolved_on, reason = DISSOLVED[name]
        services.dissolve_organisation(organisation=org, dissolved_on=dissolved_on, reason=reason)
    return org


def _ensure_users(root, counts):
    User = get_user_model()
    if not User.objects.filter(username="admin").exists():
        User.objects.create_superuser(
            "admin", "admin@example.invalid", DEMO_PASSWORD, first_name="系统管理员"
        )
        counts["users"] += 1
    for username, full_name, role, path in USERS:
        # An address under .invalid (never delivered): the daily reminder email can be subscribed to and
        # read on the console backend.
        user, created = User.objects.get_or_create(
            username=username, defaults={"first_name": full_name, "email": f"{username}@example.invalid"}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
            counts["users"] += 1
        org = root
        for name in path:
            org = _find_child(org, name)
        RoleAssignment.objects.get_or_create(user=user, organisation=org, role=role)


@transaction.atomic
def seed(*, seed=2026):
    rng = random.Random(seed)
    counts = {"organisations": 0, "terms": 0, "users": 0}
    root, created = _ensure_org(None, ROOT_NAME, L.PARTY_COMMITTEE, K.TOWNSHIP, date(1983, 10, 1))
    counts["organisations"] += created
    for spec in TREE:
        _build(root, spec, rng, counts)
    counts["terms"] += _ensure_terms(root, rng, large=True)
    _ensure_users(root, counts)
    return root, counts


def find_root():
    return _find_child(None, ROOT_NAME)


@transaction.atomic
def reset():
    """Remove the demo township and its logins (development only)."""
    root = _find_child(None, ROOT_NAME)
    User = get_user_model()
    User.objects.filter(username__in={"admin", *(u[0] for u in USERS)}).delete()
    if root is None:
        return
    subtree = Organisation.objects.get_tree(root)
    RoleAssignment.objects.filter(organisation__in=subtree).delete()
    CommitteePosition.objects.filter(term__organisation__in=subtree).delete()
    CommitteeTerm.objects.filter(organisation__in=subtree).delete()
    pks = list(subtree.values_list("pk", flat=True))
    Organisation.history.filter(id__in=pks).delete()
    subtree.delete()
