"""Webmail URLs under /mail/ (folder names travel in the query string: they may hold "/")."""

from django.urls import path

from .views import mail, preferences, scripts, session, writing

app_name = "webmail"

urlpatterns = [
    path("", mail.index, name="index"),
    path("login/", session.login, name="login"),
    path("logout/", session.logout, name="logout"),
    path("handoff/", session.handoff, name="handoff"),  # cluster mode: signed in from another node
    path("actions/", mail.actions, name="actions"),
    path("status/", mail.status, name="status"),
    path("folders/", mail.manage_folders, name="folders"),
    path("message/<int:uid>/", mail.message, name="message"),
    path("message/<int:uid>/body/", mail.body, name="body"),
    path("message/<int:uid>/part/", mail.part, name="part"),
    path("message/<int:uid>/source/", mail.source, name="source"),
    path("compose/", writing.compose_view, name="compose"),
    path("settings/", preferences.settings_view, name="settings"),
    path("settings/filters/new/", preferences.filter_edit, name="filter_new"),
    path("settings/filters/<int:pk>/", preferences.filter_edit, name="filter_edit"),
    path("settings/scripts/activate/", scripts.script_activate, name="script_activate"),
    path("settings/scripts/edit/", scripts.script_edit, name="script_edit"),
    path("settings/scripts/delete/", scripts.script_delete, name="script_delete"),
]
