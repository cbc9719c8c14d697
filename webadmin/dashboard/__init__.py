"""The staff dashboard: health, traffic, queue, message trace, domains, client set-up.

Views (``views.py``) only parse, call one service function and render; the
logic lives in the modules beside them (``health``, ``traffic``, ``queue``,
``trace``, ``dnscheck``, ``domains``, ``otp``), scoped to the caller's domains by
``access``.
"""
