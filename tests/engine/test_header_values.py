"""mailcore.headersafe: a header value is refused when it or its decoded encoded words hold control characters."""

import pytest

from mailcore.headersafe import UnsafeHeaderValue, check_header_value, is_unsafe


@pytest.mark.parametrize("value", [
    "a\r\nBcc: x@y.z", "a\nb", "a\rb", "nul\x00", "del\x7f", "nel\x85",
    "=?UTF-8?Q?x=0ABcc:_victim@ext.invalid?=",
    "=?utf-8?q?x=0d=0aFrom:_ceo@bank.example?=",
    "=?UTF-8?B?eApCY2M6IHZpY3RpbUBleHQuaW52YWxpZA==?=",
    "=?UTF-8?B?eApCY2M6IHZpY3RpbUBleHQuaW52YWxpZA?=",  # missing padding still decodes
    "=?UTF-16?B?AHgACgBCAGMAYwA6?=",  # "\n" hidden as 00 0A
    "=?unknown-charset?Q?a=0Ab?=",
    "=?UTF-8*en?Q?a=0Ab?=",  # RFC 2231 language tag
    "Name =?UTF-8?Q?ok?= =?UTF-8?Q?=0A?= <a@b.c>",
])
def test_control_characters_raw_or_encoded_are_refused(value):
    assert is_unsafe(value)
    with pytest.raises(UnsafeHeaderValue, match="Subject"):
        check_header_value("Subject", value)


@pytest.mark.parametrize("value", [
    "", "Hello", "tab\tinside", "Grüße", "=?UTF-8?Q?Gr=C3=BC=C3=9Fe?=", "=?ISO-8859-1?B?R3L832U=?=",
    "=?UTF-8?Q?a=09b?=", "not =? an encoded word ?=", "=?UTF-8?B?!!!?=",
])
def test_ordinary_values_pass(value):
    assert not is_unsafe(value)
    assert check_header_value("Subject", value) == value
