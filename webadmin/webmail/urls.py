"""Webmail URLs under /mail/ (folder names travel in the query string: they may hold "/")."""

from django.urls import path

from . import views

app_name = "webmail"

urlpatterns = [
    path("", views.index, name="index"),
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
    path("actions/", views.actions, name="actions"),
    path("folders/", views.manage_folders, name="folders"),
    path("message/<int:uid>/", views.message, name="message"),
    path("message/<int:uid>/body/", views.body, name="body"),
    path("message/<int:uid>/part/", views.part, name="part"),
    path("message/<int:uid>/source/", views.source, name="source"),
    path("compose/", views.compose_view, name="compose"),
    path("settings/", views.settings_view, name="settings"),
    path("settings/filters/new/", views.filter_edit, name="filter_new"),
    path("settings/filters/<int:pk>/", views.filter_edit, name="filter_edit"),
]
