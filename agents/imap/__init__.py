"""IMAP4rev1 server (RFC 3501 plus IDLE, UIDPLUS, MOVE, NAMESPACE, ID, ENABLE, LITERAL+,
SPECIAL-USE, UNSELECT, CONDSTORE, QUOTA, AUTHENTICATE PLAIN and more, docs/imap.md), and IMAP4rev2
(RFC 9051) for a session that sends ENABLE IMAP4rev2.

Layers, each its own module: ``parser`` (bytes → commands, pure), ``responses`` (values →
bytes), ``sequence``/``search``/``fetch``/``mime`` (pure helpers), ``session`` (state
machine over a store and an auth callable), ``server`` (asyncio streams, TLS, limits).
"""
