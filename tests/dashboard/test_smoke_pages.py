from tests.dashboard.conftest import STAFF_PASSWORD


def test_every_page_renders_for_a_superuser(client, superuser, example_com, make_queued):
    make_queued("AAAA0000000000000001", "alice@example.com", ["x@remote.test"], error="451 try later")
    client.login(username="root", password=STAFF_PASSWORD)
    for url in [
        "/dashboard/",
        "/dashboard/traffic/",
        "/dashboard/queue/",
        "/dashboard/trace/?q=alice@example.com",
        "/dashboard/trace/AAAA0000000000000001/",
        "/dashboard/domains/",
        "/dashboard/account/otp/",
    ]:
        response = client.get(url, follow=True)
        assert response.status_code == 200, url
