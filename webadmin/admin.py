"""Django admin for the configuration (fleshed out in webadmin/admin_site)."""
