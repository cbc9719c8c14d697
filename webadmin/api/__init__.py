"""The provisioning REST API at /api/v1/ (Django REST framework); see docs/api.md."""
