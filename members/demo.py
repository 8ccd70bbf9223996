"""Demo members for the demo township: every branch gets a realistic roster, a year of dues,
and the lifecycle events (development pipeline, 外出, exemptions, transfers, reports) that
make every page show something. Deterministic for a seed; idempotent (skips branches that
already have members)."""

import random
from datetime import date, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.contrib.auth import get_user_model
from django.db import transaction
from simple_history.utils import bulk_create_with_history

from branches import demo as branch_demo
from branches.models import Organisation, OrgKind, OrgLevel

from . import dues, idcard, pipeline, services
from .models import (
    CategoryChange,
    DuesPayment,
    Exemption,
    ExemptionKind,
    Member,
    Membership,
    Mobility,
    PipelineEvent,
    PipelineEventKind,
    RosterImport,
    Status,
    StatusChange,
    ThoughtReport,
    TrainingKind,
    TrainingRecord,
    Transfer,
)

REGION_CODES = ["320102", "320104", "320105", "320106", "320111"]
EDUCATION = ["初中", "高中", "中专", "大学专科", "大学本科", "研究生"]
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程魏苏吕丁任沈姚卢"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国红梅兰晓辉鹏飞宇浩文斌志海波玲丹萍云燕亮春"
WORK = {
    OrgKind.VILLAGE: ["村民", "种植户", "养殖户", "村委会委员", "个体经营"],
    OrgKind.COMMUNITY: ["社区网格员", "公司职员", "个体经营", "教师", "医生", "退休"],
    OrgKind.RETIRED: ["退休"],
    OrgKind.GOVERNMENT: ["镇党政办科员", "镇经济发展办副主任", "镇财政所会计", "镇综治办干事"],
    OrgKind.PUBLIC_INSTITUTION: ["卫生院医生", "卫生院护士", "农技站技术员", "文化站干事"],
    OrgKind.SCHOOL: ["语文教师", "数学教师", "英语教师", "教务主任", "班主任"],
    OrgKind.STATE_ENTERPRISE: ["供电所电工", "营业厅班长", "线路运维员"],
    OrgKind.PRIVATE_ENTERPRISE: ["车间主任", "技术员", "销售经理", "质检员"],
    OrgKind.SOCIAL_ORGANISATION: ["社工", "项目主管", "志愿者协会秘书长"],
}
SIZE = {  # (min, max) people on a branch's roster
    OrgKind.VILLAGE: (22, 40),
    OrgKind.COMMUNITY: (25, 45),
    OrgKind.RETIRED: (30, 45),
    OrgKind.GOVERNMENT: (12, 20),
    OrgKind.PUBLIC_INSTITUTION: (9, 15),
    OrgKind.SCHOOL: (12, 22),
    OrgKind.STATE_ENTERPRISE: (5, 8),
    OrgKind.PRIVATE_ENTERPRISE: (5, 14),
    OrgKind.SOCIAL_ORGANISATION: (4, 6),
}


def _id_number(rng, birth_on, male, used):
    while True:
        body = f"{rng.choice(REGION_CODES)}{birth_on:%Y%m%d}{rng.randint(0, 99):02d}{rng.choice(range(1 if male else 0, 10, 2))}"
        number = body + idcard.check_character(body)
        if number not in used:
            used.add(number)
            return number


def _birth(rng, today, kind):
    low, high = (60, 88) if kind == OrgKind.RETIRED else (22, 78)
    return today - timedelta(days=rng.randint(low * 365, high * 365))


def _category(rng, index):
    if index < 2:
        return rng.choice([pipeline.APPLICANT, pipeline.ACTIVIST, pipeline.CANDIDATE])
    return pipeline.PROBATIONARY if rng.random() < 0.06 else pipeline.FULL


def _dates(rng, category, birth_on, today):
    """Pipeline dates consistent with the category: 18+ at joining, 转正 a year after 入党."""
    adult = birth_on + relativedelta(years=18, days=31)
    if category == pipeline.PROBATIONARY:
        joined = today - timedelta(days=rng.randint(60, 330))
        return {
            "applied_on": joined - timedelta(days=900),
            "activist_on": joined - timedelta(days=760),
            "candidate_on": joined - timedelta(days=200),
            "joined_on": joined,
        }
    if category == pipeline.FULL:
        joined = adult + timedelta(days=rng.randint(0, max((today - adult).days - 800, 1)))
        return {
            "joined_on": joined,
            "confirmed_on": joined + relativedelta(years=1),
        }
    applied = today - timedelta(days=rng.randint(400, 900))
    values = {"applied_on": applied}
    if category in (pipeline.ACTIVIST, pipeline.CANDIDATE):
        values["activist_on"] = applied + timedelta(days=rng.randint(35, 120))
    if category == pipeline.CANDIDATE:
        values["candidate_on"] = values["activist_on"] + timedelta(days=rng.randint(370, 420))
        if values["candidate_on"] > today:
            values["candidate_on"] = today - timedelta(days=3)
            values["activist_on"] = values["candidate_on"] - timedelta(days=380)
            values["applied_on"] = values["activist_on"] - timedelta(days=60)
    return values


def _dues_settings(rng, kind, birth_on, today):
    if kind == OrgKind.VILLAGE:
        return dues.FARMER, Decimal("0.50")
    if kind == OrgKind.RETIRED or today.year - birth_on.year >= 62:
        return dues.RETIREE, Decimal(rng.randrange(2600, 7200, 100))
    if kind == OrgKind.COMMUNITY and rng.random() < 0.15:
        return dues.UNEMPLOYED, None
    return dues.EMPLOYED, Decimal(rng.randrange(2800, 12500, 100))


def _person(rng):
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _build_members(branch, groups, rng, today, used):
    low, high = SIZE.get(branch.kind, (8, 15))
    people = []
    for index in range(rng.randint(low, high)):
        male = rng.random() < 0.55
        birth_on = _birth(rng, today, branch.kind)
        category = _category(rng, index)
        dues_kind, dues_base = _dues_settings(rng, branch.kind, birth_on, today)
        people.append(
            services.build_member(
                branch=branch,
                group=groups[index % len(groups)] if groups else None,
                today=today,
                name=_person(rng),
                id_number=_id_number(rng, birth_on, male, used),
                category=category,
                ethnicity="回族" if rng.random() < 0.04 else "汉族",
                education=rng.choice(EDUCATION),
                phone=f"1{rng.choice('3578')}{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}",
                work_unit=rng.choice(WORK.get(branch.kind, ["职员"])),
                dues_kind=dues_kind,
                dues_base=dues_base,
                **_dates(rng, category, birth_on, today),
            )
        )
    return people


def _lost_member(by_branch):
    if len(by_branch) < 3:
        return None
    return next(m for m in reversed(by_branch[3 % len(by_branch)]) if m.category == pipeline.FULL)


def _pay_dues(members, rng, today, *, silent):
    """Twelve months of dues, with a few members in arrears (3 and 6+ months) for the watch-lists."""
    payments = []
    this_month = dues.month_start(today)
    months = dues.months_between(date(this_month.year - 1, this_month.month, 1), this_month)
    for member in members:
        if member.category not in (pipeline.PROBATIONARY, pipeline.FULL):
            continue
        amount = member.monthly_dues
        roll = rng.random()
        unpaid_tail = 7 if roll < 0.02 else 3 if roll < 0.06 else 0
        start = dues.month_start(max(member.joined_on, months[0]))
        for month in months[:-1] if unpaid_tail == 0 else months[: -(unpaid_tail + 1)]:
            if month >= start and amount and not (member.pk in silent and month >= silent[member.pk]):
                payments.append(
                    DuesPayment(
                        member=member,
                        month=month,
                        amount=amount,
                        paid_on=month + timedelta(days=rng.randint(0, 25)),
                    )
                )
    DuesPayment.objects.bulk_create(payments, batch_size=2000)
    return len(payments)


def _half_year_reports(members, rng, today, *, silent):
    """党员 hand in a thought report every half-year (the 街道 rule); a few forget the last one."""
    reports = []
    for member in members:
        if member.category != pipeline.FULL:
            continue
        forgets = rng.random() < 0.04
        for year in (today.year - 1, today.year):
            for month in (5, 11):
                received = date(year, month, rng.randint(1, 20))
                if member.pk in silent and received >= silent[member.pk]:
                    continue
                if received <= today and not (forgets and received > today - timedelta(days=200)):
                    reports.append(
                        ThoughtReport(
                            member=member,
                            received_on=received,
                            title=f"{year}年{'上' if month == 5 else '下'}半年思想汇报",
                        )
                    )
    ThoughtReport.objects.bulk_create(reports, batch_size=2000)


def _life_events(branch_members, rng, today):
    """A handful of dated events per branch through the services, as a secretary would record them."""
    for members in branch_members:
        normal = [m for m in members if m.category == pipeline.FULL]
        if len(normal) > 8:
            elder = normal[0]
            services.record_exemption(
                member=elder,
                kind=ExemptionKind.FRAIL,
                started_on=today - timedelta(days=400),
                approved_on=today - timedelta(days=405),
                approved_by="支部委员会",
            )
            away = normal[1]
            services.start_mobility(
                member=away,
                destination=rng.choice(["江苏省苏州市", "广东省深圳市", "浙江省宁波市"]),
                started_on=today - timedelta(days=rng.choice([120, 250])),
                contact=away.phone,
                **(
                    {
                        "certificate_issued_on": today - timedelta(days=100),
                        "certificate_no": f"流{today.year}-{away.pk:04d}",
                    }
                    if rng.random() < 0.5
                    else {}
                ),
            )
        for member in members:
            if member.category in (pipeline.ACTIVIST, pipeline.CANDIDATE, pipeline.PROBATIONARY):
                for quarter in range(1, 4):
                    received = today - timedelta(days=90 * quarter + rng.randint(0, 20))
                    if received > (member.activist_on or member.joined_on or today):
                        ThoughtReport.objects.create(
                            member=member,
                            received_on=received,
                            title=f"{received.year}年第{(received.month - 1) // 3 + 1}季度思想汇报",
                        )
            if member.category == pipeline.APPLICANT and rng.random() < 0.5:
                services.record_pipeline_event(
                    member=member,
                    kind=PipelineEventKind.TALK,
                    happened_on=member.applied_on + timedelta(days=20),
                    note="支部委员谈话",
                )
            if member.category == pipeline.PROBATIONARY:
                services.record_pipeline_event(
                    member=member,
                    kind=PipelineEventKind.APPROVAL,
                    happened_on=member.joined_on + timedelta(days=45),
                    note="镇党委审批",
                )


# The branch's trainings of a year: (month, day, kind, 学时, content, organiser). With the online hours
# below, a member who attends them all has the 32 学时; missing one leaves many short.
TRAININGS = [
    (1, 15, TrainingKind.CLASSROOM, 8, "党员冬训", "镇党委"),
    (3, 12, TrainingKind.CLASSROOM, 8, "春季党员集中轮训", "镇党委"),
    (6, 28, TrainingKind.LECTURE, 4, "“七一”专题党课", "本支部"),
    (9, 18, TrainingKind.CLASSROOM, 8, "学习党的创新理论专题培训", "镇党校"),
]
ONLINE = ("党员教育网络学习", "县党员教育平台")


def _training(members, rng, today):
    """Last year's and this year's 集中学习培训: the branch's trainings (most members attend) and each
    member's online hours, so most reach the 32 学时 and some fall short."""
    exempt_from = dict(
        Exemption.objects.filter(member__in=members, voided_at__isnull=True).values_list(
            "member_id", "started_on"
        )
    )
    rows = []
    for member in members:
        if member.category not in (pipeline.PROBATIONARY, pipeline.FULL):
            continue
        keen = rng.random() < 0.8  # the rest miss a training or two
        # Up to the day before an exemption (年老体弱 in the demo) begins: nobody trains while exempt.
        until = min(today, exempt_from.get(member.pk, today + timedelta(days=1)) - timedelta(days=1))
        for year in (today.year - 1, today.year):
            for index, (month, day, kind, hours, title, organiser) in enumerate(TRAININGS):
                held_on = date(year, month, day)
                if held_on > until or held_on < member.joined_on or rng.random() > (0.97 if keen else 0.7):
                    continue
                rows.append(TrainingRecord(member=member, branch=member.branch, held_on=held_on, hours=hours,
                                           title=title, organiser=organiser, kind=kind,
                                           submit_token=f"demo-{member.branch_id}-{year}-{index}"))  # fmt: skip
            online_on = min(date(year, 11, 20), until)
            if online_on >= member.joined_on:
                # This year's online hours so far: a share of the year's, as a member logs them as they go.
                share = max((online_on - date(year, 1, 1)).days, 0) / 365
                hours = Decimal(rng.randrange(6, 20 if keen else 12)) * Decimal(str(round(share, 1)))
                if hours >= 1:
                    rows.append(TrainingRecord(member=member, branch=member.branch, held_on=online_on,
                                               hours=hours.quantize(Decimal("0.1")), title=ONLINE[0],
                                               organiser=ONLINE[1], kind=TrainingKind.ONLINE,
                                               submit_token=f"demo-online-{member.pk}-{year}"))  # fmt: skip
    bulk_create_with_history(rows, TrainingRecord, batch_size=2000)
    return len(rows)


def _seat_committee(branch, people, today):
    """Committee members, past and present, are members of their own branch: give their names to full members."""
    holders = list(
        dict.fromkeys(
            p.holder_name
            for term in branch.terms.order_by("-elected_on")
            for p in term.positions.order_by("pk")
        )
    )
    fixed = {"陈红梅"} if branch.name == "幸福里社区第一党支部" else set()
    full = [m for m in people if m.category == pipeline.FULL]
    for member, name in zip(full, [h for h in holders if h not in fixed], strict=False):
        member.name = name
        member.name_initials = services.name_initials(name)


def _fixed_people(branch, today, used):
    """The demo logins' own member records (secretary 陈红梅, member 张伟)."""
    User = get_user_model()
    rng = random.Random(7)
    made = []
    for username, name, male, birth in (
        ("secretary", "陈红梅", False, date(1978, 4, 12)),
        ("member", "张伟", True, date(1986, 9, 3)),
    ):
        member = services.build_member(
            branch=branch,
            group=branch.fixed_group,
            today=today,
            name=name,
            id_number=_id_number(rng, birth, male, used),
            category=pipeline.FULL,
            joined_on=birth + relativedelta(years=24),
            confirmed_on=birth + relativedelta(years=25),
            education="大学本科",
            phone="13912345678" if male else "13812345678",
            work_unit="社区工作者",
            dues_kind=dues.EMPLOYED,
            dues_base=Decimal("5200"),
        )
        member.user = User.objects.filter(username=username).first()
        made.append(member)
    return made


@transaction.atomic
def seed(*, root, seed=2026, today):
    rng = random.Random(seed)
    branches = list(
        Organisation.objects.get_tree(root).filter(level=OrgLevel.BRANCH, dissolved_on__isnull=True)
    )
    groups = {}
    for group in Organisation.objects.get_tree(root).filter(level=OrgLevel.GROUP, dissolved_on__isnull=True):
        groups.setdefault(group.path[: -group.steplen], []).append(group)
    used = set(Member.objects.values_list("id_number", flat=True))
    pending, per_branch = [], []
    for branch in branches:
        if branch.members.exists():
            continue
        people = _build_members(branch, groups.get(branch.path, []), rng, today, used)
        _seat_committee(branch, people, today)
        if branch.name == "幸福里社区第一党支部":
            branch.fixed_group = groups[branch.path][0]
            people += _fixed_people(branch, today, used)
        pending.extend(people)
        per_branch.append(len(people))
    created = services.bulk_register(pending, today=today, start_reason="登记")
    by_branch, start = [], 0
    for size in per_branch:
        by_branch.append(created[start : start + size])
        start += size
    # 失联: one member out of contact for eight months, so the 停止党籍 reminder is due. Since then they
    # have paid nothing and handed in nothing (nor attended: meetings.demo reads lost_contact_on).
    lost = _lost_member(by_branch)
    silent = {lost.pk: today - timedelta(days=240)} if lost else {}
    payments = _pay_dues(created, rng, today, silent=silent)
    _half_year_reports(created, rng, today, silent=silent)
    _life_events(by_branch, rng, today)
    trainings = _training(created, rng, today)
    _transfers_and_status(by_branch, rng, today)
    if lost:
        services.update_member(member=lost, lost_contact_on=silent[lost.pk], today=today)
    return {"members": len(created), "payments": payments, "training": trainings}


def _transfers_and_status(by_branch, rng, today):
    if len(by_branch) < 3:
        return
    leaver = next(m for m in by_branch[2] if m.category == pipeline.FULL)
    services.transfer_out(
        member=leaver,
        on=today - timedelta(days=75),
        counterpart="江苏省南京市鼓楼区某街道党工委",
        letter_no=f"组转{today.year}-017",
    )
    mover = next(m for m in by_branch[1] if m.category == pipeline.FULL)
    target = by_branch[0][0].branch
    services.move_member(
        member=mover,
        branch=target,
        group=by_branch[0][0].group,
        on=today - timedelta(days=40),
        letter_no=f"内转{today.year}-003",
    )
    deceased = next(m for m in reversed(by_branch[-1]) if m.category == pipeline.FULL)
    services.change_status(
        member=deceased, status=Status.DECEASED, on=today - timedelta(days=20), reason="病故"
    )


@transaction.atomic
def reset(*, root):
    """Remove the demo township's people and everything recorded about them (development only)."""
    demo_logins = {"admin", *(user[0] for user in branch_demo.USERS)}
    RosterImport.objects.filter(uploaded_by__username__in=demo_logins).delete()
    members = Member.objects.filter(branch__path__startswith=root.path)
    for model in (
        TrainingRecord,
        DuesPayment,
        ThoughtReport,
        PipelineEvent,
        Exemption,
        Mobility,
        Transfer,
        CategoryChange,
        StatusChange,
        Membership,
    ):
        model.objects.filter(member__in=members).delete()
    members.delete()
