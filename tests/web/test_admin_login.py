from django.contrib.auth.models import User

from tests.browser import screenshot


def test_staff_log_in_to_the_admin_in_chromium(live_server, page, transactional_db):
    User.objects.create_superuser("root", "root@example.com", "s3cret-pass-word")
    # /admin/ sends a visitor to the one guarded staff login, which comes back to /admin/.
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "s3cret-pass-word")
    page.click("button[type=submit]")
    page.wait_for_selector("#site-name")
    screenshot(page, "admin-home")
    assert "Mail configuration" in page.content()
