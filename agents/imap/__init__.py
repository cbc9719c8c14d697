"""IMAP4rev1 server (RFC 3501 plus IDLE, UIDPLUS, MOVE, NAMESPACE, ID, ENABLE, LITERAL+,
SPECIAL-USE, UNSELECT, CONDSTORE, QUOTA, AUTHENTICATE PLAIN).

Layers, each its own module: ``parser`` (bytes → commands, pure), ``responses`` (values →
bytes), ``sequence``/``search``/``fetch``/``mime`` (pure helpers), ``session`` (state
machine over a store and an auth callable), ``server`` (asyncio streams, TLS, limits).
"""
