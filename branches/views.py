from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from compliance.checklist import group_checklist
from compliance.selectors import by_priority, open_flags
from ledgers.forms import year_choices
from meetings.selectors import returned_meetings

from . import selectors, services
from .access import (
    OFFICE_ROLES,
    Action,
    acts_anywhere,
    can,
    get_account_for,
    get_object_for,
    get_organisation_for,
    member_organisations,
    roles_of,
    scope_roots,
)
from .forms import (
    AccountForm,
    DissolveForm,
    EmailForm,
    MoveForm,
    OrganisationForm,
    RoleForm,
    TermForm,
    submit_form,
)
from .models import CommitteeTerm, OrgLevel, Position, Role
from .passwords import password_to_show, show_password_once

BRANCH_WORK_ROLES = (Role.SECRETARY, Role.COMMITTEE_MEMBER, Role.GROUP_LEADER)


def home(request):
    """Send each user to where their work starts."""
    user = request.user
    roles = roles_of(user)
    if user.is_superuser or roles & OFFICE_ROLES:
        return redirect("dashboards:township")
    if roles & set(BRANCH_WORK_ROLES):
        top = scope_roots(user)[0]
        if top.level == OrgLevel.BRANCH and roles & {Role.SECRETARY, Role.COMMITTEE_MEMBER}:
            return redirect("dashboards:branch", branch_pk=top.pk)
        if top.level in (OrgLevel.PARTY_COMMITTEE, OrgLevel.GENERAL_BRANCH):
            return redirect("dashboards:township")
        return redirect("branches:detail", pk=top.pk)
    own = getattr(user, "member", None)  # the reverse one-to-one raises AttributeError when absent
    if own is not None:
        return redirect("members:detail", pk=own.pk)
    return render(request, "home_member.html", {"organisations": member_organisations(user)})


def organisation_tree(request):
    q = request.GET.get("q", "").strip()
    include_dissolved = request.GET.get("dissolved") == "1"
    context = {"q": q, "include_dissolved": include_dissolved}
    if q:
        results = selectors.search_organisations(request.user, q=q, include_dissolved=include_dissolved)
        page = Paginator(results, 50).get_page(request.GET.get("page"))
        page.object_list = selectors.with_current_terms(page.object_list)
        context["page"] = page
    else:
        context["nodes"] = selectors.organisation_tree(request.user, include_dissolved=include_dissolved)
    return render(request, "branches/tree.html", context)


def organisation_detail(request, pk):
    organisation = get_organisation_for(request.user, pk)
    context = selectors.organisation_detail(organisation, request.user)
    term = context["organisation"].current_term
    if term is not None:  # who left the committee during the term, with their dates
        context["term_left"] = list(term.positions.filter(ended_on__isnull=False).order_by("ended_on", "pk"))
    context["can_manage"] = can(request.user, organisation, Action.MANAGE)
    context["can_record"] = organisation.is_active and can(request.user, organisation, Action.RECORD)
    context["can_export"] = can(request.user, organisation, Action.EXPORT)
    if context["can_export"]:
        context["export_years"] = year_choices(organisation)
    if organisation.level == OrgLevel.BRANCH:
        # The secretary's landing page: records the township office returned for correction.
        context["returned"] = list(returned_meetings(request.user).filter(branch=organisation)[:10])
        context["flags"] = list(by_priority(open_flags(request.user).filter(branch=organisation))[:20])
    elif organisation.level == OrgLevel.GROUP:
        # A 党小组长's landing page: whether this month's 党小组会 is done, as the branch home says it.
        context["group_rows"] = group_checklist(organisation, on=timezone.localdate())
    return render(request, "branches/detail.html", context)


def _form_page(request, organisation, form, title, *, crumb, **extra):
    """A form about an organisation, under the same breadcrumb path as its page, then `crumb` (the action)."""
    breadcrumbs = selectors.ancestors_of(organisation, request.user)
    return render(request, "branches/form.html", {
        "form": form, "organisation": organisation, "title": title, "crumb": crumb,
        "breadcrumbs": breadcrumbs, **extra,
    })  # fmt: skip


def _to_detail(organisation):
    return redirect("branches:detail", pk=organisation.pk)


@require_http_methods(["GET", "POST"])
def organisation_create(request, pk):
    parent = get_organisation_for(request.user, pk, Action.MANAGE)
    form = OrganisationForm(request.POST or None, parent=parent)
    if not form.fields["level"].choices:
        messages.error(request, f"{parent.get_level_display()}下不能再设立下级党组织。")
        return _to_detail(parent)
    created = submit_form(
        request,
        form,
        lambda data: services.create_organisation(parent=parent, **data),
        success=lambda org: f"已设立“{org.name}”。",
    )
    if created:
        return _to_detail(created)
    return _form_page(request, parent, form, f"在“{parent.name}”下设立党组织", crumb="设立下级党组织")


@require_http_methods(["GET", "POST"])
def organisation_edit(request, pk):
    organisation = get_organisation_for(request.user, pk, Action.MANAGE)
    form = OrganisationForm(request.POST or None, instance=organisation)
    if submit_form(
        request,
        form,
        lambda data: services.update_organisation(organisation=organisation, **data),
        success="已保存。",
    ):
        return _to_detail(organisation)
    return _form_page(request, organisation, form, f"编辑“{organisation.name}”", crumb="编辑")


@require_http_methods(["GET", "POST"])
def organisation_move(request, pk):
    organisation = get_organisation_for(request.user, pk, Action.MANAGE)
    targets = selectors.move_targets(request.user, organisation)
    form = MoveForm(request.POST or None, targets=targets, moving=organisation)
    if submit_form(
        request,
        form,
        lambda data: services.move_organisation(organisation=organisation, new_parent=data["new_parent"]),
        success=lambda moved: f"已将“{moved.name}”移至“{form.cleaned_data['new_parent'].name}”。",
    ):
        return _to_detail(organisation)
    return _form_page(request, organisation, form, f"移动“{organisation.name}”", crumb="移动")


@require_http_methods(["GET", "POST"])
def organisation_dissolve(request, pk):
    organisation = get_organisation_for(request.user, pk, Action.MANAGE)
    form = DissolveForm(request.POST or None)
    if submit_form(
        request,
        form,
        lambda data: services.dissolve_organisation(organisation=organisation, **data),
        success=f"已撤销“{organisation.name}”，其记录和历史均保留。",
    ):
        return _to_detail(organisation)
    return _form_page(
        request,
        organisation,
        form,
        f"撤销“{organisation.name}”",
        crumb="撤销",
        warning="撤销后该组织不再计算组织生活要求；其下党小组一并撤销。记录不会删除。",
        danger=True,
    )


@require_http_methods(["GET", "POST"])
def term_create(request, pk):
    organisation = get_organisation_for(request.user, pk, Action.MANAGE)
    form = TermForm(request.POST or None)
    if submit_form(
        request,
        form,
        lambda data: services.record_term(
            organisation=organisation,
            elected_on=data["elected_on"],
            ends_on=data["ends_on"],
            note=data["note"],
            positions=form.positions(),
        ),
        success="已记录换届。",
    ):
        return _to_detail(organisation)
    return _form_page(request, organisation, form, f"“{organisation.name}”换届选举", crumb="换届选举")


@require_http_methods(["GET", "POST"])
def term_edit(request, pk):
    term = get_object_for(request.user, CommitteeTerm.objects.all(), pk, Action.MANAGE)
    organisation = term.organisation
    holders = {code: p.holder_name for code, p in services.term_holders(term).items()}
    initial = {"elected_on": term.elected_on, "ends_on": term.ends_on, "note": term.note}
    initial.update({f"pos_{code}": holders.get(code, "") for code in Position.values})
    current = services.successor_election(term) is None
    form = TermForm(request.POST or None, initial=initial, editing=True, current=current)
    if submit_form(
        request,
        form,
        lambda data: services.update_term(
            term=term,
            ends_on=data["ends_on"],
            note=data["note"],
            positions=form.positions(),
            changed_on=form.changed_on(),
        ),
        success=lambda saved: (
            "已保存届次信息" + ("：" + "；".join(saved.changes) if saved.changes else "") + "。"
        ),
    ):
        return _to_detail(organisation)
    return _form_page(
        request, organisation, form, f"编辑{term}", crumb="编辑届次", record=services.term_record(term)
    )


# ---------------------------------------------------------------- accounts


def _manages_accounts(user):
    if not acts_anywhere(user, Action.ACCOUNTS):
        raise PermissionDenied("只有党委管理员可以管理账号。")


def account_list(request):
    """The accounts of the office's subtree: search by 用户名 or 姓名, 30 a page."""
    _manages_accounts(request.user)
    q = request.GET.get("q", "").strip()
    page = Paginator(selectors.accounts(request.user, q=q), 30).get_page(request.GET.get("page"))
    return render(request, "branches/accounts.html", {"page": page, "q": q})


@require_http_methods(["GET", "POST"])
def account_create(request):
    _manages_accounts(request.user)
    form = AccountForm(request.POST or None, organisations=selectors.account_organisations(request.user))
    opened = submit_form(
        request,
        form,
        lambda data: services.open_account(**data, by=request.user),
        success=lambda r: f"已开通账号“{r[0].username}”。",
    )
    if opened:
        account, password = opened
        show_password_once(request, account, password)
        return redirect("branches:account_detail", pk=account.pk)
    return render(request, "form_page.html", {"form": form, "title": "开通账号"})


@never_cache  # it may show a new password: no browser or proxy keeps a copy
@require_http_methods(["GET", "POST"])
def account_detail(request, pk):
    """An account's roles (give one, take one back), its password and whether it may log in."""
    account = get_account_for(request.user, pk)
    form = RoleForm(request.POST or None, organisations=selectors.account_organisations(request.user))
    granted = submit_form(
        request,
        form,
        lambda data: services.grant_role(account=account, **data, by=request.user),
        success=lambda a: f"已授予{selectors.label_of(a.organisation)}的{a.get_role_display()}角色。",
    )
    if granted:
        return redirect("branches:account_detail", pk=account.pk)
    return render(request, "branches/account_detail.html", {
        "account": account, "form": form, "password": password_to_show(request, account),
        "email_form": EmailForm(initial={"email": account.email}),
        "roles": selectors.account_roles(account),
        "history": selectors.account_history(account),
    })  # fmt: skip


def _account_action(request, pk, perform, success):
    """A button on an account's page: perform(account) returns a new password to show once, or None."""
    account = get_account_for(request.user, pk)
    try:
        password = perform(account)
    except ValidationError as error:
        messages.error(request, "；".join(error.messages))
    else:
        messages.success(request, success)
        if password is not None:
            show_password_once(request, account, password)
    return redirect("branches:account_detail", pk=account.pk)


@require_POST
def account_revoke(request, pk, assignment_pk):
    def revoke(account):
        services.revoke_role(assignment=get_object_or_404(account.role_assignments, pk=assignment_pk))

    return _account_action(request, pk, revoke, "已收回该角色。")


@require_POST
def account_password(request, pk):
    return _account_action(
        request,
        pk,
        lambda account: services.reset_password(account=account, by=request.user),
        "已重置密码，原密码即时失效。",
    )


@require_POST
def account_email(request, pk):
    form = EmailForm(request.POST)

    def save(account):
        if not form.is_valid():
            raise ValidationError(form.errors["email"])
        services.set_account_email(account=account, email=form.cleaned_data["email"], by=request.user)

    return _account_action(request, pk, save, "已保存电子邮箱。")


@require_POST
def account_active(request, pk):
    active = request.POST.get("active") == "1"

    def switch(account):
        services.set_account_active(account=account, active=active, by=request.user)

    return _account_action(
        request,
        pk,
        switch,
        "已启用账号，可以登录。"
        if active
        else "已停用账号：不能再登录，已登录的会话随即失效；角色和记录保留。",
    )
