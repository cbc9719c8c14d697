"""Numbers become the shortest sequence set (ESEARCH ALL, VANISHED, COPYUID): runs as ranges, the rest alone."""

from agents.imap.sequence import format_set


def test_runs_become_ranges_and_single_numbers_stay():
    assert format_set([]) == ""
    assert format_set([7]) == "7"
    assert format_set([1, 2, 3, 7]) == "1:3,7"
    assert format_set([1, 3, 5]) == "1,3,5"
    assert format_set([9, 1, 2, 2, 3, 10, 12]) == "1:3,9:10,12"  # unsorted, repeated


def test_a_search_hit_in_nearly_every_message_stays_short():
    numbers = [n for n in range(1, 100_001) if n % 1000]
    text = format_set(numbers)
    assert text.startswith("1:999,1001:1999,") and text.endswith(",99001:99999")
    assert len(text.split(",")) == 100
