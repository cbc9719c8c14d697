import pytest
from django.core.exceptions import ValidationError

from webadmin.models import Filter, Mailbox


def make(conditions, actions):
    return Filter(mailbox=Mailbox.objects.get(local_part="alice"), name="f", conditions=conditions, actions=actions)


def test_a_well_formed_filter_is_accepted(example_com):
    rule = make(
        [{"field": "subject", "op": "contains", "value": "invoice"}, {"field": "size", "op": "gt", "value": "1000"},
         {"field": "header", "header": "List-Id", "op": "matches", "value": "^<dev\\."}],
        [{"action": "fileinto", "folder": "Invoices"}, {"action": "mark_read"}, {"action": "flag"},
         {"action": "autoreply", "subject": "Away", "body": "Back Monday", "days": 3}],
    )
    rule.full_clean()


@pytest.mark.parametrize(
    "conditions, actions, message",
    [
        ([{"field": "colour", "op": "is", "value": "x"}], [{"action": "flag"}], "field must be one of"),
        ([{"field": "subject", "op": "gt", "value": "x"}], [{"action": "flag"}], "only apply to size"),
        ([{"field": "subject", "op": "matches", "value": "("}], [{"action": "flag"}], "regular expression"),
        ([], [], "at least one action"),
        ([], [{"action": "fileinto", "folder": "../etc"}], "no “..”"),
        ([], [{"action": "redirect", "address": "not an address"}], "no @"),
        ([], [{"action": "autoreply", "body": ""}], "needs a body"),
        # an encoded word that decodes to a line break would add a header (CVE-2024-6923)
        ([], [{"action": "autoreply", "body": "b", "subject": "=?UTF-8?Q?x=0ABcc:_v@ext.invalid?="}],
         "also when decoded"),
        ([], [{"action": "autoreply", "body": "b", "subject": "=?UTF-8?B?eApGcm9tOiBjZW9AYmFuay5leGFtcGxl?="}],
         "also when decoded"),
        ([], [{"action": "explode"}], "must be one of"),
    ],
)
def test_bad_filters_are_refused_with_a_sentence(example_com, conditions, actions, message):
    with pytest.raises(ValidationError) as exc:
        make(conditions, actions).full_clean()
    assert message in str(exc.value)


def test_control_characters_and_endless_rules_are_refused(example_com):
    with pytest.raises(ValidationError, match="control characters"):
        make([], [{"action": "fileinto", "folder": "In\x00box"}]).full_clean()
    with pytest.raises(ValidationError, match="control characters"):
        make([{"field": "subject", "op": "contains", "value": "a\r\nBcc: x"}], [{"action": "flag"}]).full_clean()
    with pytest.raises(ValidationError, match="at most 50 actions"):
        make([], [{"action": "flag"}] * 51).full_clean()
    with pytest.raises(ValidationError, match="at most 50 conditions"):
        make([{"field": "subject", "op": "contains", "value": "x"}] * 51, [{"action": "flag"}]).full_clean()


def test_line_breaks_cannot_reach_an_auto_reply_header_or_a_forward_address(example_com):
    with pytest.raises(ValidationError, match="control characters"):
        make([], [{"action": "autoreply", "subject": "Away\nBcc: all@x.com", "body": "b"}]).full_clean()
    with pytest.raises(ValidationError):
        make([], [{"action": "redirect", "address": "a@example.com\nb@example.com"}]).full_clean()
    make([], [{"action": "autoreply", "subject": "Away", "body": "line one\nline two"}]).full_clean()
