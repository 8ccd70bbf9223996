from django.apps import AppConfig


class BranchesConfig(AppConfig):
    name = "branches"
    verbose_name = "党组织"

    def ready(self):
        from . import passwords  # noqa: F401  (connects the login signal)
