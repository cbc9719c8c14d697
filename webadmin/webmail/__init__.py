"""Webmail for mailbox users at /mail/ (see docs: no staff rights, store and queue APIs only)."""
