"""Pure filter matching against hostile and malformed messages: never an error."""

from agents.config import FilterRule
from agents.delivery.filters import evaluate
from agents.delivery.message import count_received, parse


def rule(conditions, actions=None, match="all", stop=False):
    return FilterRule("r", match, conditions, actions or [{"action": "flag"}], stop)


def test_encoded_subject_is_matched_decoded():
    msg = parse(b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n\r\nx")
    assert evaluate(msg, [rule([{"field": "subject", "op": "contains", "value": "grüße"}])]).flags == {"\\Flagged"}


def test_broken_encoded_words_and_binary_headers_do_not_raise():
    msg = parse(b"Subject: =?utf-8?b?!!!not-base64?=\r\nFrom: \xff\xfe\x00<x@y>\r\n\r\nbody")
    verdict = evaluate(msg, [rule([{"field": "from", "op": "contains", "value": "x@y"}])])
    assert verdict.store


def test_a_bad_regular_expression_never_matches():
    msg = parse(b"Subject: hello\r\n\r\n")
    assert evaluate(msg, [rule([{"field": "subject", "op": "matches", "value": "(["}])]).flags == set()


def test_an_oversized_header_block_is_cut_not_parsed_whole():
    msg = parse(b"Subject: " + b"a" * 2_000_000 + b"\r\n\r\nbody")
    assert evaluate(msg, [rule([{"field": "subject", "op": "contains", "value": "b"}])]).flags == set()


def test_garbage_rules_are_ignored():
    msg = parse(b"Subject: x\r\n\r\n")
    verdict = evaluate(msg, [rule(["nonsense", {"field": "size", "op": "gt", "value": "abc"}],
                                  [42, {"action": "fileinto"}, {"action": "redirect"}])])
    assert verdict.store and verdict.folder == "INBOX" and verdict.redirects == []


def test_no_header_block_at_all():
    assert count_received(b"") == 0
    assert evaluate(parse(b"\x00\x01garbage without newline"), []).store
