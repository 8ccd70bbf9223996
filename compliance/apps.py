from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = "合规检查"

    def ready(self):
        from . import handlers, stamps  # noqa: F401  (connect to records_changed and the row writes)
