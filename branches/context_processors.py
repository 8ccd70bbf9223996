from django.core.cache import cache

from compliance import stamps
from compliance.selectors import due_flags

from .access import Action, acts_anywhere, roles_of, scope_roots
from .models import OrgLevel, Role

BADGE_TIMEOUT = 24 * 3600


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    roles = roles_of(user)
    show_work = user.is_superuser or bool(roles - {Role.MEMBER})
    reaches_branch = user.is_superuser or any(org.level != OrgLevel.GROUP for org in scope_roots(user))
    return {
        # Every work role sees, on every page, how much is due in its scope.
        "nav_open_flags": open_flag_count(user) if show_work else 0,
        "nav_role_labels": [Role(r).label for r in sorted(roles)]
        or (["系统管理员"] if user.is_superuser else []),
        "nav_show_tree": show_work,
        # The overview and 民主评议 (a branch's, each year) need a 党委, 党总支 or 党支部 in scope: a 党小组长's
        # scope is one group, where both would open empty.
        "nav_show_dashboard": reaches_branch,
        "nav_show_reviews": reaches_branch,
        "nav_show_audit": acts_anywhere(user, Action.AUDIT),
        "nav_show_accounts": acts_anywhere(user, Action.ACCOUNTS),
    }


def open_flag_count(user):
    """How much is due in the user's scope (overdue or due soon: warnings are listed, not counted);
    counted again only after the engine changes flags or the user's scope changes (a county's count
    reads tens of thousands of rows)."""
    scope = ",".join(sorted(f"{r.pk}" for r in scope_roots(user)))
    key = f"badge:{user.pk}:{int(user.is_superuser)}:{scope}:{stamps.flags_token()}"
    count = cache.get(key)
    if count is None:
        count = due_flags(user).count()
        cache.set(key, count, BADGE_TIMEOUT)
    return count
