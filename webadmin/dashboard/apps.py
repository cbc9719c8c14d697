from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "webadmin.dashboard"
    label = "dashboard"
    verbose_name = "staff dashboard"
