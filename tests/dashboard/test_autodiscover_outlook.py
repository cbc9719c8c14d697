"""Outlook autodiscover (POX): the request XML in, the Outlook response schema out."""

import xml.etree.ElementTree as ET

import pytest

from tests.dashboard.dnszones import HOST, port_settings
from webadmin.autoconfig import AutodiscoverError, parse_autodiscover_request

RESPONSE = "{http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006}"
OUTLOOK = "{http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a}"
REQUEST = """<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>{address}</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>"""


@pytest.fixture(autouse=True)
def ports(settings):
    port_settings(settings)


def post(client, body, path="/autodiscover/autodiscover.xml"):
    return client.post(path, data=body, content_type="text/xml")


def protocols(response):
    root = ET.fromstring(response.content)
    assert root.tag == RESPONSE + "Autodiscover"
    account = root.find(f"{OUTLOOK}Response/{OUTLOOK}Account")
    assert account.findtext(OUTLOOK + "AccountType") == "email"
    assert account.findtext(OUTLOOK + "Action") == "settings"
    return {p.findtext(OUTLOOK + "Type"): p for p in account.findall(OUTLOOK + "Protocol")}


def test_outlook_gets_imap_pop3_and_smtp_settings_for_a_post(client, one_domain):
    response = post(client, REQUEST.format(address="alice@example.com"))
    assert response.status_code == 200
    found = protocols(response)
    assert set(found) == {"IMAP", "POP3", "SMTP"}
    assert found["IMAP"].findtext(OUTLOOK + "Port") == "1993" and found["IMAP"].findtext(OUTLOOK + "SSL") == "on"
    assert found["POP3"].findtext(OUTLOOK + "Port") == "1995"
    assert found["SMTP"].findtext(OUTLOOK + "Port") == "2587"
    assert found["SMTP"].findtext(OUTLOOK + "Encryption") == "TLS"
    for protocol in found.values():
        assert protocol.findtext(OUTLOOK + "Server") == HOST
        assert protocol.findtext(OUTLOOK + "LoginName") == "alice@example.com"
        assert protocol.findtext(OUTLOOK + "AuthRequired") == "on"


def test_the_capitalised_path_and_get_work_too(client, one_domain):
    assert "IMAP" in protocols(
        post(client, REQUEST.format(address="bob@example.com"), "/Autodiscover/Autodiscover.xml")
    )
    assert "SMTP" in protocols(client.get("/autodiscover/autodiscover.xml?emailaddress=bob@example.com"))


def test_post_needs_no_csrf_token_since_mail_clients_have_no_session(one_domain):
    from django.test import Client

    response = post(Client(enforce_csrf_checks=True), REQUEST.format(address="alice@example.com"))
    assert response.status_code == 200 and b"<Protocol>" in response.content


def error_code(response):
    root = ET.fromstring(response.content)
    return root.findtext(f"{RESPONSE}Response/{RESPONSE}Error/{RESPONSE}ErrorCode")


def test_an_address_of_another_domain_gets_an_error_response(client, one_domain):
    assert error_code(post(client, REQUEST.format(address="someone@elsewhere.test"))) == "603"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml at all",
        b"<Autodiscover><Request><EMailAddress>",  # truncated
        b"<Other><EMailAddress>alice@example.com</EMailAddress></Other>",  # wrong root
        b"<Autodiscover><Request/></Autodiscover>",  # no address
        b"\xff\xfe\x00<",  # binary garbage
    ],
)
def test_malformed_requests_get_an_invalid_request_error(client, one_domain, body):
    response = post(client, body)
    assert response.status_code == 200 and error_code(response) == "600"


def test_an_entity_expansion_bomb_is_refused_before_parsing(client, one_domain):
    bomb = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
<Autodiscover><Request><EMailAddress>&lol2;@example.com</EMailAddress></Request></Autodiscover>"""
    assert error_code(post(client, bomb)) == "600"
    with pytest.raises(AutodiscoverError, match="DOCTYPE"):
        parse_autodiscover_request(bomb)


def test_an_external_entity_is_refused(client, one_domain):
    xxe = b"""<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><Autodiscover><Request>
<EMailAddress>&x;</EMailAddress></Request></Autodiscover>"""
    assert error_code(post(client, xxe)) == "600"


def test_an_oversized_request_is_refused(client, one_domain):
    huge = REQUEST.format(address="alice@example.com").encode() + b"<!--" + b"x" * 100_000 + b"-->"
    assert error_code(post(client, huge)) == "600"


def test_the_parser_returns_the_address():
    assert parse_autodiscover_request(REQUEST.format(address=" carol@example.com ").encode()) == "carol@example.com"
