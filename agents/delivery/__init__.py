"""Delivery: take each queued message to a final outcome for every recipient.

``runner`` drives one queued message (claim, local and remote recipients,
retries, bounces); ``local`` is the MDA (aliases, filters, quota, store),
``remote`` the MTA (MX lookup through ``dns``, SMTP client), ``dsn`` builds
RFC 3464 bounces, ``backoff`` the retry schedule, ``control`` the queue
management actions shared by the admin and the management commands.
"""
