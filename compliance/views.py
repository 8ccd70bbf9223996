from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from branches.access import Action, can, get_branch_for, get_object_for, organisations_for
from branches.forms import date_param, id_param, submit_form
from branches.models import OrgLevel

from . import checklist, selectors, services
from .forms import RuleSettingForm, WithdrawSettingForm
from .models import RULE_CHOICES, DigestSubscription, FlagState, RuleSetting
from .rules import CATALOGUE

PAGE_SIZE = 50


def flag_list(request):
    """The work list: what is overdue, due soon or needs a look, in the user's scope. A 党员's own login
    has no scope: it is told where its own reminders are instead of shown an empty list."""
    user = request.user
    if not selectors.has_work_list(user):
        return render(request, "compliance/flags_self.html", {
            "own": getattr(user, "member", None),  # the reverse one-to-one raises AttributeError when absent
            "digest": DigestSubscription.objects.filter(user=user, enabled=True).exists(),
        })  # fmt: skip
    branches = organisations_for(user).filter(level=OrgLevel.BRANCH).order_by("path")
    branch_pk = id_param(request, "branch")
    branch = branches.filter(pk=branch_pk).first() if branch_pk else None
    rule = request.GET.get("rule") if request.GET.get("rule") in dict(RULE_CHOICES) else None
    state = (
        request.GET.get("state") if request.GET.get("state") in (selectors.DUE, *FlagState.values) else None
    )
    org_pk = id_param(request, "org")
    within = organisations_for(user).filter(pk=org_pk).first() if org_pk else None
    watch = request.GET.get("watch") == "1"
    flags = selectors.flag_list(user, branch=branch, rule=rule, state=state, within=within, watch=watch,
                                include_resolved=request.GET.get("resolved") == "1")  # fmt: skip
    page = Paginator(flags, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = selectors.with_actions(page.object_list, user)
    return render(request, "compliance/flags.html", {
        "page": page, "branches": branches,
        "branch": branch, "rule": rule, "state": state, "within": within, "watch": watch, "rules": RULE_CHOICES, "states": FlagState.choices,
        "include_resolved": request.GET.get("resolved") == "1",
        "can_set_rules": organisations_for(user, Action.MANAGE).exists(),
        "digest": DigestSubscription.objects.filter(user=user, enabled=True).exists(),
    })  # fmt: skip


@require_http_methods(["GET", "POST"])
def digest(request):
    """Subscribe to (or leave) the daily reminder email; the user's own choice of their own scope's flags.
    A login without a scope (a 党员's own) has nothing it would bring, and may only leave it.

    A GET changes nothing and goes to the work list, where the button is: one arrives here by a link, or
    back from the login page after the session ran out while subscribing (?next=/todo/digest/)."""
    if request.method == "GET":
        return redirect("compliance:flags")
    enabled = request.POST.get("enabled") == "1"
    if enabled and not selectors.has_work_list(request.user):
        raise PermissionDenied(
            "每日提醒邮件发送所负责党组织的待办事项，党员本人的账号不能订阅；您本人的提醒请在“我的党员信息”页面查看。"
        )
    if enabled and not request.user.email:
        messages.error(request, "您的账号没有登记电子邮箱：请党委管理员在“账号管理”中登记后再订阅。")
    else:
        services.set_digest(user=request.user, enabled=enabled)
        messages.success(request, "已订阅每日提醒邮件。" if enabled else "已取消每日提醒邮件。")
    return redirect("compliance:flags")


def branch_checklist(request, branch_pk):
    """本期事项: every meeting rule for the period containing a date, with the records that met it."""
    branch = get_branch_for(request.user, branch_pk)
    today = timezone.localdate()
    on = date_param(request, "on") or today
    # A past period is judged as of today (how it ended, or stands now), unless `as_of` asks for the
    # state on another day, the chosen one included.
    as_of = max(date_param(request, "as_of") or today, on)
    return render(request, "compliance/checklist.html", {
        "branch": branch, "on": on, "as_of": as_of, "today": today,
        "rows": checklist.branch_checklist(branch, on=on, as_of=as_of),
        "can_record": can(request.user, branch, Action.RECORD),
    })  # fmt: skip


@require_http_methods(["GET", "POST"])
def rule_settings(request):
    """Local rules a 党委 sets for its subtree, with their effective dates and history."""
    organisations = (
        organisations_for(request.user, Action.MANAGE)
        .filter(
            level__in=[OrgLevel.PARTY_COMMITTEE, OrgLevel.GENERAL_BRANCH, OrgLevel.BRANCH],
            dissolved_on__isnull=True,
        )
        .order_by("path")
    )
    if not organisations.exists():
        raise PermissionDenied("只有党委管理员可以设置本地规则。")
    form = RuleSettingForm(request.POST or None, organisations=organisations)
    if submit_form(
        request,
        form,
        lambda data: services.add_setting(user=request.user, **data),
        success=lambda setting: (
            "已保存本地规则。提醒正在后台按新规则重新判定，稍后刷新页面即可看到。"
            if setting.judging.later
            else "已保存本地规则，相关支部的提醒已按新规则刷新。"
        ),
    ):
        return redirect("compliance:settings")
    return render(request, "compliance/settings.html", {
        "form": form, "settings": selectors.settings_of(request.user), "catalogue": CATALOGUE,
    })  # fmt: skip


@require_http_methods(["GET", "POST"])
def setting_withdraw(request, pk):
    """撤销 a local setting saved by mistake, before it takes effect, with the reason; it stays listed."""
    setting = get_object_for(
        request.user, RuleSetting.objects.select_related("organisation", "voided_by"), pk, Action.MANAGE
    )
    title = (
        f"撤销本地规则：{setting.organisation.name} · {setting.get_rule_display()}"
        f"（{setting.value_text or setting.frequency_text}，{setting.effective_from:%Y-%m-%d}起）"
    )
    refusal = services.withdrawal_refused(setting, today=timezone.localdate())
    if refusal:
        # Nothing to do here (already withdrawn, or in force): the page says why rather than offer a form.
        return render(request, "compliance/setting_withdraw.html", {
            "setting": setting, "title": title, "refusal": refusal,
        })  # fmt: skip
    form = WithdrawSettingForm(request.POST or None)
    if submit_form(
        request,
        form,
        lambda data: services.withdraw_setting(setting=setting, reason=data["reason"], user=request.user),
        success="已撤销该设置，它不会生效；记录和撤销原因保留在“已有设置”和操作记录中。",
    ):
        return redirect("compliance:settings")
    return render(request, "compliance/setting_withdraw.html", {
        "form": form, "setting": setting, "title": title, "danger": True,
        "warning": "撤销后该设置不会生效，但不会被删除：它和撤销原因保留在“已有设置”和操作记录中。"
                   "撤销后可以在同一天重新设置正确的规定。",
    })  # fmt: skip
