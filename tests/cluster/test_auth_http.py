"""``/auth/mailproxy``, nginx's auth_http endpoint: who may ask, what it answers, and hostile requests
(malformed, oversized, badly encoded, from an untrusted address) answered with a failure, never a 500."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from agents import metrics, proxylogin
from agents.cluster.nodes import renew
from agents.models import LoginFailure
from tests.conftest import PASSWORD

URL = "/auth/mailproxy"


@pytest.fixture
def proxy_db(transactional_db, example_com, settings):
    settings.MAILAPP_NODE = "a"
    settings.MAILAPP_NODE_ADDRESS = "127.0.0.2"
    settings.MAILAPP_IMAP_PORT, settings.MAILAPP_POP3_PORT, settings.MAILAPP_SUBMISSION_PORT = 1143, 1110, 1587
    settings.MAILAPP_TRUSTED_PROXIES = ["192.0.2.10"]
    settings.MAILAPP_AUTH_HTTP_SECRET = ""
    yield settings
    metrics.flush()  # the login counters, while the test database still exists


def ask(client, user="alice@example.com", password=PASSWORD, protocol="imap", method="plain",
        client_ip="203.0.113.9", remote="127.0.0.1", **extra):
    headers = {"HTTP_AUTH_METHOD": method, "HTTP_AUTH_USER": quote(user, safe="@"),
               "HTTP_AUTH_PASS": quote(password, safe=""), "HTTP_AUTH_PROTOCOL": protocol,
               "HTTP_AUTH_LOGIN_ATTEMPT": "1", "HTTP_CLIENT_IP": client_ip, "REMOTE_ADDR": remote}
    headers.update(extra)
    return client.get(URL, **headers)


def test_a_right_password_names_the_home_node_and_a_one_time_pass(client, proxy_db):
    for protocol, port in (("imap", "1143"), ("pop3", "1110"), ("smtp", "1587")):
        answer = ask(client, protocol=protocol)
        assert answer.status_code == 200
        assert answer["Auth-Status"] == "OK"
        assert (answer["Auth-Server"], answer["Auth-Port"]) == ("127.0.0.2", port)
        assert answer["Auth-User"] == "alice@example.com"
        assert answer["Auth-Pass"] != PASSWORD and proxylogin.looks_like(answer["Auth-Pass"])


def test_the_home_node_of_a_cluster_mailbox_and_a_dead_one(client, proxy_db, make_mailbox):
    proxy_db.MAILAPP_CLUSTER = True
    make_mailbox("carol@example.com", home_node="b")
    make_mailbox("dave@example.com", home_node="c")
    renew("b", "127.0.0.3", 60, starting=True)
    renew("c", "127.0.0.4", 60, starting=True)
    answer = ask(client, user="carol@example.com")
    assert (answer["Auth-Status"], answer["Auth-Server"]) == ("OK", "127.0.0.3")
    from agents.cluster.nodes import stopped

    stopped("c")
    answer = ask(client, user="dave@example.com", protocol="pop3")
    assert answer["Auth-Status"].startswith("Temporary server problem")
    assert answer["Auth-Wait"] == "3" and "Auth-Server" not in answer
    # Submission does not need the home node: any live one queues the message, this one for instance.
    answer = ask(client, user="dave@example.com", protocol="smtp")
    assert (answer["Auth-Status"], answer["Auth-Server"], answer["Auth-Port"]) == ("OK", "127.0.0.2", "1587")


def test_a_node_address_that_names_no_host_is_a_temporary_failure(client, proxy_db):
    proxy_db.MAILAPP_NODE_ADDRESS = "0.0.0.0"  # bound to every address, MAILAPP_NODE_ADDRESS never set
    answer = ask(client)
    assert answer["Auth-Status"].startswith("Temporary server problem") and "Auth-Server" not in answer


def test_a_wrong_password_fails_with_a_wait_and_counts_against_the_client(client, proxy_db):
    answer = ask(client, password="wrong")
    assert answer["Auth-Status"] == "Invalid login or password"
    assert int(answer["Auth-Wait"]) >= 1 and "Auth-Server" not in answer and "Auth-Pass" not in answer
    assert list(LoginFailure.objects.values_list("ip", flat=True)) == ["203.0.113.9"]
    smtp = ask(client, password="wrong", protocol="smtp")
    assert smtp["Auth-Error-Code"] == "535 5.7.8"


def test_the_login_guard_throttles_through_the_proxy(client, proxy_db):
    proxy_db.MAILAPP_AUTH_MAX_FAILURES = 2
    for _ in range(2):
        assert ask(client, password="wrong")["Auth-Status"] == "Invalid login or password"
    answer = ask(client)  # the right password, too late
    assert answer["Auth-Status"] == "Too many failed logins; try again later"
    assert int(answer["Auth-Wait"]) >= 1 and "Auth-Server" not in answer
    assert ask(client, client_ip="203.0.113.10")["Auth-Status"] == "OK"  # another client is not held


def test_a_password_with_any_octets_is_percent_decoded(client, proxy_db, make_mailbox):
    odd = "p%ss w:rd\u00e9+&?"
    make_mailbox("odd@example.com", password=odd)
    assert ask(client, user="odd@example.com", password=odd)["Auth-Status"] == "OK"


@pytest.mark.parametrize("headers", [
    {"HTTP_AUTH_PROTOCOL": "smtps"},
    {"HTTP_AUTH_PROTOCOL": ""},
    {"HTTP_AUTH_METHOD": "none"},  # SMTP without AUTH: not through the proxy
    {"HTTP_AUTH_METHOD": "cram-md5"},
    {"HTTP_AUTH_USER": ""},
    {"HTTP_AUTH_PASS": ""},
    {"HTTP_AUTH_USER": "a" * 5000 + "@example.com"},  # oversized
    {"HTTP_AUTH_PASS": "x" * 10_000},
    {"HTTP_AUTH_USER": "%ff%fe@example.com"},  # not UTF-8 once decoded
    {"HTTP_AUTH_USER": "alice@example.com%0d%0aAuth-Status: OK"},  # header injection
    {"HTTP_AUTH_PASS": "%zz%"},  # a stray percent is taken as it is: a wrong password
    {"HTTP_CLIENT_IP": "not an address"},
])
def test_hostile_requests_fail_cleanly(client, proxy_db, headers):
    base = {"HTTP_AUTH_METHOD": "plain", "HTTP_AUTH_USER": "alice@example.com", "HTTP_AUTH_PASS": "wrong",
            "HTTP_AUTH_PROTOCOL": "imap", "HTTP_CLIENT_IP": "203.0.113.9", "REMOTE_ADDR": "127.0.0.1"}
    answer = client.get(URL, **{**base, **headers})
    assert answer.status_code == 200
    assert answer["Auth-Status"] != "OK" and int(answer["Auth-Wait"]) >= 1
    assert "Auth-Server" not in answer and "\n" not in answer["Auth-Status"]


def test_the_right_password_with_a_bad_client_ip_is_counted_against_the_proxy(client, proxy_db):
    assert ask(client, client_ip="999.1.1.1")["Auth-Status"] == "OK"
    ask(client, client_ip="junk", password="wrong")
    assert list(LoginFailure.objects.values_list("ip", flat=True)) == ["127.0.0.1"]


def test_only_loopback_and_trusted_proxies_may_ask(client, proxy_db):
    assert ask(client, remote="198.51.100.7").status_code == 403
    assert ask(client, remote="192.0.2.10")["Auth-Status"] == "OK"  # MAILAPP_TRUSTED_PROXIES
    assert not LoginFailure.objects.exists()  # a refused asker's guesses are never checked
    assert client.post(URL, REMOTE_ADDR="127.0.0.1").status_code == 405


def test_without_a_secret_nothing_that_came_through_an_http_proxy_may_ask(client, proxy_db):
    # A reverse proxy in front of the web makes every visitor look like loopback: not enough.
    for header in ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_FORWARDED_PROTO", "HTTP_X_REAL_IP"):
        assert ask(client, **{header: "198.51.100.7"}).status_code == 403
    proxy_db.MAILAPP_HTTPS = True  # a TLS proxy serves the web faces: the secret is required
    assert ask(client).status_code == 403
    proxy_db.MAILAPP_AUTH_HTTP_SECRET = "s3cret"
    assert ask(client, HTTP_X_AUTH_KEY="s3cret")["Auth-Status"] == "OK"


def test_with_a_shared_secret_every_request_must_carry_it(client, proxy_db):
    proxy_db.MAILAPP_AUTH_HTTP_SECRET = "s3cret"
    assert ask(client).status_code == 403  # even from loopback
    assert ask(client, HTTP_X_AUTH_KEY="wrong").status_code == 403
    assert ask(client, HTTP_X_AUTH_KEY="s3cret\u00e9").status_code == 403
    answer = ask(client, remote="198.51.100.7", HTTP_X_AUTH_KEY="s3cret")
    assert answer["Auth-Status"] == "OK"
