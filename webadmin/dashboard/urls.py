from django.urls import path

from . import auth_views, keys_views, views

app_name = "dashboard"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("login/", auth_views.login_view, name="login"),
    path("login/verify/", auth_views.verify_view, name="verify"),
    path("logout/", auth_views.logout_view, name="logout"),
    path("account/otp/", auth_views.otp_view, name="otp"),
    path("processes/<str:name>/restart/", views.restart, name="restart"),
    path("traffic/", views.traffic, name="traffic"),
    path("queue/", views.queue, name="queue"),
    path("queue/<str:queue_id>/action/", views.queue_action, name="queue_action"),
    path("trace/", views.trace_search, name="trace_search"),
    path("trace/<str:queue_id>/", views.trace, name="trace"),
    path("domains/", views.domains, name="domains"),
    path("domains/<str:name>/", views.domain, name="domain"),
    path("domains/<str:name>/dkim/", keys_views.dkim_key, name="dkim_key"),
    path("certificate/", keys_views.certificate, name="certificate"),
    path("domains/<str:name>/mailboxes/<str:local_part>/", views.mailbox, name="mailbox"),
]
