from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = "合规检查"

    def ready(self):
        from . import handlers  # noqa: F401  (connects to records_changed)
