"""The remembered ids: per-hour tables of 64-bit hashes, at most 40 bytes an id."""

from podship.core.seen import Seen, _Table

H = 3_600_000
T0 = 500_000 * H


def test_an_id_is_remembered_in_the_hour_of_its_event_time():
    seen = Seen()
    assert seen.add("a", T0 + 5)
    assert not seen.add("a", T0 + 5)
    assert seen.remembers("a", T0 + H - 1)  # the same hour
    assert not seen.remembers("a", T0 + H)  # another hour: another table
    assert not seen.remembers("b", T0 + 5)
    assert len(seen) == 1


def test_a_million_ids_cost_at_most_21_bytes_each_and_all_stay_remembered():
    seen = Seen()
    ids = [f"NdGUqh94IhA0bXNz8bluFV_{k:09d}" for k in range(1_000_000)]
    for k, event_id in enumerate(ids):
        seen.add(event_id, T0 + (k % 3) * H)
    assert len(seen) == 1_000_000
    assert seen.nbytes() / len(seen) <= 21  # tables 3/8 to 3/4 full (the bound: 40)
    assert all(seen.remembers(event_id, T0 + (k % 3) * H) for k, event_id in enumerate(ids))
    assert not any(seen.remembers(f"other-{k}", T0) for k in range(10_000))


def test_keys_that_share_a_slot_are_kept_apart_and_survive_growth():
    table = _Table(8)
    for key in (1, 9, 17, 1, -7):  # 1, 9 and 17 all start at slot 1
        table.add(key)
    assert table.count == 4
    assert {key for key in table.slots if key} == {1, 9, 17, -7}
    assert table.add(25) and table.add(33) and len(table.slots) == 8  # six of eight: 3/4 full
    assert table.add(41) and len(table.slots) == 16  # the seventh doubles it
    assert table.count == 7
    assert all(table.slots[table.find(key)] == key for key in (1, 9, 17, -7, 25, 33, 41))
    assert table.slots[table.find(2)] == 0


def test_forgetting_drops_whole_hours_before_the_cutoff():
    seen = Seen()
    for hour in range(4):
        seen.add(f"id-{hour}", T0 + hour * H + 10)
    assert seen.forget_before(T0 + 2 * H) == 2
    assert sorted(seen.hours) == [T0 + 2 * H, T0 + 3 * H]
    assert seen.remembers("id-2", T0 + 2 * H + 10) and not seen.remembers("id-0", T0 + 10)
