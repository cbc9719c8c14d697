"""Helpers both the configuration (``webadmin``) and the engine (``agents``) use.

Neutral ground: nothing here imports Django, ``agents`` or ``webadmin``
(``tests/test_layers.py`` holds it), so anything may import it.

- ``addresses``: mail address syntax, IDNA, and the rule for a mailbox's directory name;
- ``secret``: the Fernet box for passwords the fetcher must send in clear;
- ``mutf7``: modified UTF-7, for IMAP names on the wire and Maildir++ names on disk;
- ``durable``: fsynced writes for the spool and the store;
- ``srs``: the Sender Rewriting Scheme for forwards, with rotating secrets.
"""
