from django.apps import AppConfig


class WebadminConfig(AppConfig):
    name = "webadmin"
    verbose_name = "mail configuration"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects the config-generation bump)
