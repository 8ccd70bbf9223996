"""Every URL × every role × in scope / out of scope / anonymous.

Adding a URL without adding it to ROUTES makes test_every_url_is_covered fail.
"""

from dataclasses import dataclass
from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from branches import services
from branches.models import Organisation, Role, RoleAssignment
from compliance.models import RuleSetting
from evaluations import services as review_services
from evaluations.models import Campaign, FollowUp, Participant
from ledgers.models import LedgerExport
from meetings import services as meeting_services
from meetings.models import Meeting, Talk, YearLock
from members import services as member_services
from members.models import Member, RosterImport, ThoughtReport, TrainingRecord
from tests.conftest import PERSONA_HOMES, make_campaign, make_meeting, make_member

ROLES = [*Role, "superuser"]


@dataclass(frozen=True)
class Route:
    """How to reach a URL and what each role should get.

    target: None for URLs without an object; "org" or "term" for scoped objects.
    in_scope: expected status per role when the object is inside the role's scope.
    """

    target: str | None
    in_scope: dict
    write: bool = False
    post: dict | None = None  # POST-only views: the data a real form sends


EVERYONE_OK = dict.fromkeys(ROLES, 200)
VIEW = {
    Role.TOWNSHIP_ADMIN: 200,
    Role.TOWNSHIP_LEADER: 200,
    Role.INSTRUCTOR: 200,
    Role.SECRETARY: 200,
    Role.COMMITTEE_MEMBER: 200,
    Role.GROUP_LEADER: 200,
    Role.MEMBER: 404,
    "superuser": 200,
}
MANAGE = {
    Role.TOWNSHIP_ADMIN: 200,
    Role.TOWNSHIP_LEADER: 403,
    Role.INSTRUCTOR: 403,
    Role.SECRETARY: 403,
    Role.COMMITTEE_MEMBER: 403,
    Role.GROUP_LEADER: 403,
    Role.MEMBER: 404,
    "superuser": 200,
}
# Terms belong to the branch, which a group leader (scoped to one 党小组) cannot see.
MANAGE_TERM = {**MANAGE, Role.GROUP_LEADER: 404}
HOME = {
    **dict.fromkeys(ROLES, 302),
}
# Registering or importing members: roles that record for a whole branch.
RECORD_ANYWHERE = {
    **dict.fromkeys(ROLES, 403),
    Role.TOWNSHIP_ADMIN: 200,
    Role.SECRETARY: 200,
    Role.COMMITTEE_MEMBER: 200,
    "superuser": 200,
}
# A member's record: everyone in scope reads it (a 党员 reads their own); the branch changes it.
MEMBER_VIEW = EVERYONE_OK
MEMBER_RECORD = {
    **dict.fromkeys(ROLES, 403),
    Role.TOWNSHIP_ADMIN: 200,
    Role.SECRETARY: 200,
    Role.COMMITTEE_MEMBER: 200,
    "superuser": 200,
}
BRANCH_VIEW = {**VIEW, Role.GROUP_LEADER: 404}
# A 党员's own login, opened from their page by the office (Action.ACCOUNTS).
MEMBER_ACCOUNT = {**dict.fromkeys(ROLES, 403), Role.TOWNSHIP_ADMIN: 302, "superuser": 302}
# Meetings: the test meeting is a 党小组会 of g1, so the group leader sees and records it.
MEETING_RECORD = {**MANAGE, Role.SECRETARY: 200, Role.COMMITTEE_MEMBER: 200, Role.GROUP_LEADER: 200}
MEETING_CREATE = {**RECORD_ANYWHERE, Role.GROUP_LEADER: 200}
MEETING_REVIEW = {**MANAGE, Role.TOWNSHIP_ADMIN: 302, Role.INSTRUCTOR: 302, "superuser": 302}
BRANCH_MANAGE_POST = {**MANAGE, Role.TOWNSHIP_ADMIN: 302, "superuser": 302, Role.GROUP_LEADER: 404}
# 民主评议 belongs to the branch: the branch records it, the township office returns it.
BRANCH_RECORD = {**MANAGE, Role.SECRETARY: 200, Role.COMMITTEE_MEMBER: 200, Role.GROUP_LEADER: 404}
BRANCH_RECORD_POST = {**BRANCH_RECORD, **{r: 302 for r, code in BRANCH_RECORD.items() if code == 200}}
BRANCH_REVIEW = {**MANAGE, Role.INSTRUCTOR: 200, Role.GROUP_LEADER: 404}
# Ledgers: roles with Action.EXPORT; a group leader cannot see the branch, a committee member may not export.
EXPORT_BRANCH = {**BRANCH_VIEW, Role.COMMITTEE_MEMBER: 403}
# The township's summary: only roles placed on the township itself see it.
EXPORT_TOWNSHIP = {
    **dict.fromkeys(ROLES, 404),
    Role.TOWNSHIP_ADMIN: 200,
    Role.TOWNSHIP_LEADER: 200,
    "superuser": 200,
}
# The 操作记录 across records: the township office's roles (Action.AUDIT); a branch role lacks it.
AUDIT_LOG = {
    **dict.fromkeys(ROLES, 403),
    Role.TOWNSHIP_ADMIN: 200,
    Role.TOWNSHIP_LEADER: 200,
    Role.INSTRUCTOR: 200,
    "superuser": 200,
}
# An export is served to the user who asked for it, while they may still export that organisation.
OWN_EXPORT = {**dict.fromkeys(ROLES, 404), **dict.fromkeys((Role.TOWNSHIP_ADMIN, Role.TOWNSHIP_LEADER, Role.INSTRUCTOR, Role.SECRETARY, "superuser"), 200)}  # fmt: skip

# Accounts: the 党委管理员 opens and manages the accounts of the subtree.
ACCOUNTS_ANYWHERE = {**dict.fromkeys(ROLES, 403), Role.TOWNSHIP_ADMIN: 200, "superuser": 200}
ACCOUNT = {**MANAGE, Role.GROUP_LEADER: 404}  # the account's roles lie in a1, beyond a 党小组长's group
ACCOUNT_POST = {**ACCOUNT, Role.TOWNSHIP_ADMIN: 302, "superuser": 302}

ROUTES = {
    "home": Route(None, HOME),
    "favicon": Route(None, dict.fromkeys(ROLES, 302)),  # to the icon under static/, for anyone
    "login": Route(None, dict.fromkeys(ROLES, 302)),  # a logged-in user is sent on
    "logout": Route(None, dict.fromkeys(ROLES, 405)),  # POST only
    "password_change": Route(None, EVERYONE_OK),
    "password_change_done": Route(None, EVERYONE_OK),
    "branches:tree": Route(None, EVERYONE_OK),
    "branches:detail": Route("org", VIEW),
    "branches:create": Route("org", MANAGE, write=True),
    "branches:edit": Route("org", MANAGE, write=True),
    "branches:move": Route("org", MANAGE, write=True),
    "branches:dissolve": Route("org", MANAGE, write=True),
    "branches:term_create": Route("org", MANAGE, write=True),
    "branches:term_edit": Route("term", MANAGE_TERM, write=True),
    "branches:accounts": Route(None, ACCOUNTS_ANYWHERE),
    "branches:account_create": Route(None, ACCOUNTS_ANYWHERE, write=True),
    "branches:account_detail": Route("account", ACCOUNT, write=True),
    "branches:account_revoke": Route("account_role", ACCOUNT_POST, write=True, post={}),
    "branches:account_password": Route("account", ACCOUNT_POST, write=True, post={}),
    "branches:account_email": Route("account", ACCOUNT_POST, write=True, post={"email": "a@example.cn"}),
    "branches:account_active": Route("account", ACCOUNT_POST, write=True, post={"active": "0"}),
    "members:list": Route(None, EVERYONE_OK),
    "members:export": Route(None, EVERYONE_OK),
    "members:create": Route(None, RECORD_ANYWHERE, write=True),
    "members:import": Route(None, RECORD_ANYWHERE, write=True),
    "members:import_detail": Route("import", RECORD_ANYWHERE, write=True),
    "members:detail": Route("member", MEMBER_VIEW),
    "members:edit": Route("member", MEMBER_RECORD, write=True),
    "members:account": Route("member", MEMBER_ACCOUNT, write=True, post={"username": "new_login"}),
    "members:action": Route("member_action", MEMBER_RECORD, write=True),
    "members:correct_date": Route("member", MEMBER_RECORD, write=True),
    "members:void": Route("member_record", MEMBER_RECORD, write=True),
    "members:dues_month": Route("branch", BRANCH_VIEW, write=True),
    "members:training": Route("branch", BRANCH_VIEW),
    "members:training_create": Route("branch", BRANCH_RECORD, write=True),
    "members:training_void": Route("training", BRANCH_RECORD, write=True),
    "compliance:flags": Route(None, EVERYONE_OK),
    # One's own email subscription of one's scope's flags: every role with a scope; a 党员's own login has
    # none (its reminders are on its page), and subscribing is refused.
    "compliance:digest": Route(
        None, {**dict.fromkeys(ROLES, 302), Role.MEMBER: 403}, write=True, post={"enabled": "1"}
    ),
    "compliance:checklist": Route("branch", BRANCH_VIEW),
    "compliance:settings": Route(
        None, {**dict.fromkeys(ROLES, 403), Role.TOWNSHIP_ADMIN: 200, "superuser": 200}, write=True
    ),
    # A pending local setting of the branch, withdrawn by the 党委管理员; the branch's roles see it is there.
    "compliance:setting_withdraw": Route("setting", MANAGE_TERM, write=True),
    "dashboards:township": Route("org_query", BRANCH_VIEW),
    "dashboards:obligations": Route("org_query", BRANCH_VIEW),
    "dashboards:pipeline": Route("org_query", BRANCH_VIEW),
    "dashboards:branch": Route("branch", BRANCH_VIEW),
    "meetings:list": Route(None, EVERYONE_OK),
    "meetings:create": Route(None, MEETING_CREATE, write=True),
    "meetings:detail": Route("meeting", VIEW),
    "meetings:edit": Route("meeting", MEETING_RECORD, write=True),
    "meetings:void": Route("meeting", MEETING_RECORD, write=True),
    "meetings:review": Route("meeting", MEETING_REVIEW, write=True, post={"decision": "confirmed"}),
    "meetings:attachment": Route("attachment", VIEW),
    "meetings:talks": Route("branch", BRANCH_VIEW, write=True),
    # A talk is corrected or voided by those who record for its branch.
    "meetings:talk_edit": Route("talk", BRANCH_RECORD, write=True),
    "meetings:talk_void": Route("talk", BRANCH_RECORD, write=True),
    "meetings:year_lock": Route(
        "branch", BRANCH_MANAGE_POST, write=True, post={"year": "2025", "locked": "1"}
    ),
    "reviews:overview": Route(None, EVERYONE_OK),
    "reviews:branch": Route("branch", BRANCH_VIEW),
    "reviews:open": Route("branch", BRANCH_RECORD, write=True),
    "reviews:detail": Route("campaign", BRANCH_VIEW),
    "reviews:edit": Route("campaign", BRANCH_RECORD, write=True),
    "reviews:results": Route("campaign", BRANCH_RECORD, write=True),
    "reviews:close": Route("campaign", BRANCH_RECORD_POST, write=True, post={}),
    "reviews:report": Route("campaign", BRANCH_RECORD, write=True),
    "reviews:return": Route("campaign", BRANCH_REVIEW, write=True),
    "reviews:reopen": Route("campaign", BRANCH_RECORD_POST, write=True, post={}),
    "reviews:void": Route("campaign", BRANCH_RECORD, write=True),
    "reviews:followup_add": Route("participant", BRANCH_RECORD, write=True),
    "reviews:followup_close": Route("followup", BRANCH_RECORD, write=True),
    "ledgers:list": Route(None, EVERYONE_OK),
    "ledgers:branch_export": Route("branch", EXPORT_BRANCH, write=True),
    "ledgers:township_export": Route("township", EXPORT_TOWNSHIP, write=True),
    "ledgers:detail": Route("export", OWN_EXPORT),
    "ledgers:status": Route("export", OWN_EXPORT),
    "ledgers:download": Route("export", OWN_EXPORT),
    "audit:log": Route(None, AUDIT_LOG),
    # A record's 修改历史: whoever may open the record.
    "audit:meeting": Route("meeting", VIEW),
    "audit:member": Route("member", MEMBER_VIEW),
}
PUBLIC = {"login", "favicon"}


def _walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            namespace = f"{prefix}{entry.namespace}:" if entry.namespace else prefix
            yield from _walk(entry.url_patterns, namespace)
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{prefix}{entry.name}"


def test_every_url_is_covered():
    names = {name for name in _walk(get_resolver().url_patterns) if not name.startswith("admin:")}
    assert names - ROUTES.keys() == set(), "add the new URLs to ROUTES in this test"
    assert ROUTES.keys() - names == set()


@pytest.fixture
def world(personas, tree):
    for org in (tree.a1, tree.b1):
        services.record_term(
            organisation=org, elected_on=date(2024, 1, 5), positions=[("secretary", "赵书记")]
        )
    people = {
        "a1": make_member(tree.a1, tree.g1, "320102198007227312", name="甲党员"),
        "b1": make_member(tree.b1, None, "440106195109195322", name="乙党员"),
        "self": make_member(tree.a1, None, "320102197704166821", name="本人", user=personas[Role.MEMBER]),
    }
    for member in people.values():
        ThoughtReport.objects.create(member=member, received_on=date(2025, 1, 1))
    for key, branch in (("a1", tree.a1), ("b1", tree.b1)):
        member_services.record_training(branch=branch, members=[people[key]], held_on=date(2025, 6, 1),
                                        hours=8, title="党章学习", token=f"matrix-{key}")  # fmt: skip
    imports = {
        key: RosterImport.objects.create(uploaded_by=user, filename="名册.xlsx", rows=[])
        for key, user in personas.items()
    }
    for user in personas.values():  # every persona once asked for a1's ledger; someone asked for b1's
        _done_export(user, tree.a1)
    _done_export(personas["superuser"], tree.b1)
    meetings = {
        "a1": make_meeting(tree.a1, tree.g1, [people["a1"]]),
        "b1": make_meeting(tree.b1, None, [people["b1"]], types=["theme_day"]),
    }
    for key, branch in (("a1", tree.a1), ("b1", tree.b1)):
        campaign = make_campaign(branch, grades={people[key]: ("basic", "学习不够主动")})
        participant = campaign.participants.get(member=people[key])
        review_services.add_followup(
            participant=participant,
            kind="rectify",
            proposed_on=date(2026, 11, 26),
            deadline_on=date(2027, 2, 1),
        )
    for key, roles in (("a1", [(tree.a1, Role.COMMITTEE_MEMBER), (tree.g1, Role.GROUP_LEADER)]),
                       ("b1", [(tree.b1, Role.SECRETARY)])):  # fmt: skip
        account = get_user_model().objects.create_user(username=f"account_{key}", password="pw-Testing-123")
        for organisation, role in roles:
            RoleAssignment.objects.create(user=account, organisation=organisation, role=role)
    for branch in (tree.a1, tree.b1):  # pending: withdrawable
        RuleSetting.objects.create(organisation=branch, rule="theme_day", enabled=False,
                                   effective_from=date(timezone.localdate().year + 1, 1, 1))  # fmt: skip
    b1_partner = make_member(tree.b1, None, "440106195109195920", name="乙党员二")
    for branch, pair in ((tree.a1, (people["a1"], people["self"])), (tree.b1, (people["b1"], b1_partner))):
        meeting_services.record_talks(branch=branch, talked_on=date(2025, 6, 1), pairs=[(*pair, "谈工作")])
    return personas, tree, people, imports, meetings


def _done_export(user, organisation):
    export = LedgerExport.objects.create(
        created_by=user,
        kind="branch",
        organisation=organisation,
        year=2026,
        status="done",
        filename="台账.xlsx",
    )
    export.file.save("t.xlsx", ContentFile(b"PK"), save=True)


def _org_target(role, tree, in_scope):
    if not in_scope:
        return tree.b1
    home = PERSONA_HOMES.get(role, "a1")
    return getattr(tree, "a1" if home == "township" else home)


def _member_target(role, people, in_scope):
    if not in_scope:
        return people["b1"]
    return people["self"] if role == Role.MEMBER else people["a1"]


def _kwargs(route, role, world, *, in_scope):
    personas, tree, people, imports, meetings = world
    meeting = meetings["a1" if in_scope else "b1"]
    if route.target == "meeting":
        return {"pk": meeting.pk}
    if route.target == "attachment":
        return {"pk": meeting.pk, "attachment_pk": meeting.attachments.get().pk}
    if route.target == "org":
        return {"pk": _org_target(role, tree, in_scope).pk}
    if route.target == "term":
        return {"pk": (tree.a1 if in_scope else tree.b1).terms.get().pk}
    if route.target == "branch":
        return {"branch_pk": (tree.a1 if in_scope else tree.b1).pk}
    if route.target == "setting":
        return {"pk": RuleSetting.objects.get(organisation=tree.a1 if in_scope else tree.b1).pk}
    if route.target == "talk":
        talk = Talk.objects.get(branch=tree.a1 if in_scope else tree.b1)
        return {"branch_pk": talk.branch_id, "pk": talk.pk}
    campaign = Campaign.objects.get(branch=tree.a1 if in_scope else tree.b1)
    if route.target == "campaign":
        return {"pk": campaign.pk}
    if route.target == "participant":
        return {"pk": campaign.pk, "participant_pk": campaign.participants.get(grade="basic").pk}
    if route.target == "followup":
        return {"pk": FollowUp.objects.get(participant__campaign=campaign).pk}
    if route.target == "training":
        return {"pk": TrainingRecord.objects.get(branch=tree.a1 if in_scope else tree.b1).pk}
    if route.target in ("account", "account_role"):
        account = get_user_model().objects.get(username="account_a1" if in_scope else "account_b1")
        if route.target == "account":
            return {"pk": account.pk}
        return {"pk": account.pk, "assignment_pk": account.role_assignments.order_by("pk").first().pk}
    if route.target == "township":
        return {"pk": (tree.township if in_scope else tree.other_township).pk}
    if route.target == "export":
        if in_scope:
            return {"pk": LedgerExport.objects.get(created_by=personas[role], organisation=tree.a1).pk}
        return {"pk": LedgerExport.objects.get(organisation=tree.b1).pk}
    if route.target == "import":
        owner = role if in_scope else (Role.SECRETARY if role != Role.SECRETARY else Role.TOWNSHIP_ADMIN)
        return {"pk": imports[owner].pk}
    member = _member_target(role, people, in_scope)
    if route.target == "member":
        return {"pk": member.pk}
    if route.target == "member_action":
        return {"pk": member.pk, "action": "report"}
    return {"pk": member.pk, "kind": "report", "record_pk": member.thought_reports.get().pk}


def _url(name, route, role, world, *, in_scope):
    if route.target is None:
        return reverse(name)
    if route.target == "org_query":  # the organisation is a query parameter (?org=): the role's home
        tree = world[1]
        org = getattr(tree, PERSONA_HOMES.get(role, "township")) if in_scope else tree.b1
        return f"{reverse(name)}?org={org.pk}"
    return reverse(name, kwargs=_kwargs(route, role, world, in_scope=in_scope))


CASES = [(name, role) for name in ROUTES for role in ROLES]


@pytest.mark.parametrize(("name", "role"), CASES, ids=[f"{n}-{r}" for n, r in CASES])
def test_in_scope(world, client, name, role):
    personas = world[0]
    route = ROUTES[name]
    client.force_login(personas[role])
    url = _url(name, route, role, world, in_scope=True)
    response = client.post(url, route.post) if route.post is not None else client.get(url)
    assert response.status_code == route.in_scope[role], response.content[:300]


OUT_CASES = [(name, role) for name, route in ROUTES.items() if route.target for role in ROLES]


@pytest.mark.parametrize(("name", "role"), OUT_CASES, ids=[f"{n}-{r}" for n, r in OUT_CASES])
def test_out_of_scope_is_404(world, client, name, role):
    personas, tree, people, _imports, _meetings = world
    route = ROUTES[name]
    client.force_login(personas[role])
    url = _url(name, route, role, world, in_scope=False)
    # Another user's import is invisible even to a superuser: it holds that user's upload.
    if role == "superuser" and route.target != "import":
        expected = 302 if route.post is not None else 200
    else:
        expected = 404
    response = client.post(url, route.post) if route.post is not None else client.get(url)
    assert response.status_code == expected
    if route.write and role != "superuser":
        before = _snapshot(tree, people)
        data = {"name": "改名", "reason": "x", "dissolved_on": "2025-01-01", "received_on": "2025-02-01"}
        assert client.post(url, data).status_code == 404
        assert _snapshot(tree, people) == before


def _snapshot(tree, people):
    return (
        Organisation.objects.filter(pk=tree.b1.pk).values().get(),
        Member.objects.filter(pk=people["b1"].pk).values().get(),
        list(ThoughtReport.objects.filter(member=people["b1"]).values()),
        list(Meeting.objects.filter(branch=tree.b1).values()),
        list(YearLock.objects.filter(branch=tree.b1).values()),
        list(Talk.objects.filter(branch=tree.b1).values()),
        list(Campaign.objects.filter(branch=tree.b1).values()),
        list(Participant.objects.filter(campaign__branch=tree.b1).values()),
        list(FollowUp.objects.filter(participant__campaign__branch=tree.b1).values()),
        list(TrainingRecord.objects.filter(branch=tree.b1).values()),
        list(get_user_model().objects.filter(username="account_b1").values()),
        list(RoleAssignment.objects.filter(organisation=tree.b1).values()),
        list(RuleSetting.objects.filter(organisation=tree.b1).values()),
    )


@pytest.mark.parametrize("name", [n for n in ROUTES if n not in PUBLIC])
def test_anonymous_is_sent_to_login(world, client, name):
    route = ROUTES[name]
    url = _url(name, route, Role.SECRETARY, world, in_scope=True)
    response = client.post(url) if name == "logout" else client.get(url)
    if name == "logout":
        assert response.status_code == 302
        return
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name", [n for n, r in ROUTES.items() if r.write])
def test_write_views_reject_posts_without_csrf_token(world, name):
    personas, tree, people, _imports, _meetings = world
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    url = _url(name, ROUTES[name], Role.TOWNSHIP_ADMIN, world, in_scope=True)
    assert client.post(url, {"name": "新名称", "received_on": "2025-02-01"}).status_code == 403
    tree.a1.refresh_from_db()
    assert tree.a1.name == "甲社区第一党支部"
    assert people["a1"].thought_reports.count() == 1


def test_admin_is_for_staff_only(world, client):
    personas = world[0]
    client.force_login(personas[Role.TOWNSHIP_ADMIN])
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    client.force_login(personas["superuser"])
    assert client.get(reverse("admin:index")).status_code == 200
    assert client.get(reverse("admin:branches_organisation_changelist")).status_code == 200


def test_admin_shows_rule_settings_and_flags_read_only(world, client):
    client.force_login(world[0]["superuser"])
    assert client.get(reverse("admin:compliance_rulesetting_add")).status_code == 200
    assert client.get(reverse("admin:compliance_flag_changelist")).status_code == 200
    assert client.get(reverse("admin:compliance_flag_add")).status_code == 403
