"""Is MAILAPP_HOSTNAME a name the world can reach? (No DNS question: the name alone tells.)

The host name goes into the greeting, HELO, Message-IDs, the certificate and the MX
record the DNS page asks the admin to publish. A machine whose FQDN resolves to
``localhost`` (a common /etc/hosts) silently gives ``localhost``, and ``MX 10 localhost.``
sends the domain's mail nowhere, so the banner and Health warn loudly instead.
"""

from __future__ import annotations

import ipaddress

# Names that never resolve on the public Internet (RFC 6761, RFC 6762, RFC 8375, common LAN suffixes).
PRIVATE_SUFFIXES = (".localhost", ".local", ".localdomain", ".lan", ".home.arpa", ".internal", ".invalid")


def hostname_problem(name: str) -> str | None:
    """Why ``name`` is not a public fully qualified domain name, or None if it looks like one."""
    host = name.strip().rstrip(".").lower()
    if not host:
        return "MAILAPP_HOSTNAME is empty"
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return f"MAILAPP_HOSTNAME is an IP address ({host}), not a host name"
    if host == "localhost" or host.endswith(PRIVATE_SUFFIXES):
        return f"MAILAPP_HOSTNAME is {host}, a name that only this network knows"
    if "." not in host:
        return f"MAILAPP_HOSTNAME is {host}, a name without a domain (no dot)"
    return None


def hostname_warning(name: str) -> str | None:
    """The sentence for the banner and Health: the problem and what to do, or None."""
    problem = hostname_problem(name)
    if problem is None:
        return None
    return (f"{problem}: other servers cannot deliver to it and will not trust its mail. "
            "Set MAILAPP_HOSTNAME to this server's public name (e.g. mail.example.com).")
