"""Blank values and IP addresses, read fast on the hot path: against plain references."""

from __future__ import annotations

import copy
import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from podship.core.addresses import ip_value, is_ip, normal_ip
from podship.core.event.blanks import compact, without_blanks

leaves = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.sampled_from(["", "a", " "])
)
json_values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=2), inner, max_size=4),
)


def reference(value):
    """Blanks out, the plain way: a new value, containers emptied by it going too."""
    if isinstance(value, dict):
        kept = {key: reference(item) for key, item in value.items()}
        return {key: item for key, item in kept.items() if not _blank(item)}
    if isinstance(value, list):
        return [item for item in map(reference, value) if not _blank(item)]
    return value


def _blank(value):
    return value is None or (type(value) in (str, list, dict) and not value)


@settings(max_examples=500, deadline=None)
@given(json_values)
def test_compact_removes_what_the_plain_reference_removes_in_place(value):
    want, given_value = reference(value), copy.deepcopy(value)
    assert compact(given_value) == want
    assert without_blanks(value) == want
    if isinstance(value, dict | list):
        assert compact(value) is value  # edited in place, not rebuilt


addresses = st.one_of(
    st.ip_addresses().map(str),
    st.lists(st.integers(0, 300).map(str), min_size=3, max_size=5).map(".".join),
    st.lists(
        st.sampled_from(["0", "00", "01", "1", "255", "256", "ff", "FFFF", ""]), min_size=2, max_size=9
    ).map(":".join),
    st.text(alphabet="0123456789.:abcdefABCDEF%[] ", max_size=20),
    st.text(max_size=12),
)


def _stdlib(text):
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


@settings(max_examples=2000, deadline=None)
@given(addresses)
def test_addresses_are_read_as_the_standard_library_reads_them(text):
    found = _stdlib(text)
    assert ip_value(text) == (None if found is None else (found.version, int(found)))
    assert is_ip(text) is (found is not None)
    assert normal_ip(text) == (None if found is None else str(found))
