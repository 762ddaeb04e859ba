"""The ids a connector remembers, in about 16 bytes each: 64-bit hashes in per-hour tables.

A `dict[str, int]` of ids cost ~170 bytes per id (the string, an int, the entry): a tenant of a
million events an hour held half a gigabyte for the two to three hours a repair can bring back.
Here each hour of event time has an open-addressing table of 64-bit hashes in an `array` (8 bytes
a slot, filled between 3/8 and 3/4, so 11-21 bytes per id), and forgetting an hour drops its table.

An id is looked up in the hour of its event time: a repair brings an event back with the time it
had. Two ids of one hour with the same 64-bit hash would make the second look seen: for an hour
of a million ids that is one new event in 2**64 / 10**6, about 1.8e13 (at a million events an
hour, once in some 2,000 years). The hash is Python's (SipHash, keyed per process): the tables are
rebuilt from the journal of ids at every start, so nothing hashed is ever stored.
"""

from __future__ import annotations

from array import array

from podship.core.pod import HOUR_MS

_FIRST_SLOTS = 1 << 10


class _Table:
    """One hour's hashes; 0 marks a free slot (a hash of 0 is stored as 1)."""

    __slots__ = ("count", "mask", "slots")

    def __init__(self, size: int = _FIRST_SLOTS) -> None:
        self.slots = array("q", bytes(8 * size))
        self.mask, self.count = size - 1, 0

    def find(self, key: int) -> int:
        """The slot holding `key`, or the free slot where it would go (linear probing)."""
        slots, mask = self.slots, self.mask
        index = key & mask
        while (held := slots[index]) and held != key:
            index = (index + 1) & mask
        return index

    def add(self, key: int) -> bool:
        """True when `key` was not there yet."""
        index = self.find(key)
        if self.slots[index]:
            return False
        self.slots[index] = key
        self.count += 1
        if self.count * 4 > len(self.slots) * 3:
            self._grow()
        return True

    def _grow(self) -> None:
        old = self.slots
        self.slots = array("q", bytes(16 * len(old)))
        self.mask = len(self.slots) - 1
        for key in old:
            if key:
                self.slots[self.find(key)] = key


def _key(event_id: str) -> int:
    return hash(event_id) or 1


class Seen:
    """Remembered ids by hour of event time."""

    def __init__(self) -> None:
        self.hours: dict[int, _Table] = {}

    def add(self, event_id: str, ts: int) -> bool:
        """Remember `event_id` (of event time `ts`); True when it was not remembered yet."""
        hour = ts - ts % HOUR_MS
        table = self.hours.get(hour)
        if table is None:
            table = self.hours[hour] = _Table()
        return table.add(_key(event_id))

    def remembers(self, event_id: str, ts: int) -> bool:
        table = self.hours.get(ts - ts % HOUR_MS)
        if table is None:
            return False
        return bool(table.slots[table.find(_key(event_id))])

    def forget_before(self, cutoff: int) -> int:
        """Forget the hours that end at or before `cutoff` (hour aligned); returns the ids dropped."""
        stale = [hour for hour in self.hours if hour + HOUR_MS <= cutoff]
        return sum(self.hours.pop(hour).count for hour in stale)

    def __len__(self) -> int:
        return sum(table.count for table in self.hours.values())

    def nbytes(self) -> int:
        """Bytes the tables hold (what /status reports as the memory of deduplication)."""
        return sum(table.slots.itemsize * len(table.slots) for table in self.hours.values())
