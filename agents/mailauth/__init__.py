"""Mail authentication and anti-abuse: DKIM, SPF, DMARC, spam and virus checks, rate limits, greylisting.

Pure parts (``authresults``, ``dmarc`` record parsing, ``spam`` rules, ``clamd``,
``rspamd`` wire formats) import no Django; the parts that read configuration or
keep state (``policy``, ``keys``, ``ratelimit``, ``greylist``, ``training``) do.
The smtp agent calls :mod:`agents.mailauth.hooks`; delivery calls
:func:`agents.mailauth.dkim.sign_outgoing` and :func:`agents.mailauth.verdict.junk`.
See docs/mailauth.md.
"""
