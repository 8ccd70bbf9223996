from compliance.selectors import open_flags

from .access import Action, acts_anywhere, roles_of
from .models import Role


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    roles = roles_of(user)
    show_work = user.is_superuser or bool(roles - {Role.MEMBER})
    return {
        # Every work role sees, on every page, how much needs attention in its scope.
        "nav_open_flags": open_flags(user).count() if show_work else 0,
        "nav_role_labels": [Role(r).label for r in sorted(roles)]
        or (["系统管理员"] if user.is_superuser else []),
        "nav_show_tree": show_work,
        # The overview needs a 党委, 党总支 or 党支部 in scope (a 党小组长's scope is one group).
        "nav_show_dashboard": user.is_superuser or bool(roles - {Role.MEMBER, Role.GROUP_LEADER}),
        "nav_show_audit": acts_anywhere(user, Action.AUDIT),
    }
