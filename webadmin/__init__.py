"""Configuration models and the faces for people: admin, dashboard, API, webmail."""
