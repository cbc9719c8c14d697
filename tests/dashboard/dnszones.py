"""DNS zones for the DNS check tests: one domain published right, one wrong."""

from __future__ import annotations

HOST = "mail.example.net"
PORTS = {"submission": 2587, "submissions": 2465, "imap": 1143, "imaps": 1993, "pop3": 1110, "pop3s": 1995}


def right_zone(domain: str) -> dict[str, dict]:
    zones: dict[str, dict] = {
        domain: {"MX": [(10, HOST)], "TXT": ["v=spf1 mx -all", "google-site-verification=abc"]},
        f"_dmarc.{domain}": {"TXT": [f"v=DMARC1; p=quarantine; rua=mailto:postmaster@{domain}"]},
        f"autoconfig.{domain}": {"CNAME": [HOST]},
        f"autodiscover.{domain}": {"CNAME": [HOST]},
    }
    for service, port in PORTS.items():
        zones[f"_{service}._tcp.{domain}"] = {"SRV": [f"0 1 {port} {HOST}."]}
    return zones


def wrong_zone(domain: str) -> dict[str, dict]:
    """MX elsewhere, two SPF records, no DMARC, a CNAME elsewhere, an SRV with the wrong port."""
    return {
        domain: {"MX": [(10, "mx.other-provider.test")], "TXT": ["v=spf1 mx -all", "v=spf1 a -all"]},
        f"autoconfig.{domain}": {"CNAME": ["autoconfig.other-provider.test"]},
        f"_imaps._tcp.{domain}": {"SRV": [f"0 1 993 {HOST}."]},
    }


def port_settings(settings) -> None:
    settings.MAILAPP_HOSTNAME = HOST
    settings.MAILAPP_SUBMISSION_PORT = PORTS["submission"]
    settings.MAILAPP_SMTPS_PORT = PORTS["submissions"]
    settings.MAILAPP_IMAP_PORT = PORTS["imap"]
    settings.MAILAPP_IMAPS_PORT = PORTS["imaps"]
    settings.MAILAPP_POP3_PORT = PORTS["pop3"]
    settings.MAILAPP_POP3S_PORT = PORTS["pop3s"]
