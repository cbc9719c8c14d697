"""Thunderbird autoconfig: config-v1.1.xml in the shape Thunderbird reads."""

import xml.etree.ElementTree as ET

import pytest

from tests.dashboard.dnszones import HOST, port_settings


@pytest.fixture(autouse=True)
def ports(settings):
    port_settings(settings)


def config(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    return ET.fromstring(response.content)


@pytest.mark.parametrize("path", ["/.well-known/autoconfig/mail/config-v1.1.xml", "/mail/config-v1.1.xml"])
def test_autoconfig_describes_imap_pop3_and_smtp_for_the_address(client, one_domain, path):
    root = config(client, f"{path}?emailaddress=alice@example.com")
    assert root.tag == "clientConfig" and root.get("version") == "1.1"
    provider = root.find("emailProvider")
    assert provider.get("id") == "example.com"
    assert [d.text for d in provider.findall("domain")] == ["example.com"]
    assert provider.findtext("displayName") and provider.findtext("displayShortName")
    incoming = [
        (s.get("type"), s.findtext("port"), s.findtext("socketType")) for s in provider.findall("incomingServer")
    ]
    assert incoming == [
        ("imap", "1993", "SSL"),
        ("imap", "1143", "STARTTLS"),
        ("pop3", "1995", "SSL"),
        ("pop3", "1110", "STARTTLS"),
    ]
    outgoing = [
        (s.get("type"), s.findtext("port"), s.findtext("socketType")) for s in provider.findall("outgoingServer")
    ]
    assert outgoing == [("smtp", "2465", "SSL"), ("smtp", "2587", "STARTTLS")]
    for server in provider.findall("incomingServer") + provider.findall("outgoingServer"):
        assert server.findtext("hostname") == HOST
        assert server.findtext("username") == "%EMAILADDRESS%"
        assert server.findtext("authentication") == "password-cleartext"


def test_autoconfig_finds_the_domain_from_the_autoconfig_host_name(client, one_domain):
    response = client.get("/mail/config-v1.1.xml", HTTP_HOST="autoconfig.example.com")
    assert ET.fromstring(response.content).find("emailProvider").get("id") == "example.com"


def test_a_domain_alias_gets_the_config_of_its_domain(client, one_domain):
    from webadmin.models import DomainAlias

    DomainAlias.objects.create(name="example.info", target=one_domain)
    root = config(client, "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=bob@example.info")
    assert root.find("emailProvider").get("id") == "example.com"


@pytest.mark.parametrize(
    "address", ["someone@elsewhere.test", "not-an-address", "", "a@" + "x" * 400, "<script>@example.com", "a@b@c"]
)
def test_unknown_or_malformed_addresses_get_a_plain_404(client, one_domain, address):
    response = client.get("/.well-known/autoconfig/mail/config-v1.1.xml", {"emailaddress": address})
    assert response.status_code == 404


def test_a_domain_description_is_escaped_in_the_xml(client, make_domain):
    make_domain("example.com", description="Ben & Jerry's <mail>")
    root = config(client, "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=a@example.com")
    assert root.find("emailProvider").findtext("displayName") == "Ben & Jerry's <mail>"
