"""URL map: admin, dashboard, API, webmail, client autoconfiguration."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from webadmin import autoconfig, mailproxy
from webadmin.acme_challenge import acme_challenge
from webadmin.api.cluster import move_archive
from webadmin.dashboard.metrics import metrics_view

# A body over DATA_UPLOAD_MAX_MEMORY_SIZE is a 413, not a 400 (mailappliance.bodysize).
handler400 = "mailappliance.bodysize.bad_request"

urlpatterns = [
    path("", RedirectView.as_view(url="/dashboard/", permanent=False)),
    # Browsers ask for /favicon.ico on pages without an icon link (the stock admin, API docs):
    # send them to the one icon instead of logging a 404 for every page.
    path("favicon.ico", RedirectView.as_view(url=f"{settings.STATIC_URL}favicon.svg", permanent=True)),
    # Client set-up; the exact /mail/config-v1.1.xml path must stay above the webmail include.
    path(".well-known/autoconfig/mail/config-v1.1.xml", autoconfig.thunderbird, name="autoconfig"),
    path("mail/config-v1.1.xml", autoconfig.thunderbird),
    path(".well-known/acme-challenge/<str:token>", acme_challenge, name="acme-challenge"),  # agents.acme
    path("autodiscover/autodiscover.xml", autoconfig.autodiscover, name="autodiscover"),
    path("Autodiscover/Autodiscover.xml", autoconfig.autodiscover),
    path("metrics", metrics_view, name="metrics"),  # Prometheus; token or address rule (docs/metrics.md)
    path("auth/mailproxy", mailproxy.auth_http, name="auth-mailproxy"),  # nginx's auth_http (docs/scaling.md)
    path("cluster/moves/<int:move_id>/archive", move_archive, name="move-archive"),  # node to node (docs/scaling.md)
    path("dashboard/", include("webadmin.dashboard.urls")),
    # The one staff login is the dashboard's (login guard, TOTP): the stock admin form, which
    # calls neither, only sends there. GET or POST alike: a POSTed password is never checked here.
    path("admin/login/", RedirectView.as_view(url="/dashboard/login/", query_string=True, permanent=False)),
    path("admin/", admin.site.urls),
    path("api/v1/", include("webadmin.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("mail/", include("webadmin.webmail.urls")),
]
