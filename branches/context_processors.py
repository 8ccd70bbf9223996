from .access import roles_of
from .models import Role


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    roles = roles_of(user)
    return {
        "nav_role_labels": [Role(r).label for r in sorted(roles)]
        or (["系统管理员"] if user.is_superuser else []),
        "nav_show_tree": user.is_superuser or bool(roles - {Role.MEMBER}),
    }
