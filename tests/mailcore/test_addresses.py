import pytest

from mailcore.addresses import AddressError, display_domain, normalize_address, normalize_domain


def test_unicode_domains_are_stored_as_punycode_and_shown_in_unicode():
    assert normalize_domain("Bücher.Example") == "xn--bcher-kva.example"
    assert display_domain("xn--bcher-kva.example") == "bücher.example"


@pytest.mark.parametrize("bad", ["", "nodot", "a..b.com", "-a.com", "a.123", "x" * 64 + ".com"])
def test_bad_domains_are_refused_with_a_sentence(bad):
    with pytest.raises(AddressError):
        normalize_domain(bad)


@pytest.mark.parametrize("bad", ["no-at", "a..b@x.com", ".a@x.com", "a.@x.com", "a b@x.com", "x" * 65 + "@x.com", "a@"])
def test_bad_addresses_are_refused(bad):
    with pytest.raises(AddressError):
        normalize_address(bad)


def test_addresses_are_lowercased_for_lookups():
    assert normalize_address("Alice.Smith@Example.COM") == "alice.smith@example.com"
