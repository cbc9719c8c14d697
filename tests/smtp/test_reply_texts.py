"""Every reply carries an enhanced status code once ENHANCEDSTATUSCODES is advertised."""

from __future__ import annotations

from agents.smtp.replies import enhance


def test_stock_aiosmtpd_replies_are_reworded():
    assert enhance("250 OK") == "250 2.0.0 Ok"
    assert enhance("503 Error: need MAIL command") == "503 5.5.1 Error: need MAIL command"
    assert enhance("502 EXPN not implemented") == "502 5.5.1 EXPN command not supported"
    assert enhance("552 Error: Too much mail data") == "552 5.3.4 Error: message file too big"


def test_ehlo_lines_and_greeting_pass_untouched():
    assert enhance("250-PIPELINING") == "250-PIPELINING"
    assert enhance("220 mx.example ESMTP mailappliance") == "220 mx.example ESMTP mailappliance"


def test_enhanced_replies_pass_untouched():
    assert enhance("550 5.1.1 <a@b>: Recipient address rejected: User unknown").startswith("550 5.1.1 <a@b>")


def test_unknown_error_replies_get_a_generic_code():
    assert enhance("451 something odd") == "451 4.0.0 something odd"
    assert enhance("501 Syntax: HELO hostname") == "501 5.5.4 Syntax: HELO hostname"
