from django.urls import path

from . import auth_views, keys_views, provision, views

app_name = "dashboard"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("login/", auth_views.login_view, name="login"),
    path("login/verify/", auth_views.verify_view, name="verify"),
    path("logout/", auth_views.logout_view, name="logout"),
    path("account/otp/", auth_views.otp_view, name="otp"),
    path("processes/<str:name>/restart/", views.restart, name="restart"),
    path("selftest/", views.run_selftest, name="selftest"),
    path("traffic/", views.traffic, name="traffic"),
    path("queue/", views.queue, name="queue"),
    path("queue/<str:queue_id>/action/", views.queue_action, name="queue_action"),
    path("guard/<int:hold_id>/action/", views.guard_action, name="guard_action"),
    path("audit/", views.audit, name="audit"),
    path("trace/", views.trace_search, name="trace_search"),
    path("trace/<str:queue_id>/", views.trace, name="trace"),
    path("setup/<str:token>/", provision.first_admin, name="setup"),
    path("admins/", provision.staff_list, name="staff"),
    path("admins/new/", provision.staff_edit, name="staff_new"),
    path("admins/<int:user_id>/", provision.staff_edit, name="staff_edit"),
    path("domains/", views.domains, name="domains"),
    path("domains/new/", provision.domain_new, name="domain_new"),
    path("domains/delete/", provision.domains_delete, name="domains_delete"),
    path("mailboxes/delete/", provision.mailboxes_delete, name="mailboxes_delete"),
    path("domains/<str:name>/", views.domain, name="domain"),
    path("domains/<str:name>/dkim/", keys_views.dkim_key, name="dkim_key"),
    path("certificate/", keys_views.certificate, name="certificate"),
    path("domains/<str:name>/edit/", provision.domain_edit, name="domain_edit"),
    path("domains/<str:name>/mailboxes/new/", provision.mailbox_new, name="mailbox_new"),
    path("domains/<str:name>/aliases/new/", provision.alias_edit, name="alias_new"),
    path("domains/<str:name>/aliases/<int:pk>/", provision.alias_edit, name="alias_edit"),
    path("domains/<str:name>/mailboxes/<str:local_part>/", views.mailbox, name="mailbox"),
    path("domains/<str:name>/mailboxes/<str:local_part>/edit/", provision.mailbox_edit, name="mailbox_edit"),
    path("domains/<str:name>/mailboxes/<str:local_part>/filters/new/", provision.filter_edit, name="filter_new"),
    path("domains/<str:name>/mailboxes/<str:local_part>/filters/<int:pk>/", provision.filter_edit,
         name="filter_edit"),
]
