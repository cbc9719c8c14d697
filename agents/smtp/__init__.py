"""The smtp agent: reception on the MX port (25), submission (587) and SMTPS (465).

Built on aiosmtpd. ``policy`` holds the decisions (pure), ``content`` the message
checks and the trace header (pure), ``replies`` the reply texts, ``limits`` the
per-client counters, ``handler`` the aiosmtpd hooks that glue them to
``agents.config`` and ``agents.queue``, ``protocol`` the one aiosmtpd subclass,
``server`` the listeners.
"""
