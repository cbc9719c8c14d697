"""A session's per-IP slot is free as soon as the client is done with it.

smtp-source (and many MTAs) send QUIT, close at once and open the next connection; at
``MAILAPP_SMTP_MAX_SESSIONS_PER_IP`` concurrent sessions that next connection must not find
the slot still held by the one the client just closed (it got ``421`` before: the slot came
back only when the server had finished closing the connection).
"""

from __future__ import annotations

import socket

import pytest

ROUNDS = 200


def greeting(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(1024)
        if not chunk:
            break
        data += chunk
    return data


@pytest.mark.parametrize("use_uvloop", [True, False], ids=["uvloop", "asyncio"])
@pytest.mark.parametrize("wait_for_221", [False, True], ids=["close-after-quit", "close-after-221"])
def test_a_client_reconnecting_right_after_quit_gets_its_slot(smtp_agent, example_com, wait_for_221, use_uvloop):
    agent = smtp_agent(max_sessions_per_ip=2, uvloop=use_uvloop)
    held = agent.raw()  # one session stays open all along: the client runs at its limit
    assert held.greeting.startswith("220")
    refused = 0
    for _ in range(ROUNDS):
        with socket.create_connection(("127.0.0.1", agent.mx), timeout=10) as sock:
            first = greeting(sock)
            refused += first.startswith(b"421")
            if first.startswith(b"220"):
                sock.sendall(b"QUIT\r\n")
                if wait_for_221:
                    assert greeting(sock).startswith(b"221")
    assert refused == 0, f"{refused} of {ROUNDS} connections refused for too many sessions"
    third = agent.raw()  # the limit still holds
    assert third.greeting.startswith("220")
    with socket.create_connection(("127.0.0.1", agent.mx), timeout=10) as sock:
        assert greeting(sock).startswith(b"421")
