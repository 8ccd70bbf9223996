"""A realistic township, county or district, written straight to the tables.

The rows are the ones the services would write for the same story (see members/services.py and
meetings/services.py): a member's current branch, group, category and status agree with their
dated memberships, category and status changes; attendance lists exactly the members the
service would expect on the meeting date (roster_as_of + expected_attendees, the sitting
committee for a 支委会, 外出 members as 外出); 补录, 到会未过半, void and returned records carry
the fields the services set. Edit histories (simple_history tables) are not generated: a
generated record has not been edited.

Everything is drawn from one random.Random(seed) in a fixed order, so the same seed and the
same `today` give the same rows.
"""

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache, lru_cache

from dateutil.relativedelta import relativedelta
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection
from django.utils import timezone

from branches.models import (
    CommitteePosition,
    CommitteeTerm,
    Organisation,
    OrgKind,
    OrgLevel,
    Position,
    Role,
    RoleAssignment,
    default_term_years,
)
from compliance.local import fixed_theme_day
from compliance.periods import working_days_between
from compliance.rules import DEFAULT_BACKFILL_DAYS
from meetings.models import (
    Attendance,
    AttendanceStatus,
    Meeting,
    MeetingType,
    MeetingTypeTag,
    RectificationItem,
    ReviewState,
    Talk,
)
from members import dues, idcard
from members.models import (
    CategoryChange,
    DuesPayment,
    Exemption,
    ExemptionKind,
    Member,
    Membership,
    Mobility,
    PipelineEvent,
    PipelineEventKind,
    Status,
    StatusChange,
    ThoughtReport,
    TrainingKind,
    TrainingRecord,
    Transfer,
    TransferDirection,
)
from members.services import name_initials

from .writer import Writer

K, L = OrgKind, OrgLevel
MT, AS = MeetingType, AttendanceStatus
DEMO_PASSWORD = "zhibu2026"  # noqa: S105 -- the demo password, printed by `make run`
MARKER_TABLE = "scale_marker"


@dataclass(frozen=True)
class Scale:
    label: str
    townships: int  # 0: the root is itself a township
    branches: int
    members: int
    years: int


SCALES = {
    "T": Scale("测试（极小）", 0, 8, 160, 2),
    "S": Scale("一个乡镇", 0, 60, 1_500, 5),
    "M": Scale("一个县", 20, 1_700, 36_000, 5),
    "L": Scale("一个大区", 40, 3_300, 72_000, 5),
}

# kind: (weight, low, high members, may be 支组合一)
KINDS = {
    K.VILLAGE: (46, 18, 48, True),
    K.COMMUNITY: (16, 20, 55, False),
    K.RETIRED: (4, 25, 50, False),
    K.GOVERNMENT: (6, 10, 26, False),
    K.PUBLIC_INSTITUTION: (5, 8, 20, False),
    K.SCHOOL: (6, 10, 30, False),
    K.STATE_ENTERPRISE: (3, 5, 14, True),
    K.PRIVATE_ENTERPRISE: (10, 3, 16, True),
    K.SOCIAL_ORGANISATION: (4, 3, 8, True),
}
PLACE_A = "青松白石东西南北金银龙凤桃柳梅竹清河湖山云平安永福新光明红星华丰泰和兴隆"
PLACE_B = "溪岭塘岗桥源园湾林沙坪口坝庄冲田洲埠湖港山堡店集铺"
COMPANY = [
    "农业科技有限公司",
    "机械制造有限公司",
    "纺织有限公司",
    "物流有限公司",
    "食品有限公司",
    "建材有限公司",
]
SOCIAL = ["志愿者协会", "个体劳动者协会", "社会工作服务中心", "养老服务中心"]
ORDINALS = "一二三四五六七八九十"
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程魏苏吕丁任沈姚卢"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国红梅兰晓辉鹏飞宇浩文斌志海波玲丹萍云燕亮春"
REGION_CODES = ["320102", "320104", "320105", "320106", "320111", "320113", "320114", "320115"]
EDUCATION = ["初中", "高中", "中专", "大学专科", "大学本科", "研究生"]
WORK = {
    K.VILLAGE: ["村民", "种植户", "养殖户", "村委会委员", "个体经营"],
    K.COMMUNITY: ["社区网格员", "公司职员", "个体经营", "教师", "医生"],
    K.RETIRED: ["退休"],
    K.GOVERNMENT: ["科员", "副主任", "会计", "干事"],
    K.PUBLIC_INSTITUTION: ["医生", "护士", "技术员", "干事"],
    K.SCHOOL: ["语文教师", "数学教师", "英语教师", "教务主任", "班主任"],
    K.STATE_ENTERPRISE: ["电工", "班长", "运维员"],
    K.PRIVATE_ENTERPRISE: ["车间主任", "技术员", "销售经理", "质检员"],
    K.SOCIAL_ORGANISATION: ["社工", "项目主管", "秘书长"],
}
TOPICS = {
    MT.THEME_DAY: ["学习贯彻党的二十届四中全会精神", "开展“我为群众办实事”志愿服务", "重温入党誓词",
                   "学习党章党规", "开展红色教育参观", "集中缴纳党费并学习党费收缴规定"],
    MT.GENERAL_MEETING: ["讨论发展党员事项", "通报支部工作情况", "研究年度工作计划", "讨论预备党员转正"],
    MT.PARTY_LECTURE: ["党课：坚定理想信念", "党课：全面从严治党永远在路上", "党课：弘扬伟大建党精神"],
    MT.COMMITTEE_MEETING: ["研究本月工作安排", "研究发展党员工作", "研究党费收缴和使用"],
    MT.GROUP_MEETING: ["学习讨论", "交流思想，收集群众意见", "落实支部工作安排"],
    MT.ORG_LIFE_MEETING: ["年度组织生活会"],
}  # fmt: skip
CONTENT = ("传达学习上级有关文件精神，书记领学重点内容，党员结合本职工作逐一交流发言，"
           "会议对下一阶段工作作出安排，要求全体党员发挥先锋模范作用。")  # fmt: skip
LEAVE_REASONS = ["外出务工", "生病住院", "照顾家人", "单位值班", "参加培训"]
DESTINATIONS = ["江苏省苏州市", "广东省深圳市", "浙江省宁波市", "上海市浦东新区", "北京市朝阳区"]


# ---------------------------------------------------------------- the story of one person


@dataclass
class Stint:
    """One Membership row: a period in one branch (and group)."""

    id: int
    branch: "Unit"
    group: "Unit | None"
    start: date
    end: date | None = None
    start_reason: str = "登记"
    end_reason: str = ""


@dataclass
class Person:
    id: int
    name: str
    male: bool
    birth_on: date
    id_number: str
    category: str
    dates: dict
    kind: str
    stints: list = field(default_factory=list)
    suspended_on: date | None = None
    left: tuple | None = None  # (status, date) when they left the party / died
    transferred_out: date | None = None
    exemptions: list = field(default_factory=list)  # (start, end or None) of non-void exemptions
    away: list = field(default_factory=list)  # (start, end or None) of non-void 外出
    settled: bool = True  # on the roster the whole window with no event: may hold posts, talk, be away
    chronic_from: date | None = None  # absent without leave from this date (the absence ladder)
    absence: float = 0.05

    @property
    def joined_on(self):
        return self.dates.get("joined_on")

    @property
    def confirmed_on(self):
        return self.dates.get("confirmed_on")

    @property
    def on_roster(self):
        return self.stints[-1].end is None


@dataclass
class Unit:
    """An organisation being generated."""

    id: int
    name: str
    level: str
    kind: str
    founded_on: date
    path: str = ""
    children: list = field(default_factory=list)
    merged_group: bool = False
    size: int = 0
    weak: bool = False
    busy: float = 0.0
    extra_lectures: float = 0.0
    extra_general: float = 0.0
    secretary: str = ""
    dissolved_on: date | None = None
    groups: list = field(default_factory=list)
    terms: list = field(default_factory=list)  # [(elected_on, ends_on, [(position, name)])]
    people: list = field(default_factory=list)  # Stints in this branch (or group)


class Generator:
    def __init__(self, *, scale, seed, today, progress=None):
        self.spec = SCALES[scale]
        self.scale = scale
        self.seed = seed
        self.rng = random.Random(f"{scale}:{seed}")
        self.today = today
        self.now = timezone.now()
        self.window_start = date(today.year - self.spec.years, today.month, 1)
        self.progress = progress or (lambda message: None)
        self.used_ids = set(Member.objects.values_list("id_number", flat=True))
        self.writer = Writer()
        self.counts = {}

    # ------------------------------------------------------------ helpers

    def _name(self):
        rng = self.rng
        return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))

    def _day(self, start, end):
        """A random date in [start, end]."""
        span = (end - start).days
        return start + timedelta(days=self.rng.randint(0, max(span, 0)))

    def _moment(self, day, hour=20, minute=30):
        return timezone.make_aware(datetime.combine(day, time(hour, minute)))

    def _id_number(self, birth_on, male):
        rng = self.rng
        while True:
            seq = rng.randint(0, 99) * 10 + rng.choice(range(1 if male else 0, 10, 2))
            body = f"{rng.choice(REGION_CODES)}{birth_on:%Y%m%d}{seq:03d}"
            number = body + idcard.check_character(body)
            if number not in self.used_ids:
                self.used_ids.add(number)
                return number

    # ------------------------------------------------------------ the tree

    def build_tree(self):
        spec, rng = self.spec, self.rng
        places = [a + b for a in PLACE_A for b in PLACE_B]
        longer = [a + c + b for a in PLACE_A for c in PLACE_A if c != a for b in PLACE_B]
        rng.shuffle(places)
        rng.shuffle(longer)
        self._places = iter(places + longer)
        if spec.townships == 0:
            root = Unit(0, f"{next(self._places)}镇党委", L.PARTY_COMMITTEE, K.TOWNSHIP, date(1983, 10, 1))
            townships = [(root, spec.branches)]
        else:
            root = Unit(0, f"{next(self._places)}县委", L.PARTY_COMMITTEE, K.GOVERNMENT, date(1950, 1, 1))
            townships = []
            sizes = self._split(spec.branches, spec.townships)
            for index, n in enumerate(sizes):
                suffix = "街道党工委" if index % 5 == 4 else "镇党委"
                town = Unit(
                    0, f"{next(self._places)}{suffix}", L.PARTY_COMMITTEE, K.TOWNSHIP, date(1983, 10, 1)
                )
                root.children.append(town)
                townships.append((town, n))
        self.root = root
        self.townships = [t for t, _n in townships]
        factor = spec.members / spec.branches / self._mean_size()
        self.branches = []
        for town, n in townships:
            self._township(town, n, factor)
        return root

    def _split(self, total, parts):
        weights = [self.rng.uniform(0.7, 1.3) for _ in range(parts)]
        sizes = [max(3, round(total * w / sum(weights))) for w in weights]
        sizes[-1] += total - sum(sizes)
        return sizes

    @staticmethod
    def _mean_size():
        total = sum(w for w, *_ in KINDS.values())
        return sum(w * (low + high) / 2 for w, low, high, _m in KINDS.values()) / total

    def _township(self, town, n, factor):
        rng = self.rng
        kinds = list(KINDS)
        weights = [KINDS[k][0] for k in kinds]
        drawn = sorted(rng.choices(kinds, weights=weights, k=n), key=kinds.index)
        town_name = town.name.replace("镇党委", "镇").replace("街道党工委", "街道")
        office = community = None
        names = set()
        for kind in drawn:
            weight, low, high, may_merge = KINDS[kind]
            founded = self._founded(kind)
            branch = Unit(0, self._branch_name(kind, town_name, names), L.BRANCH, kind, founded)
            branch.size = max(3, round(rng.randint(low, high) * factor))
            branch.weak = rng.random() < 0.1
            branch.busy = 0 if branch.weak else rng.choice((0, 0.2, 0.4, 0.6))
            # Most branches hold 党课 and 党员大会 more often than the quarterly minimum; these shares
            # bring a county to the issue's ~500k meetings and ~6.4M attendance rows over five years.
            branch.extra_lectures = rng.choice((0.5, 0.7, 0.9, 1.0))
            branch.extra_general = rng.choice((0.4, 0.6, 0.8))
            if kind in (K.GOVERNMENT, K.PUBLIC_INSTITUTION):
                if office is None:
                    office = Unit(
                        0, f"{town_name}机关党总支", L.GENERAL_BRANCH, K.GOVERNMENT, date(1995, 7, 1)
                    )
                    town.children.append(office)
                office.children.append(branch)
            elif kind in (K.COMMUNITY, K.RETIRED):
                if community is None or len(community.children) >= rng.randint(2, 4):
                    community = Unit(0, f"{next(self._places)}社区党委", L.PARTY_COMMITTEE, K.COMMUNITY,
                                     date(2003, 5, 20))  # fmt: skip
                    town.children.append(community)
                    names.add(community.name)
                    branch.name = f"{community.name[:-2]}第一党支部" if kind == K.COMMUNITY else branch.name
                else:
                    branch.name = f"{community.name[:-2]}第{ORDINALS[len(community.children) % 10]}党支部"
                if kind == K.RETIRED:
                    branch.name = f"{community.name[:-2]}离退休党支部{len(community.children) + 1}"
                community.children.append(branch)
            else:
                town.children.append(branch)
            if branch.size >= 15 and kind not in (K.PRIVATE_ENTERPRISE, K.SOCIAL_ORGANISATION):
                count = min(5, max(2, branch.size // 11))
                for index in range(count):
                    group = Unit(0, f"第{ORDINALS[index]}党小组", L.GROUP, kind, branch.founded_on)
                    branch.children.append(group)
                    branch.groups.append(group)
            elif may_merge and rng.random() < 0.7:
                branch.merged_group = True
            self.branches.append(branch)
        town_branches = self.branches[-n:]
        if not any(b.merged_group for b in town_branches):  # every township has some 支组合一
            smallest = min(town_branches, key=lambda b: (bool(b.groups), b.size))
            smallest.children = [c for c in smallest.children if c.level != L.GROUP]
            smallest.groups, smallest.merged_group = [], True
        # A few branches dissolved in the window (村庄合并, 企业关停): shown greyed with their history.
        for branch in self.branches[-n:]:
            if branch.kind in (K.VILLAGE, K.PRIVATE_ENTERPRISE) and rng.random() < 0.01:
                branch.dissolved_on = self._day(
                    self.window_start + timedelta(days=400), self.today - timedelta(days=60)
                )

    def _founded(self, kind):
        rng = self.rng
        if rng.random() < 0.03:  # a new branch set up during the window
            return self._day(self.window_start + timedelta(days=60), self.today - timedelta(days=200))
        if kind == K.VILLAGE:
            return date(rng.randint(1978, 2000), rng.randint(1, 12), rng.randint(1, 28))
        return date(rng.randint(1995, 2018), rng.randint(1, 12), rng.randint(1, 28))

    def _branch_name(self, kind, town, names):
        rng = self.rng
        for attempt in range(50):
            place = next(self._places) if attempt < 40 else f"{next(self._places)}{attempt}"
            name = {
                K.VILLAGE: f"{place}村党支部",
                K.COMMUNITY: f"{place}社区党支部",
                K.RETIRED: f"{place}离退休党支部",
                K.GOVERNMENT: f"{town}机关第{ORDINALS[rng.randint(0, 5)]}党支部",
                K.PUBLIC_INSTITUTION: f"{town}{rng.choice(['卫生院', '农技站', '文化站', '财政所'])}党支部",
                K.SCHOOL: f"{town}{rng.choice(['中心小学', '中学', '第二小学', '幼儿园'])}党支部",
                K.STATE_ENTERPRISE: f"{town}{rng.choice(['供电所', '邮政支局', '自来水厂'])}党支部",
                K.PRIVATE_ENTERPRISE: f"{place}{rng.choice(COMPANY)}党支部",
                K.SOCIAL_ORGANISATION: f"{town}{rng.choice(SOCIAL)}党支部",
            }[kind]
            if attempt >= 10 and kind not in (K.VILLAGE, K.COMMUNITY, K.RETIRED, K.PRIVATE_ENTERPRISE):
                name = name.replace(town, f"{town}{place}", 1)
            if name not in names:
                names.add(name)
                return name
        raise RuntimeError("no free branch name")

    def write_tree(self):
        table = self.writer.table(
            Organisation,
            ["id", "path", "depth", "numchild", "name", "level", "kind", "founded_on", "merged_group",
             "dissolved_on", "dissolve_reason", "created_at"],
        )  # fmt: skip
        last_root = (
            Organisation.objects.filter(depth=1).order_by("-path").values_list("path", flat=True).first()
        )
        root_step = Organisation._str2int(last_root) + 1 if last_root else 1
        created = self._moment(self.window_start, 9, 0)

        def write(unit, path, dissolved=None):
            unit.id = table.new_id()
            unit.path = path
            dissolved = unit.dissolved_on or dissolved
            unit.dissolved_on = dissolved
            reason = "村庄合并，党员转入其他支部" if dissolved else ""
            table.add((unit.id, path, len(path) // Organisation.steplen, len(unit.children), unit.name, unit.level,
                       unit.kind, unit.founded_on, unit.merged_group, dissolved, reason, created))  # fmt: skip
            for index, child in enumerate(unit.children, start=1):
                write(child, Organisation._get_path(path, len(path) // Organisation.steplen + 1, index),
                      dissolved if child.level == L.GROUP else None)  # fmt: skip

        write(self.root, Organisation._get_path(None, 1, root_step))
        table.flush()

    # ------------------------------------------------------------ people

    def build_people(self):
        self._member_ids = self.writer.next_id(Member)
        self._stint_ids = self.writer.next_id(Membership)
        self.people = []
        for branch in self.branches:
            for index in range(branch.size):
                group = branch.groups[index % len(branch.groups)] if branch.groups else None
                self.people.append(self._person(branch, group))
        self._events()

    def _new_person(self, kind, category, dates, birth_on, male):
        person = Person(
            id=self._member_ids, name=self._name(), male=male, birth_on=birth_on,
            id_number=self._id_number(birth_on, male), category=category, dates=dates, kind=kind,
        )  # fmt: skip
        self._member_ids += 1
        return person

    def _stint(self, person, branch, group, start, reason="登记"):
        stint = Stint(self._stint_ids, branch, group, start, start_reason=reason)
        self._stint_ids += 1
        person.stints.append(stint)
        return stint

    def _person(self, branch, group):
        rng, today = self.rng, self.today
        roll = rng.random()
        male = rng.random() < (0.45 if branch.kind in (K.SCHOOL, K.PUBLIC_INSTITUTION) else 0.62)
        if roll < 0.86:
            category = "full"
            low, high = (62, 92) if branch.kind == K.RETIRED else (27, 86)
            birth_on = today - timedelta(days=rng.randint(low * 365, high * 365))
            adult = birth_on + relativedelta(years=18, days=31)
            latest = self.window_start - timedelta(days=400)
            joined = self._day(adult, max(adult, latest))
            dates = {"joined_on": joined, "confirmed_on": joined + relativedelta(years=1)}
        else:
            category = rng.choices(
                ["full", "probationary", "candidate", "activist", "applicant"], weights=[30, 30, 12, 16, 12]
            )[0]
            dates = self._pipeline(category)
            first = dates["applied_on"]
            birth_on = first - timedelta(days=rng.randint(19 * 365, 42 * 365))
        person = self._new_person(branch.kind, category, dates, birth_on, male)
        # As bulk_register does: the membership starts at the earliest known date (a new branch: its founding).
        start = min(person.dates.values())
        if branch.founded_on > self.window_start:
            start = max(start, branch.founded_on)
        self._stint(person, branch, group, start)
        person.absence = rng.choice((0.02, 0.04, 0.06, 0.1, 0.2))
        return person

    def _pipeline(self, category):
        """Development dates that pass the roster's checks: in order, a year of observation, 转正 a year on."""
        rng, today = self.rng, self.today
        if category == "full":
            joined = self._day(self.window_start, today - timedelta(days=400))
        elif category == "probationary":
            joined = today - timedelta(days=rng.randint(20, 330))
        if category in ("full", "probationary"):
            candidate = joined - timedelta(days=rng.randint(100, 200))
        elif category == "candidate":
            candidate = today - timedelta(days=rng.randint(10, 200))
        if category in ("full", "probationary", "candidate"):
            activist = candidate - timedelta(days=rng.randint(370, 450))
        elif category == "activist":
            activist = today - timedelta(days=rng.randint(30, 360))
        if category == "applicant":
            applied = today - timedelta(days=rng.randint(5, 300))
        else:
            applied = activist - timedelta(days=rng.randint(35, 120))
        dates = {"applied_on": applied}
        if category != "applicant":
            dates["activist_on"] = activist
        if category in ("full", "probationary", "candidate"):
            dates["candidate_on"] = candidate
        if category in ("full", "probationary"):
            dates["joined_on"] = joined
        if category == "full":
            dates["confirmed_on"] = joined + relativedelta(years=1)
        return dates

    def _events(self):
        """At most one event per settled 正式党员 over the window, at realistic yearly rates."""
        rng, years = self.rng, self.spec.years
        cut = len(self.townships[0].path)
        by_town = {}
        for branch in self.branches:
            by_town.setdefault(branch.path[:cut], []).append(branch)
        lo, hi = self.window_start + timedelta(days=30), self.today - timedelta(days=15)
        arrivals = []
        for person in self.people:
            stint = person.stints[0]
            branch = stint.branch
            if branch.dissolved_on:
                # Members of a dissolved branch move to a sibling on the day it closes.
                siblings = [b for b in by_town[branch.path[:cut]] if not b.dissolved_on]
                target = rng.choice(siblings)
                if stint.start >= branch.dissolved_on:  # registered after it closed: straight to the new one
                    stint.branch, stint.group = target, rng.choice(target.groups) if target.groups else None
                else:
                    self._move(person, target, branch.dissolved_on, "内部转接")
                person.settled = False
                continue
            if person.category != "full" or person.dates["confirmed_on"] >= self.window_start:
                continue
            roll = rng.random()
            age = (self.today - person.birth_on).days / 365.25
            death_rate = 0.03 if age > 80 else 0.012 if age > 70 else 0.002
            rates = [
                ("deceased", death_rate * years),
                ("left", 0.0003 * years),
                ("transfer_out", 0.01 * years),
                ("move", 0.004 * years),
                ("regroup", 0.01 * years if stint.group else 0),
                ("suspended", 0.0005 * years),
                ("frail", 0.35 if age > 78 else 0),
                ("sick", 0.012 * years),
                ("maternity", 0.02 * years if not person.male and age < 40 else 0),
                ("away", 0.1 if age < 55 and branch.kind in (K.VILLAGE, K.COMMUNITY) else 0.01),
            ]
            event = None
            for name, rate in rates:
                if roll < rate:
                    event = name
                    break
                roll -= rate
            if event is None:
                if rng.random() < 0.006:
                    person.chronic_from = self.today - timedelta(days=rng.randint(45, 250))
                continue
            earliest = max(lo, stint.start + timedelta(days=30))
            if earliest >= hi:
                continue
            on = self._day(earliest, hi)
            if event in ("deceased", "left"):
                stint.end, stint.end_reason = on, Status(event).label
                person.left = (event, on)
            elif event == "transfer_out":
                stint.end, stint.end_reason = on, "转出"
                person.transferred_out = on
                arrivals.append((branch, stint.group))
            elif event == "move":
                target = rng.choice(by_town[branch.path[:cut]])
                if target is branch or target.dissolved_on:
                    continue
                self._move(person, target, on, "内部转接")
            elif event == "regroup":
                others = [g for g in branch.groups if g is not stint.group]
                self._move(person, branch, on, "调整党小组", group=rng.choice(others))
            elif event == "suspended":
                person.suspended_on = on
            elif event == "frail":
                person.exemptions.append((self._day(self.window_start - timedelta(days=900), hi), None))
            elif event == "sick":
                person.exemptions.append((on, min(on + timedelta(days=rng.randint(60, 180)), self.today)))
            elif event == "maternity":
                person.exemptions.append((on, min(on + timedelta(days=rng.randint(120, 180)), self.today)))
            elif event == "away":
                end = on + timedelta(days=rng.randint(90, 720))
                person.away.append((on, end if end < self.today else None))
            person.settled = event in ("frail", "sick", "maternity", "away")
        # Newcomers by 转入 letter, about as many as left by 转出.
        for branch, group in arrivals:
            if rng.random() < 0.9:
                continue_on = self._day(lo, hi)
                birth_on = self.today - timedelta(days=rng.randint(26 * 365, 60 * 365))
                joined = self._day(
                    birth_on + relativedelta(years=19), self.window_start - timedelta(days=400)
                )
                dates = {"joined_on": joined, "confirmed_on": joined + relativedelta(years=1)}
                person = self._new_person(branch.kind, "full", dates, birth_on, rng.random() < 0.6)
                self._stint(person, branch, group, continue_on, reason="转入")
                person.settled = False
                self.people.append(person)

    def _move(self, person, branch, on, reason, group=None):
        old = person.stints[-1]
        if group is None and branch.groups:
            group = self.rng.choice(branch.groups)
        old.end, old.end_reason = on, reason
        self._stint(person, branch, group, on, reason=reason)

    def write_people(self):
        w = self.writer
        members = w.table(Member, ["id", "name", "name_initials", "gender", "ethnicity", "birth_on", "id_number",
                                   "education", "phone", "work_unit", "note", "user_id", "branch_id", "group_id",
                                   "category", "status", "on_roster", "applied_on", "activist_on", "candidate_on",
                                   "joined_on", "confirmed_on", "dues_kind", "dues_base", "created_at",
                                   "updated_at"])  # fmt: skip
        stints = w.table(Membership, ["id", "member_id", "branch_id", "group_id", "started_on", "ended_on",
                                      "start_reason", "end_reason"])  # fmt: skip
        changes = w.table(
            CategoryChange, ["id", "member_id", "category", "changed_on", "note", "recorded_at"]
        )
        statuses = w.table(StatusChange, ["id", "member_id", "status", "changed_on", "reason", "recorded_at"])
        transfers = w.table(Transfer, ["id", "member_id", "direction", "transferred_on", "letter_no", "counterpart",
                                       "from_branch_id", "to_branch_id", "note", "recorded_at"])  # fmt: skip
        exemptions = w.table(Exemption, ["id", "member_id", "kind", "started_on", "ended_on", "approved_on",
                                         "approved_by", "voided_at", "void_reason"])  # fmt: skip
        mobilities = w.table(Mobility, ["id", "member_id", "destination", "started_on", "ended_on",
                                        "certificate_issued_on", "certificate_no", "contact", "note", "voided_at",
                                        "void_reason"])  # fmt: skip
        rng, today = self.rng, self.today
        initials = lru_cache(maxsize=None)(name_initials)
        for p in self.people:
            last = p.stints[-1]
            created = self._moment(max(p.stints[0].start, self.window_start), 10, 0)
            dues_kind, base = self._dues_settings(p)
            p.monthly = dues.monthly_dues(kind=dues_kind, base=base)
            status = p.left[0] if p.left else Status.SUSPENDED if p.suspended_on else Status.NORMAL
            phone = f"1{rng.choice('3578')}{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}"
            p.phone = phone
            members.add((
                p.id, p.name, initials(p.name), "male" if p.male else "female",
                "回族" if rng.random() < 0.03 else "汉族", p.birth_on, p.id_number, rng.choice(EDUCATION), phone,
                rng.choice(WORK.get(p.kind, ["职员"])), "", None, last.branch.id, last.group.id if last.group else None,
                p.category, status, last.end is None, p.dates.get("applied_on"), p.dates.get("activist_on"),
                p.dates.get("candidate_on"), p.joined_on, p.confirmed_on, dues_kind, base, created, created,
            ))  # fmt: skip
            for s in p.stints:
                stints.add((s.id, p.id, s.branch.id, s.group.id if s.group else None, s.start, s.end,
                            s.start_reason, s.end_reason))  # fmt: skip
            first = p.stints[0]
            for field_name, category in (("applied_on", "applicant"), ("activist_on", "activist"),
                                         ("candidate_on", "candidate"), ("joined_on", "probationary"),
                                         ("confirmed_on", "full")):  # fmt: skip
                on = p.dates.get(field_name)
                if on:
                    changes.add(
                        (changes.new_id(), p.id, category, on, "", max(created, self._moment(on, 10, 0)))
                    )
            statuses.add((statuses.new_id(), p.id, Status.NORMAL, first.start, first.start_reason, created))
            if p.suspended_on:
                statuses.add((statuses.new_id(), p.id, Status.SUSPENDED, p.suspended_on, "受到留党察看以上处分",
                              self._moment(p.suspended_on)))  # fmt: skip
            if p.left:
                reason = "病故" if p.left[0] == Status.DECEASED else "本人申请退党"
                statuses.add((statuses.new_id(), p.id, p.left[0], p.left[1], reason, self._moment(p.left[1])))
            if first.start_reason == "转入":
                transfers.add((transfers.new_id(), p.id, TransferDirection.IN, first.start,
                               f"组转{first.start.year}-{rng.randint(1, 300):03d}", "外县某镇党委", None,
                               first.branch.id, "", self._moment(first.start)))  # fmt: skip
            for before, after in zip(p.stints, p.stints[1:], strict=False):
                if after.branch is not before.branch:
                    transfers.add((transfers.new_id(), p.id, TransferDirection.INTERNAL, after.start,
                                   f"内转{after.start.year}-{rng.randint(1, 300):03d}", "", before.branch.id,
                                   after.branch.id, "", self._moment(after.start)))  # fmt: skip
            if p.transferred_out:
                transfers.add((transfers.new_id(), p.id, TransferDirection.OUT, p.transferred_out,
                               f"组转{p.transferred_out.year}-{rng.randint(1, 300):03d}",
                               rng.choice(DESTINATIONS) + "某街道党工委", last.branch.id, None, "",
                               self._moment(p.transferred_out)))  # fmt: skip
            for start, end in p.exemptions:
                kind = (
                    ExemptionKind.FRAIL
                    if end is None
                    else (
                        ExemptionKind.MATERNITY
                        if not p.male and (end - start).days >= 120
                        else ExemptionKind.SICK
                    )
                )
                approved = start - timedelta(days=rng.randint(0, 7))
                exemptions.add(
                    (exemptions.new_id(), p.id, kind, start, end, approved, "支部委员会", None, "")
                )
                if rng.random() < 0.05:  # entered twice by mistake, the copy voided
                    exemptions.add((exemptions.new_id(), p.id, kind, start, end, approved, "支部委员会",
                                    self._moment(approved + timedelta(days=2)), "重复登记"))  # fmt: skip
            for start, end in p.away:
                issued = start + timedelta(days=rng.randint(10, 120))
                has_certificate = rng.random() < 0.7 and issued <= today
                mobilities.add((mobilities.new_id(), p.id, rng.choice(DESTINATIONS), start, end,
                                issued if has_certificate else None,
                                f"流{issued.year}-{p.id:05d}" if has_certificate else "", phone, "", None, ""))  # fmt: skip
        self.counts["members"] = len(self.people)

    def _dues_settings(self, p):
        rng = self.rng
        if p.kind == K.VILLAGE:
            return dues.FARMER, Decimal(rng.choice(["0.20", "0.50", "1.00"]))
        if p.kind == K.RETIRED or (self.today - p.birth_on).days > 62 * 365:
            return dues.RETIREE, Decimal(rng.randrange(2600, 7200, 100))
        if p.kind == K.COMMUNITY and rng.random() < 0.15:
            return dues.UNEMPLOYED, None
        return dues.EMPLOYED, Decimal(rng.randrange(2800, 14000, 100))

    def write_member_records(self):
        """Dues, thought reports and development steps."""
        w, rng, today = self.writer, self.rng, self.today
        payments = w.table(DuesPayment, ["id", "member_id", "month", "amount", "paid_on", "recorded_at",
                                         "voided_at", "void_reason"])  # fmt: skip
        reports = w.table(
            ThoughtReport, ["id", "member_id", "received_on", "title", "voided_at", "void_reason"]
        )
        events = w.table(PipelineEvent, ["id", "member_id", "kind", "happened_on", "hours", "months", "note",
                                         "recorded_at"])  # fmt: skip
        this_month = today.replace(day=1)
        theme_days = {}
        for p in self.people:
            last_day = p.stints[-1].end or today
            if p.joined_on:
                start = max(self.window_start, p.joined_on.replace(day=1), p.stints[0].start.replace(day=1))
                months = dues.months_between(start, min(last_day, this_month - timedelta(days=1)))
                roll = rng.random()
                unpaid_tail = rng.randint(3, 8) if roll < 0.03 and p.on_roster else 0
                for index, month in enumerate(months):
                    if index >= len(months) - unpaid_tail or rng.random() < 0.004:
                        continue
                    theme = theme_days.get(month) or theme_days.setdefault(
                        month, fixed_theme_day(None, month)
                    )
                    paid_on = theme if rng.random() < 0.8 else self._day(month, month + timedelta(days=27))
                    if rng.random() < 0.03:  # paid late, a back-payment some months on
                        paid_on = min(paid_on + timedelta(days=rng.randint(30, 150)), today)
                    if rng.random() < 0.002:
                        payments.add((payments.new_id(), p.id, month, p.monthly * 10, paid_on,
                                      self._moment(paid_on), self._moment(paid_on + timedelta(days=1)),
                                      "金额录入错误"))  # fmt: skip
                    payments.add(
                        (payments.new_id(), p.id, month, p.monthly, paid_on, self._moment(paid_on), None, "")
                    )
            # Thought reports: 党员 every half-year, 积极分子 and 发展对象 every quarter.
            forgets = rng.random() < 0.05
            if p.category in ("activist", "candidate"):
                since, step = p.dates["activist_on"], 3
            elif p.joined_on:
                since, step = max(p.joined_on, self.window_start), 6
            else:
                since = None
            if since:
                month = date(since.year, ((since.month - 1) // step) * step + 1, 1)
                while month <= last_day:
                    received = month + timedelta(days=step * 30 - rng.randint(5, 40))
                    if since <= received <= min(last_day, today) and not (
                        forgets and received > today - timedelta(days=200)
                    ):
                        title = f"{received.year}年{'上' if received.month <= 6 else '下'}半年思想汇报" if step == 6 else (
                            f"{received.year}年第{(received.month - 1) // 3 + 1}季度思想汇报")  # fmt: skip
                        reports.add((reports.new_id(), p.id, received, title, None, ""))
                    month = (month + relativedelta(months=step)).replace(day=1)
            applied = p.dates.get("applied_on")
            if applied and applied >= self.window_start - timedelta(days=400):
                if p.category != "applicant" or rng.random() < 0.8:
                    talk = applied + timedelta(days=rng.randint(5, 28))
                    if talk <= today:
                        events.add((events.new_id(), p.id, PipelineEventKind.TALK, talk, None, None,
                                    "支部委员谈话", self._moment(talk)))  # fmt: skip
                if p.dates.get("candidate_on"):
                    training = p.dates["candidate_on"] + timedelta(days=rng.randint(10, 60))
                    if training <= today:
                        events.add((events.new_id(), p.id, PipelineEventKind.TRAINING, training, 24, None,
                                    "发展对象集中培训", self._moment(training)))  # fmt: skip
                if p.joined_on:
                    approval = p.joined_on + timedelta(days=rng.randint(20, 80))
                    if approval <= today and rng.random() < 0.95:
                        events.add((events.new_id(), p.id, PipelineEventKind.APPROVAL, approval, None, None,
                                    "党委审批", self._moment(approval)))  # fmt: skip

    # ------------------------------------------------------------ 集中学习培训

    # A branch's trainings each year: (month, day, kind, 学时, content). With the online hours a member
    # who attends both has the 32 学时; one missed leaves most short.
    TRAININGS = ((3, 10, TrainingKind.CLASSROOM, 12, "党员集中轮训"), (6, 25, TrainingKind.LECTURE, 4, "“七一”专题党课"),
                 (10, 15, TrainingKind.CLASSROOM, 12, "学习党的创新理论专题培训"))  # fmt: skip

    def write_training(self):
        """Three rows a member-year at most: the branch's trainings they attended (the branch they were in
        that day) and their online hours, for 正式 and 预备党员 on a roster and not exempt. A random stream of
        its own, so adding them left every other generated row as it was."""
        rng, today = random.Random(f"{self.scale}:{self.seed}:training"), self.today
        rows = self.writer.table(TrainingRecord, ["id", "member_id", "branch_id", "held_on", "hours", "title",
                                                  "organiser", "kind", "submit_token", "recorded_by_id",
                                                  "recorded_at", "voided_at", "void_reason"])  # fmt: skip
        years = range(self.window_start.year, today.year + 1)
        for p in self.people:
            if not p.joined_on:
                continue
            attends = 0.7 if p.stints[0].branch.weak else rng.choice((0.85, 0.97, 0.97, 0.97))
            for year in years:
                for index, (month, day, kind, hours, title) in enumerate(self.TRAININGS):
                    on = date(year, month, day)
                    stint = self._training_stint(p, on)
                    if stint is None or rng.random() > attends:
                        continue
                    rows.add((rows.new_id(), p.id, stint.branch.id, on, hours, title, "镇党委", kind,
                              f"gen-{stint.branch.id}-{year}-{index}", None, self._moment(on), None, ""))  # fmt: skip
                on = min(date(year, 11, 20), today)
                stint = self._training_stint(p, on)
                if stint is not None and on >= self.window_start:
                    share = Decimal((on - date(year, 1, 1)).days + 1) / 365
                    online = (Decimal(rng.randrange(20, 200)) / 10 * share).quantize(Decimal("0.1"))
                    if online > 0:
                        rows.add((rows.new_id(), p.id, stint.branch.id, on, online, "党员教育网络学习", "县党员教育平台",
                                  TrainingKind.ONLINE, f"gen-online-{p.id}-{year}", None, self._moment(on), None, ""))  # fmt: skip

    def _training_stint(self, p, on):
        """The stint the member was in on the day, if they were then a party member in good standing,
        not exempt, and the day is in the window and not in the future."""
        if on < self.window_start or on > self.today or on < p.joined_on:
            return None
        if p.suspended_on and on >= p.suspended_on:
            return None
        if any(start <= on and (end is None or on <= end) for start, end in p.exemptions):
            return None
        return next((s for s in p.stints if s.start <= on and (s.end is None or on < s.end)), None)

    # ------------------------------------------------------------ committees

    def write_terms(self):
        w, rng, today = self.writer, self.rng, self.today
        terms = w.table(CommitteeTerm, ["id", "organisation_id", "elected_on", "ends_on", "note"])
        positions = w.table(CommitteePosition, ["id", "term_id", "position", "holder_name", "started_on",
                                                "ended_on"])  # fmt: skip
        residents = {}
        for p in self.people:
            if p.settled and p.category == "full" and p.on_roster:
                residents.setdefault(p.stints[0].branch.id, []).append(p)
        for unit in [*self._committees(), *self.branches]:
            if unit.dissolved_on:
                continue
            years = default_term_years(unit)
            pool = residents.get(unit.id, [])
            large = unit.level != L.BRANCH or len(pool) >= 7
            roll = rng.random()
            if roll < 0.04:  # term ended: election overdue
                last = today - relativedelta(years=years) - timedelta(days=rng.randint(10, 300))
            elif roll < 0.07:  # ends within six months
                last = today - relativedelta(years=years) + timedelta(days=rng.randint(20, 170))
            else:
                last = today - timedelta(days=rng.randint(30, years * 365 - 200))
            elections = [last]
            while elections[-1] > self.window_start:
                elections.append(
                    elections[-1] - relativedelta(years=years) + timedelta(days=rng.randint(-20, 20))
                )
            elections = [e for e in reversed(elections) if e >= unit.founded_on] or [
                max(unit.founded_on, last)
            ]
            codes = [Position.SECRETARY]
            if large:
                codes += [Position.ORGANISATION, Position.PROPAGANDA, Position.DISCIPLINE]
                if len(pool) >= 20 or unit.level != L.BRANCH:
                    codes.insert(1, Position.DEPUTY_SECRETARY)
            elif rng.random() < 0.3:
                codes.append(Position.DEPUTY_SECRETARY)
            holders = rng.sample(pool, min(len(codes) + 1, len(pool))) if pool else []
            for index, elected in enumerate(elections):
                ended = elections[index + 1] if index + 1 < len(elections) else None
                term_id = terms.new_id()
                terms.add((term_id, unit.id, elected, elected + relativedelta(years=years), ""))
                if index and holders and rng.random() < 0.5:  # one post changes hands at each election
                    holders = holders[1:] + holders[:1]
                names = [h.name for h in holders] or [self._name() for _ in codes]
                posts = [(code, names[i % len(names)]) for i, code in enumerate(codes)]
                for code, name in posts:
                    positions.add((positions.new_id(), term_id, code, name, elected, ended))
                unit.terms.append((elected, ended, {name for _c, name in posts}, large))
            unit.secretary = posts[0][1]

    def _committees(self):
        def walk(unit):
            if unit.level in (L.PARTY_COMMITTEE, L.GENERAL_BRANCH):
                yield unit
                for child in unit.children:
                    yield from walk(child)

        return list(walk(self.root))

    # ------------------------------------------------------------ meetings

    def write_meetings(self):
        w = self.writer
        self.meetings = w.table(Meeting, [
            "id", "branch_id", "group_id", "held_on", "start_time", "place", "host", "recorder", "topic",
            "lecturer", "content", "resolutions", "guests", "for_year", "opinions", "talks_summary",
            "self_examination", "criticism", "reported_on", "off_day_approved_by", "off_day_approved_on",
            "entered_at", "lateness_days", "is_backfill", "backfill_reason", "low_quorum", "review_state",
            "review_comment", "submit_token", "created_by_id", "voided_at", "void_reason",
        ])  # fmt: skip
        self.tags = w.table(MeetingTypeTag, ["id", "meeting_id", "type"])
        self.attendance = w.table(Attendance, ["id", "meeting_id", "member_id", "status", "leave_reason",
                                               "is_full_member"])  # fmt: skip
        self.items = w.table(RectificationItem, ["id", "meeting_id", "problem", "measure", "owner", "due_on",
                                                 "done_on", "void_reason"])  # fmt: skip
        talks = w.table(Talk, ["id", "branch_id", "talked_on", "initiator_id", "counterpart_id", "topic",
                               "entered_at", "voided_at", "void_reason"])  # fmt: skip
        for p in self.people:
            for s in p.stints:
                s.branch.people.append((p, s))
                if s.group:
                    s.group.people.append((p, s))
        months = dues.months_between(self.window_start, self.today)
        for index, branch in enumerate(self.branches):
            self._branch_meetings(branch, months)
            self._talks(branch, talks)
            if index % 200 == 199:
                self.progress(f"  会议：{index + 1}/{len(self.branches)} 个支部，{self.meetings.written} 次")

    def _branch_meetings(self, branch, months):
        rng, today = self.rng, self.today
        end = branch.dissolved_on or today + timedelta(days=1)
        skip = 0.45 if branch.weak else 0.04
        for month in months:
            if month < branch.founded_on.replace(day=1) or month >= end or rng.random() < skip:
                continue
            theme = fixed_theme_day(None, month)  # the default: generated counties set no local values
            approval = None
            if rng.random() < 0.06:  # moved off the fixed day; most with an approval
                theme = theme - timedelta(days=rng.randint(1, 6))
                approval = rng.random() < 0.7
            quarter_first, quarter_last = month.month % 3 == 1, month.month % 3 == 0
            theme_types = [MT.THEME_DAY]
            separate = []
            if quarter_last or rng.random() < branch.extra_lectures:
                (theme_types if rng.random() < 0.15 else separate).append(MT.PARTY_LECTURE)
            if branch.merged_group or quarter_first or rng.random() < branch.extra_general:
                (theme_types if rng.random() < (0.5 if branch.merged_group else 0.2) else separate).append(
                    MT.GENERAL_MEETING
                )
            plan = [(theme_types, None, theme, approval)]
            plan += [([t], None, month + timedelta(days=rng.randint(7, 20)), None) for t in separate]
            term = self._term_on(branch, month)
            if term and term[3] and rng.random() > (0.3 if branch.weak else 0.05):
                plan.append(([MT.COMMITTEE_MEETING], None, month + timedelta(days=rng.randint(2, 7)), None))
                if rng.random() < branch.busy:  # a second 支委会 (发展党员, 评先评优 …)
                    plan.append(
                        ([MT.COMMITTEE_MEETING], None, month + timedelta(days=rng.randint(12, 18)), None)
                    )
            for group in branch.groups:
                if rng.random() > 0.05:
                    plan.append(([MT.GROUP_MEETING], group, month + timedelta(days=rng.randint(9, 16)), None))
                if rng.random() < branch.busy:  # a second 党小组会 (学习 + 讨论)
                    plan.append(
                        ([MT.GROUP_MEETING], group, month + timedelta(days=rng.randint(17, 24)), None)
                    )
            if month.month in (1, 12) and rng.random() < (0.95 if month.month == 1 else 0.2):
                for_year = month.year - 1 if month.month == 1 else month.year
                if (branch.id, for_year) not in self._org_life:
                    self._org_life.add((branch.id, for_year))
                    day = month + timedelta(days=rng.randint(5, 25))
                    plan.append(([MT.ORG_LIFE_MEETING, MT.GENERAL_MEETING], None, day, for_year))
            for types, group, held_on, extra in plan:
                if branch.founded_on <= held_on <= today and (
                    not branch.dissolved_on or held_on < branch.dissolved_on
                ):
                    self._meeting(branch, types, group, held_on, extra)

    def _term_on(self, branch, on):
        chosen = None
        for term in branch.terms:
            if term[0] <= on:
                chosen = term
        return chosen

    def _meeting(self, branch, types, group, held_on, extra, void_copy=False):
        rng, today = self.rng, self.today
        roll = rng.random()
        lag = rng.randint(0, 1) if roll < 0.7 else rng.randint(2, 3) if roll < 0.94 else rng.randint(5, 40)
        entered_on = min(held_on + timedelta(days=lag), today)
        lateness = _working_days(held_on, entered_on)
        backfill = lateness > DEFAULT_BACKFILL_DAYS  # generated counties set no local values
        main = types[0]
        secretary = getattr(branch, "secretary", "")
        for_year = extra if main == MT.ORG_LIFE_MEETING else None
        off_by, off_on = "", None
        if main == MT.THEME_DAY and extra:
            off_by, off_on = "镇党委组织委员", held_on - timedelta(days=rng.randint(2, 6))
        org_life = main == MT.ORG_LIFE_MEETING
        complete = org_life and rng.random() < 0.9
        if held_on < today - timedelta(days=60):
            r = rng.random()
            review = (
                ReviewState.CONFIRMED
                if r < 0.75
                else ReviewState.RETURNED
                if r < 0.76
                else ReviewState.SUBMITTED
            )
        else:
            review = ReviewState.CONFIRMED if rng.random() < 0.1 else ReviewState.SUBMITTED
        meeting_id = self.meetings.new_id()
        rows = self._attendance(branch, types, group, held_on, meeting_id)
        full = [r for r in rows if r[4]]
        low_quorum = (
            MT.GENERAL_MEETING in types
            and bool(full)
            and sum(r[2] == AS.PRESENT for r in full) * 2 <= len(full)
        )
        voided = self._moment(entered_on + timedelta(days=rng.randint(0, 3)), 21, 0) if void_copy else None
        self.meetings.add((
            meeting_id, branch.id, group.id if group else None, held_on,
            time(9, 0) if rng.random() < 0.4 else time(14, 30) if rng.random() < 0.7 else time(19, 30),
            "党员活动室", secretary or "支部书记", "组织委员", rng.choice(TOPICS[main]) if not org_life else
            f"{for_year}年度组织生活会", secretary if MT.PARTY_LECTURE in types else "", CONTENT,
            "", "", for_year,
            "会前征求党员群众意见若干条。" if org_life else "", "支委之间、支委与党员之间开展谈心谈话。" if org_life else "",
            "支部班子和党员个人撰写对照检查材料。" if complete else "", "逐一开展批评与自我批评。" if org_life else "",
            held_on + timedelta(days=rng.randint(5, 20)) if complete and held_on + timedelta(days=20) <= today else None,
            off_by, off_on, min(self._moment(entered_on), self.now), lateness, backfill,
            "会议记录本遗失后据签到表补录" if backfill else "", low_quorum,
            review, "会议记录过于简单，请补充党员发言要点。" if review == ReviewState.RETURNED else "",
            f"gen-{self.scale}{self.seed}-{meeting_id}", None, voided, "重复录入" if voided else "",
        ))  # fmt: skip
        for t in types:
            self.tags.add((self.tags.new_id(), meeting_id, t))
        for row in rows:
            self.attendance.add(row)
        if org_life and complete:
            for index in range(rng.randint(1, 3)):
                due = held_on + timedelta(days=rng.randint(60, 180))
                self.items.add((self.items.new_id(), meeting_id, ["理论学习形式单一", "联系服务群众不够深入",
                               "组织生活制度落实不够严格"][index], "制定整改措施，限期完成", "支部书记", due,
                               due - timedelta(days=20) if due < today else None, ""))  # fmt: skip
        if not void_copy and rng.random() < 0.01:  # entered twice; the copy is voided
            self._meeting(branch, types, group, held_on, extra, void_copy=True)

    def _attendance(self, branch, types, group, on, meeting_id):
        """The service's 应到 on the meeting date, with a realistic status for each."""
        rng = self.rng
        unit = group or branch
        committee_names = None
        if types == [MT.COMMITTEE_MEETING]:
            term = self._term_on(branch, on)
            committee_names = term[2] if term else set()
        rows = []
        table = self.attendance
        for person, stint in unit.people:
            if stint.start > on or (stint.end is not None and stint.end <= on):
                continue
            if (group is not None and stint.group is not group) or (
                group is None and stint.branch is not branch
            ):
                continue
            joined = person.dates.get("joined_on")
            if joined is None or joined > on or (person.suspended_on and person.suspended_on <= on):
                continue
            if person.exemptions and any(s <= on and (e is None or e >= on) for s, e in person.exemptions):
                continue
            if committee_names is not None and person.name not in committee_names:
                continue
            reason = ""
            if person.away and any(s <= on and (e is None or e >= on) for s, e in person.away):
                status = AS.AWAY
            elif person.chronic_from and on >= person.chronic_from:
                status = AS.ABSENT
            else:
                roll = rng.random()
                if roll < person.absence * 0.5:
                    status = AS.ABSENT
                elif roll < person.absence:
                    status, reason = AS.LEAVE, LEAVE_REASONS[int(roll * 1000) % len(LEAVE_REASONS)]
                else:
                    status = AS.PRESENT
            confirmed = person.dates.get("confirmed_on")
            rows.append(
                (
                    table.new_id(),
                    meeting_id,
                    person.id,
                    status,
                    reason,
                    confirmed is not None and confirmed <= on,
                )
            )
        return rows

    def _talks(self, branch, table):
        """谈心谈话: each year the secretary talks with most members of the branch."""
        rng, today = self.rng, self.today
        secretary = next((p for p, s in branch.people if p.name == getattr(branch, "secretary", None)), None)
        if secretary is None or branch.dissolved_on:
            return
        for year in range(self.window_start.year + 1, today.year + 1):
            for person, stint in branch.people:
                if person is secretary or not person.settled or stint.end or rng.random() > 0.6:
                    continue
                on = self._day(date(year, 1, 5), min(date(year, 12, 20), today))
                if on < stint.start:
                    continue
                table.add((table.new_id(), branch.id, on, secretary.id, person.id, "思想工作情况交流",
                           self._moment(on), None, ""))  # fmt: skip

    # ------------------------------------------------------------ logins

    def write_users(self):
        """Logins for looking around (password zhibu2026) and for the benchmark's requests."""
        User = get_user_model()
        password = make_password(DEMO_PASSWORD)
        town = self.townships[0]
        town_branches = [b for b in self.branches if b.path.startswith(town.path) and not b.dissolved_on]
        big = max(town_branches, key=lambda b: (len(b.groups), b.size))
        people = [p for p, s in big.people if p.on_roster and p.settled and p.category == "full"]
        prefix = f"{self.scale.lower()}_"
        plan = [("office", Role.TOWNSHIP_ADMIN, town), ("leader", Role.TOWNSHIP_LEADER, town),
                ("secretary", Role.SECRETARY, big), ("member", Role.MEMBER, big)]  # fmt: skip
        if self.root is not town:
            plan.insert(0, ("county", Role.TOWNSHIP_ADMIN, self.root))
        made = {}
        for name, role, unit in plan:
            user, _ = User.objects.get_or_create(username=prefix + name, defaults={"password": password})
            RoleAssignment.objects.get_or_create(user=user, organisation_id=unit.id, role=role)
            made[name] = user
        if people:
            Member.objects.filter(pk=people[0].id).update(user=made["member"])
        return made

    # ------------------------------------------------------------ all of it

    def run(self):
        self._org_life = set()
        steps = [
            ("党组织", lambda: (self.build_tree(), self.write_tree())),
            ("党员", lambda: (self.build_people(), self.write_people())),
            ("届次", self.write_terms),
            ("党费、思想汇报、发展党员", self.write_member_records),
            ("会议、出勤、谈心谈话", self.write_meetings),
            ("学习培训", self.write_training),
        ]
        for label, step in steps:
            self.progress(f"生成{label}…")
            step()
        counts = self.writer.finish()
        self.users = self.write_users()
        counts.update(organisations_branches=len(self.branches))
        return counts


@cache
def _working_days(start, end):
    return working_days_between(start, end)


# ---------------------------------------------------------------- marker


def ensure_marker_table():
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {MARKER_TABLE} (scale varchar(4), seed integer, "
            "generated_on varchar(10), root_id bigint, counts text)"
        )


def read_marker():
    """[(scale, seed, generated_on, root_id, counts)] of the generated data in this database."""
    ensure_marker_table()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT scale, seed, generated_on, root_id, counts FROM {MARKER_TABLE}")  # noqa: S608
        return cursor.fetchall()


def write_marker(*, scale, seed, today, root_id, counts):
    import json

    ensure_marker_table()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {MARKER_TABLE} (scale, seed, generated_on, root_id, counts) VALUES (%s, %s, %s, %s, %s)",  # noqa: S608
            [scale, seed, today.isoformat(), root_id, json.dumps(counts, ensure_ascii=False)],
        )


def generate(*, scale, seed, today=None, progress=None, refresh=True):
    """Write one generated township / county / district; returns (root id, counts)."""
    from compliance import engine

    today = today or timezone.localdate()
    generator = Generator(scale=scale, seed=seed, today=today, progress=progress)
    counts = generator.run()
    if refresh:
        (progress or (lambda m: None))("合规刷新（生成提醒）…")
        result = engine.refresh(as_of=today)
        counts["flags_open"] = result["open"]
    write_marker(scale=scale, seed=seed, today=today, root_id=generator.root.id, counts=counts)
    return generator, counts
