"""Inputs -> bounded queue -> outputs, with acknowledgements flowing back to the inputs.

The queue is bounded, so when an output stalls the worker stops taking, inputs block on `put`,
stop reading their WebSocket, and the server's TCP window closes: memory stays bounded. A batch is
acknowledged to its inputs only after every output has it; inputs persist progress on a timer.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podship.engine import status
from podship.engine.delivery import Delivery
from podship.engine.registry import FILTERS, INPUTS, OUTPUTS
from podship.engine.settings import PipelineConfig, PluginConfig, ServiceOptions
from podship.engine.supervise import supervised
from podship.errors import PodshipError, ReaderClosed, StorageError
from podship.runtime.plugin import Built, Encoded, Filter, Input, Item, Output, Registered, Site
from podship.runtime.storage import refused, until_written

log = logging.getLogger("podship.pipeline")


class Pipeline:
    """One running pipeline; `run()` returns the process exit code."""

    def __init__(
        self,
        config: PipelineConfig,
        *,
        outputs: list[Output] | None = None,
        max_records: int = 0,
        once: bool = False,
    ) -> None:
        self.service = config.service
        self.queue: asyncio.Queue[Item] = asyncio.Queue(self.service.buffer_records)
        site = _site(self.service, self.queue.put, once=once)
        self.storage = site.storage
        self.inputs: list[Input] = _built(INPUTS, config.inputs, site)
        self.filters: list[Filter] = _built(FILTERS, config.filters, site)
        self.outputs: list[Output] = outputs if outputs is not None else _built(OUTPUTS, config.outputs, site)
        self.delivery: dict[str, Counter[str]] = {}  # per output label: records sent, set aside; retries
        self._deliveries: dict[int, Delivery] = {}
        for output in self.outputs:
            self._delivery(output)
        self.dropped = 0
        self.max_records, self.records_out = max_records, 0
        self.stop = asyncio.Event()
        self.fatal: BaseException | None = None
        self._last_commit = time.monotonic()
        self._held: Held | None = None  # the batch taken and not yet acknowledged
        self.status_port = 0

    async def run(self) -> int:
        server = (  # first: an address in use is a start-up failure, before anything else runs
            await status.serve(self, self.service.http_listen) if self.service.http_listen else None
        )
        self.status_port = server.sockets[0].getsockname()[1] if server else 0
        for source in self.inputs:
            await source.start()
        for output in self.outputs:
            await output.start()
        status.started(self)  # after what can fail at start-up: a failed start is one line
        tasks = {_task(source.name, source.run): source for source in self.inputs}
        worker = _task("outputs", self._work)
        reporter = _task("status", lambda: status.report(self, self.service.status_interval))
        try:
            await self._until_done(set(tasks), worker)
            await self._shutdown(set(tasks), worker)
        finally:
            reporter.cancel()
            if server is not None:
                server.close()
        return self._exit_code()

    async def _until_done(self, tasks: set[asyncio.Task[None]], worker: asyncio.Task[None]) -> None:
        stopper = asyncio.create_task(self.stop.wait())
        pending = {*tasks, worker, stopper}
        while tasks & pending and not self.stop.is_set() and not worker.done():
            _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()

    async def _shutdown(self, tasks: set[asyncio.Task[None]], worker: asyncio.Task[None]) -> None:
        """Stop reading, drain what is in flight within the grace period, then save progress."""
        for source in self.inputs:
            source.stopping.set()
        # A closed stdout takes nothing more: there is nothing to drain, so no grace period.
        deadline = time.monotonic() + (0.0 if self.reader_closed else self.service.grace_period)
        await _within(asyncio.gather(*tasks, return_exceptions=True), deadline)
        drained = not worker.done() and await _within(self.queue.join(), deadline)
        await self._cancel(*tasks, worker)
        for source in self.inputs:
            try:
                source.commit(final=drained)
            except StorageError as exc:
                log.error(
                    "%s: progress not saved at stop (%s); the next start fetches it again", source.name, exc
                )
        for output in self.outputs:
            await output.close()
        if not drained and not self.reader_closed:
            log.warning("grace period over with records in flight; the next start fetches them again")

    async def _cancel(self, *tasks: asyncio.Task[None]) -> None:
        for task in tasks:
            task.cancel()
        for outcome in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(outcome, Exception):  # supervised tasks do not end so: said, never a traceback
                log.error("a task ended by %s: %s", type(outcome).__name__, outcome)
                log.debug("its traceback", exc_info=outcome)
                self.fatal = self.fatal or outcome

    @property
    def reader_closed(self) -> bool:
        return isinstance(self.fatal, ReaderClosed)

    def _exit_code(self) -> int:
        if self.reader_closed:  # `podship run | head`: the reader had what it wanted
            log.info("the reader closed stdout: stopping")
            return 0
        if self.fatal is not None:
            log.error("stopped: %s", self.fatal)
            return 1
        if all(source.failure is not None for source in self.inputs):
            log.error("no connector is left running")
            return 1
        return 0

    async def _work(self) -> None:
        """Batches to the outputs; restarted after a crash, it goes on with the batch it held: no
        event is filtered twice (a mask would hash its own hash) or encoded twice, and the
        outputs that had the batch do not get it again."""
        try:
            while True:
                held = self._held = self._held or Held(await self._take())
                await self._prepare(held)
                await self._deliver(held)
                self._held = None
                await self._acknowledge(held.batch)
        except PodshipError as exc:
            if exc.retryable:  # the supervisor runs us again, with the batch we hold
                raise
            self.fatal = exc  # what no retry can mend: a reader that closed our stdout
            if isinstance(exc, ReaderClosed):  # they reached the reader, though not acknowledged
                self.records_out += sum(exc.written.values())

    async def _take(self) -> list[Item]:
        batch = [await self.queue.get()]
        limit = self.service.batch_size
        while len(batch) < limit and not self.queue.empty():
            batch.append(self.queue.get_nowait())
        return batch

    async def _prepare(self, held: Held) -> None:
        """Each event filtered and encoded for every output that takes it, one event at a time,
        then released (what it parsed and rendered goes): an event is read while it is fresh, and
        a batch holds its encoded records only (holding 500 parsed events cost 20 us more per
        message event). Only an event set aside awaits (its dead-letter file); what is decided
        is kept in `held`, so that a restart neither filters nor encodes an event twice."""
        while held.next < len(held.batch):
            item = held.batch[held.next]
            if held.next not in held.decided:
                held.decided[held.next] = self._filtered(item)
            step = held.decided[held.next]
            if isinstance(step, frozenset):  # its tags: encode it, and keep what is left to do
                held.decided[held.next] = step = self._encoded(item, step, held.ready)
            if step:  # why it goes to its input's dead-letter file
                await item.source.set_aside(step, item.event.letter())
            held.next += 1
            item.event.release()

    def _filtered(self, item: Item) -> frozenset[str] | str | None:
        """The tags the filters give an event, None where one drops it (counted, delivered all
        the same), or why the rules cannot read it (to set aside, and so delivered)."""
        try:
            tags = self._decide(item)
        except Exception as exc:  # a record is never a reason to stop
            return f"filter: {type(exc).__name__}: {exc}"
        self.dropped += tags is None
        return tags

    def _encoded(self, item: Item, tags: frozenset[str], ready: dict[int, list[Encoded]]) -> str | None:
        """The event encoded into `ready` by each output that takes it (by the output's id); why
        one cannot encode it, where one cannot: it goes to the dead-letter file of its input once,
        however many outputs refuse it (each counts it)."""
        reason = None
        for output in self.outputs:
            if output.tags and not output.tags & tags:
                continue
            record = self._delivery(output).encode(item.event)
            if isinstance(record, str):
                reason = reason or record
            else:
                ready.setdefault(id(output), []).append(record)
        return reason

    def _decide(self, item: Item) -> frozenset[str] | None:
        """The tags the filters give an event, or None when one drops it."""
        tags: frozenset[str] = frozenset()
        for stage in self.filters:
            decision = stage.decide(item.event)
            if not decision.keep:
                return None
            tags |= decision.tags
        return tags

    def reload(self) -> None:
        """SIGHUP: re-read the rules files."""
        for stage in self.filters:
            stage.reload()

    async def _deliver(self, held: Held) -> None:
        """Every output takes its records, in turn (those in `held.done` have); a batch an output
        cannot take is retried by its Delivery, holding the pipeline back (backpressure)."""
        for output in self.outputs:
            records = held.ready.get(id(output))
            if id(output) not in held.done and records:
                await self._delivery(output).send(records)
            held.done.add(id(output))

    def _delivery(self, output: Output) -> Delivery:
        """The delivery of an output, labelled `stdout`, `forward`, `forward-2` ..."""
        delivery = self._deliveries.get(id(output))
        if delivery is None:
            label, n = output.name, 1
            while label in self.delivery:
                n += 1
                label = f"{output.name}-{n}"
            delivery = self._deliveries[id(output)] = Delivery(output, label)
            self.delivery[label] = delivery.counts
        return delivery

    async def _acknowledge(self, batch: list[Item]) -> None:
        by_source: dict[Input, list[tuple[str, int]]] = defaultdict(list)
        for item in batch:
            by_source[item.source].append((item.event_id, item.ts))
        try:
            for source, pairs in by_source.items():
                try:
                    source.acked(pairs)
                except StorageError as exc:  # its ids wait in the store; `_persist` retries them
                    refused(self.storage, source.name, exc)
        finally:  # whatever happens, the batch left the queue: a stop must not wait for it
            for _ in batch:
                self.queue.task_done()
        self.records_out += len(batch)
        if self.max_records and self.records_out >= self.max_records:
            self.stop.set()
        await self._persist()

    async def _persist(self) -> None:
        """Checkpoints on the timer, and at once for an input whose state a write failed to store.
        While the disk refuses, the worker waits here: no batch is taken, the inputs stop reading."""
        due = time.monotonic() - self._last_commit >= self.service.checkpoint_interval
        for source in self.inputs:
            if due or source.name in self.storage.blocked:
                await until_written(source.commit, self.storage, source.name)
        if due:
            self._last_commit = time.monotonic()


@dataclass
class Held:
    """The batch the worker holds: how far it is prepared (each event's filter decision, and the
    records each output, by id, will send) and which outputs already took it."""

    batch: list[Item]
    next: int = 0  # the first event not yet prepared
    # By index, what is left to do: its tags (encode it), why it is set aside, or None (nothing).
    decided: dict[int, frozenset[str] | str | None] = field(default_factory=dict)
    ready: dict[int, list[Encoded]] = field(default_factory=dict)
    done: set[int] = field(default_factory=set)


def _site(service: ServiceOptions, emit: Callable[[Item], Awaitable[None]], *, once: bool) -> Site:
    """What every plugin is built with: the service's settings, and the queue inputs put into."""
    return Site(Path(service.state_dir), emit, service.dead_letter_max_bytes, os.environ, once=once)


def _built(plugins: dict[str, Registered[Built]], entries: list[PluginConfig], site: Site) -> list[Built]:
    """The plugins of one section, each built by its descriptor from the options its table validated."""
    return [plugins[entry.name].built(site, entry.values) for entry in entries]


def _task(name: str, run: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
    return asyncio.create_task(supervised(name, run), name=name)


async def _within(awaitable: Awaitable[Any], deadline: float) -> bool:
    """True when `awaitable` finished before `deadline` (monotonic seconds)."""
    try:
        await asyncio.wait_for(awaitable, max(0.05, deadline - time.monotonic()))
    except TimeoutError:
        return False
    return True
