"""DKIM for the rest of the appliance (the dashboard's DNS page asks :func:`dns_record`).

The work is done in :mod:`agents.mailauth.dkim` and :mod:`agents.mailauth.keys`.
"""

from agents.mailauth.dkim import sign_outgoing, verify
from agents.mailauth.keys import dns_record

__all__ = ["dns_record", "sign_outgoing", "verify"]
