"""Routes of /api/v1/: one router entry per resource."""

from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.register("domains", views.DomainViewSet, basename="domain")
router.register("domain-aliases", views.DomainAliasViewSet, basename="domain-alias")
router.register("mailboxes", views.MailboxViewSet, basename="mailbox")
router.register("aliases", views.AliasViewSet, basename="alias")
router.register("filters", views.FilterViewSet, basename="filter")
router.register("queue", views.QueueViewSet, basename="queue")
router.register("agents", views.AgentViewSet, basename="agent")

app_name = "api"
urlpatterns = router.urls
