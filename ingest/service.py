"""The ingest service: at-least-once from MQTT into the store.

About 450 lines on purpose: the writer loop and its store-outage path (flush, isolate, spool,
replay) share the batch and its unacknowledged messages; the skeleton is in opsroom.service.

Flow: paho's network thread validates each message and puts it on a bounded inbox; one
writer thread takes a batch (full, or what gathered in 20 ms) and writes it. A reading is
acknowledged to the broker (paho manual ack) only after the batch holding it is stored, so
a crash loses nothing: the broker redelivers, and the store's idempotent writes make the
redelivery harmless. A bad payload is republished on the dead-letter topic with its reason
and acknowledged once the broker has that copy; it never waits for, or holds up, good
readings. So is a reading the store refuses for what it holds (found by writing the refused
batch in halves, see ingest.isolate). No exception stops the writer; should it stop anyway,
the service says so on _sys/ingest and `run()` returns, so that the process exits non-zero.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, ClassVar

import paho.mqtt.client as mqtt

from ingest.deadletters import DeadLetters
from ingest.isolate import is_outage, reason, write_isolating
from ingest.spool import Spool
from opsroom import topics
from opsroom.clock import Clock, utcnow
from opsroom.mqtt import Protocol, Received
from opsroom.service import Counters as BaseCounters
from opsroom.service import ServiceCore, TopicCache
from opsroom.settings import Settings
from opsroom.store import Store, StoreError, reading_problem
from opsroom.telemetry import Limits, PayloadError, Reading, parse_reading
from opsroom.venue import Venue

log = logging.getLogger("opsroom.ingest")
# How long the writer lets a batch gather before it writes what has come (unless a full batch
# is there first). It used to poll every 2 ms and take whatever had arrived: each wake-up took
# the GIL from paho's network thread, and small batches cost a transaction each.
GATHER_S = 0.02
RETRY_MIN_S, RETRY_MAX_S = 0.5, 10.0  # back-off between attempts while the store is down
# (kind, sensor_id, why the id is bad or None) of a reading topic of this event, else None
Route = tuple[str, str, str | None] | None


@dataclass
class Counters(BaseCounters):
    """What ingest has done since it started (published retained on _sys/ingest); `received`,
    `unknown_sensors`, `reconnects` and `queue_depth` come from the kernel's counters."""

    LINE: ClassVar[tuple[str, ...]] = (
        "spooled",
        "spool_pending",
        "received",
        "stored",
        "rejected",
        "unknown_sensors",
        "store_errors",
    )

    stored: int = 0
    rejected: int = 0
    unknown_sensors: int = 0
    cleared: int = 0  # empty messages: a device clearing its retained reading, acknowledged
    deadletters_published: int = 0
    batches: int = 0
    store_errors: int = 0
    spooled: int = 0
    spool_pending: int = 0
    replayed: int = 0
    store_refused: int = 0  # readings the store refused for their content: dead-lettered
    writer_errors: int = 0  # unexpected exceptions in the writer loop (logged, survived)
    last_batch_ms: float = 0.0


class IngestService:
    """MQTT ingest into a Store. `start()`, then `stop()`; or `run()` until a stop request."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        venue: Venue | None = None,
        *,
        clock: Clock = utcnow,
        client_id: str | None = None,
        share_group: str | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.counters = Counters()
        self.limits = Limits(settings.max_payload_bytes, settings.max_future, settings.max_age)
        subscription = topics.readings_filter(settings.event)
        self.subscription = f"$share/{share_group}/{subscription}" if share_group else subscription
        self._known = set(venue.sensors()) if venue is not None else None
        self._unknown_rejected = settings.unknown_sensors == "deadletter"
        # paho's thread appends (message, its Reading or the reason it is rejected), the
        # writer pops; the core holds the session, back-pressure, counters and status
        self.core: ServiceCore[tuple[Received, Reading | str | None]] = ServiceCore(
            settings,
            "ingest",
            log,
            self.counters,
            lambda client: self.session.subscribe(client, self.subscription, qos=1),
            unknown="dead-lettered" if self._unknown_rejected else "stored",
            client_id=client_id,
            clock=clock,
            status_extra=lambda: {
                # read by `opsroom health`: false (with the problem) once the writer has failed
                "healthy": self.failed is None,
                "problem": self.failed,
            },
        )
        self.client_id = self.core.client_id
        self.session = self.core.session
        self.unknown = self.core.unknown
        self._topics: TopicCache[Route] = TopicCache(self._parse_topic)
        self._inbox = self.core.inbox
        # stored messages whose acks are due. Acks are sent from the network thread while
        # messages flow (each ack is a socket write, and from the writer thread every one of
        # them handed the GIL back and forth), and by the writer when the stream goes quiet.
        self._ack_ready: deque[Received] = deque()
        self._batch_size = settings.batch_size
        self._wake = threading.Event()
        self._stopping = self.core.stopping
        self._accepting = self.core.accepting
        self.dead_letters = DeadLetters(self.core, self.counters, self.limits, clock)
        self._dead_letter = self.dead_letters.send
        self._dead_letter_spooled = self.dead_letters.send_spooled
        self._settle_dead_letters = self.dead_letters.settle
        self._writer: threading.Thread | None = None
        # set, with the reason, if the writer thread ends without a stop request
        self.failed: str | None = None
        self.spool = Spool(settings.spool_dir, int(settings.spool_max_mb * 1024 * 1024))
        self.counters.spool_pending = self.spool.readings
        self._store_down = self.spool.readings > 0  # replay what an earlier run spooled
        self._next_try = 0.0
        self._retry_delay = RETRY_MIN_S

    @property
    def protocol(self) -> Protocol | None:
        """The MQTT protocol in use (after `start()`)."""
        return self.core.protocol

    @property
    def _client(self) -> mqtt.Client | None:
        return self.core.client

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Connect (reconnecting in the background) and start the writer."""
        self.core.open(self._on_message)
        self._accepting.set()
        self._writer = threading.Thread(target=self._write_loop, name="ingest-writer", daemon=True)
        self._writer.start()
        log.info(
            "ingest: event %s, broker %s (MQTT %s), subscribing to %s",
            self.settings.event,
            self.settings.mqtt,
            self.protocol,
            self.subscription,
        )
        if self._unknown_rejected and self._known is None:
            log.warning(
                "OPSROOM_UNKNOWN_SENSORS=deadletter needs a venue file (OPSROOM_VENUE); "
                "without one every sensor's readings are stored"
            )
        self.core.connect()

    def wait_connected(self, timeout: float = 10.0) -> bool:
        """True once the broker has confirmed the subscription (and _sys/ingest says ready)."""
        return self.core.wait_connected(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking messages, store and acknowledge what was taken, publish counters, leave."""
        self.core.halt()
        self._wake.set()
        if self._writer is not None:
            self._writer.join(timeout)
        deadline = time.monotonic() + min(timeout, 2.0)
        while self.dead_letters.pending and time.monotonic() < deadline:
            self._settle_dead_letters()
            time.sleep(0.01)
        self.core.leave()

    def run(self, stop: threading.Event, check_s: float = 1.0) -> None:
        """Run until `stop` is set (the CLI sets it on SIGINT/SIGTERM) or the writer fails.

        After a failure `self.failed` says why; the CLI then exits non-zero, so that a
        supervisor (compose's `restart:`) starts ingest again: a process that stays up with
        its writer gone would hold its readings unacknowledged and store nothing.
        """
        self.start()
        while not stop.wait(check_s):
            if self.writer_alive():
                continue
            self.failed = self.failed or "the writer thread stopped"
            log.critical("ingest: %s; stopping so that the process is restarted", self.failed)
            break
        self.stop()

    def writer_alive(self) -> bool:
        """True while the writer thread runs (before start(): False)."""
        return self._writer is not None and self._writer.is_alive()

    # -- paho callbacks (network thread): never raise, never block for long -----------------

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if not self._accepting.is_set():
            return  # not acknowledged: the broker redelivers it to the next session
        if self._ack_ready:
            self._send_ready_acks()
        # the network thread waits while the writer is behind: back-pressure to the broker
        if not self.core.admit():
            return
        msg = Received(
            self.session.generation, message.mid, message.qos, message.topic, bytes(message.payload)
        )
        # Validation runs here, on the network thread, so that all the per-message Python work
        # is on one thread: split across two, they fought over the GIL and lost a third of the
        # throughput. The writer thread mostly waits in SQLite, which releases the GIL.
        self._inbox.append((msg, self._classify(msg)))
        if len(self._inbox) >= self._batch_size and not self._wake.is_set():
            self._wake.set()  # a full batch is waiting: no need to let it gather longer

    # -- writer thread --------------------------------------------------------------------

    def _send_ready_acks(self) -> None:
        ready = self._ack_ready
        msgs = []
        while ready:
            try:
                msgs.append(ready.popleft())
            except IndexError:  # the other thread took the last one
                break
        self._ack(msgs)

    def _ack(self, msgs: list[Received]) -> None:
        self.core.ack(msgs)

    def _write_loop(self) -> None:
        try:
            self._write_until_stopped()
        except BaseException as exc:  # the thread ends here; run() sees it and stops ingest
            self.failed = f"the writer thread died: {type(exc).__name__}: {exc}"
            log.critical("ingest: %s", self.failed, exc_info=True)
        finally:
            if not self._stopping.is_set():
                self.failed = self.failed or "the writer thread stopped"
                try:  # health sees it at once, not only once the status is stale
                    self.core.publish_status()
                except Exception:
                    log.exception("ingest: could not publish the writer's failure")

    def _write_until_stopped(self) -> None:
        batch: list[Reading] = []
        batch_msgs: list[Received] = []
        gather = min(GATHER_S, self.settings.flush_interval_s)
        size = self._batch_size
        inbox = self._inbox
        while True:
            try:
                if len(inbox) < size and not self._stopping.is_set():
                    self._wake.wait(gather)
                    self._wake.clear()
                while inbox and len(batch) < size:
                    msg, outcome = inbox.popleft()
                    if isinstance(outcome, Reading):
                        batch.append(outcome)
                        batch_msgs.append(msg)
                    elif outcome is None:
                        self._ack([msg])  # status, alerts, acks share the wildcard: not ours
                    else:
                        self._dead_letter(msg, outcome)
                if batch:
                    batch, batch_msgs = self._flush(batch, batch_msgs)
                    if batch and self._stopping.is_set():
                        log.error(
                            "stopping with %d readings not stored; they were not acknowledged, "
                            "so the broker will deliver them again",
                            len(batch),
                        )
                        break
                if not inbox and self._ack_ready:
                    self._send_ready_acks()  # the stream went quiet: nobody else will send them
                self._replay()
                self._settle_dead_letters()
                self.core.report_due()
                if self._stopping.is_set() and not batch and not inbox:
                    if self.spool.readings:
                        log.warning(
                            "%d readings stay spooled in %s; the next start writes them",
                            self.spool.readings,
                            self.spool.directory,
                        )
                    break
            except Exception:
                # A bug must not stop ingest for good: log it, count it, carry on. What the
                # batch holds stays unacknowledged and is tried again.
                self.counters.writer_errors += 1
                log.exception("ingest writer: unexpected error (carrying on)")
                if self._stopping.wait(RETRY_MIN_S):
                    break

    def _flush(
        self, batch: list[Reading], msgs: list[Received]
    ) -> tuple[list[Reading], list[Received]]:
        """Store a batch, or spool it while the store is down; what is left not yet durable.

        Readings are acknowledged once stored or spooled. A batch the store refuses for what
        it holds (not an outage) is written in halves until each refused reading is alone,
        and those are dead-lettered. What is left is empty unless the store is down and the
        spool full: then those readings stay unacknowledged and the broker holds the rest
        (back-pressure).
        """
        if not self._store_down:
            started = time.perf_counter()
            try:
                self.store.write_readings(batch)
            except Exception as exc:
                if is_outage(exc):
                    self._mark_down(exc)  # type: ignore[arg-type]
                else:
                    batch, msgs = self._isolate(batch, msgs, exc)
                    if not batch:
                        return [], []
            else:
                self.counters.stored += len(batch)
                self.counters.batches += 1
                self.counters.last_batch_ms = round((time.perf_counter() - started) * 1000, 2)
                self._ack_ready.extend(msgs)
                return [], []
        return self._spool(batch, msgs)

    def _isolate(
        self, batch: list[Reading], msgs: list[Received], exc: Exception
    ) -> tuple[list[Reading], list[Received]]:
        """Store what the store takes of a refused batch, dead-letter the rest; what is left
        unwritten because the store went down meanwhile."""
        log.warning(
            "the store refused a batch of %d readings (%s: %s): finding the reading(s) at fault",
            len(batch),
            type(exc).__name__,
            exc,
        )
        done = write_isolating(self.store.write_readings, batch, exc)
        self.counters.stored += len(done.written)
        self.counters.batches += 1
        self._ack_ready.extend(msgs[i] for i in done.written)
        for i, error in done.refused:
            why = reason(error)
            self.counters.store_refused += 1
            log.warning(
                "dead-lettering a %s reading of %r: %s",
                batch[i].kind,
                batch[i].sensor_id,
                why,
                exc_info=None if isinstance(error, StoreError) else error,
            )
            self._dead_letter(msgs[i], why)
        if done.outage is not None:
            self._mark_down(done.outage)
        return [batch[i] for i in done.unwritten], [msgs[i] for i in done.unwritten]

    def _spool(
        self, batch: list[Reading], msgs: list[Received]
    ) -> tuple[list[Reading], list[Received]]:
        """Spool a batch while the store is down; what is left (the spool is full)."""
        # the spool must hold only readings it can replay: dead-letter what no store can keep
        keep = [i for i, r in enumerate(batch) if reading_problem(r) is None]
        if len(keep) < len(batch):
            for i in sorted(set(range(len(batch))) - set(keep)):
                self.counters.store_refused += 1
                self._dead_letter(
                    msgs[i], f"no store can keep this reading: {reading_problem(batch[i])}"
                )
            batch, msgs = [batch[i] for i in keep], [msgs[i] for i in keep]
        try:
            spooled = self.spool.append(batch)
        except OSError as exc:  # disk full, permissions: like a full spool, hold back acks
            log.error("cannot write the spool in %s: %s", self.spool.directory, exc)
            spooled = False
        if spooled:
            self.counters.spooled += len(batch)
            self.counters.spool_pending = self.spool.readings
            self._ack_ready.extend(msgs)
            return [], []
        log.error(
            "spool full (%d readings, %.0f MB): holding back acknowledgements",
            self.spool.readings,
            self.spool.bytes / 1e6,
        )
        self._stopping.wait(0.5)
        return batch, msgs

    def _mark_down(self, exc: StoreError) -> None:
        self.counters.store_errors += 1
        if not self._store_down:
            log.error("store unavailable (%s): spooling readings to %s", exc, self.spool.directory)
        self._store_down = True
        self._next_try = time.monotonic() + self._retry_delay
        self._retry_delay = min(self._retry_delay * 2, RETRY_MAX_S)

    def _replay(self) -> None:
        """While readings are spooled, move one segment into the store when it is due."""
        if not self._store_down or time.monotonic() < self._next_try:
            return
        try:
            done = self.spool.replay_one(self.store, refused=self._dead_letter_spooled)
        except StoreError as exc:
            self._mark_down(exc)
            return
        self.counters.replayed += done
        self.counters.stored += done
        self.counters.spool_pending = self.spool.readings
        if self.spool.readings == 0:
            log.info("store is back: %d spooled readings written", self.counters.replayed)
            self._store_down = False
            self._retry_delay = RETRY_MIN_S

    def _parse_topic(self, topic: str) -> tuple[Route, bool]:
        """The route of a topic, and whether to cache it (not for a sensor the venue lacks)."""
        parsed = topics.parse_reading(topic)
        result: Route = None
        if parsed is not None and parsed.event == self.settings.event:
            bad = None
            if not topics.valid_id(parsed.sensor_id):
                bad = f"invalid sensor id {parsed.sensor_id!r} in topic"
            result = (parsed.kind, parsed.sensor_id, bad)
            if self._known is not None and (parsed.kind, parsed.sensor_id) not in self._known:
                return result, False  # a flood of made-up ids would fill the cache
        return result, True

    def _classify(self, msg: Received) -> Reading | str | None:
        """The message's Reading, the reason it is rejected, or None if it is not a reading."""
        parsed = self._topics[msg.topic]
        if parsed is None:
            return None
        self.counters.received += 1
        kind, sensor_id, bad_id = parsed
        if bad_id is not None:
            return bad_id
        if not msg.payload:
            # MQTT deletes a retained message with an empty one: a clear, not a bad reading.
            # Live subscribers get it without the retain flag (3.1.1, and v5 unless Retain As
            # Published), so any empty message counts as one; no reading is empty.
            self.counters.cleared += 1
            return None
        unknown = self._known is not None and (kind, sensor_id) not in self._known
        if unknown and self._unknown_rejected:
            self.counters.unknown_sensors += 1
            self.unknown.note(kind, sensor_id)
            return (
                f"{kind} sensor {sensor_id!r} is not in the venue file "
                "(OPSROOM_UNKNOWN_SENSORS=deadletter)"
            )
        try:
            reading = parse_reading(kind, sensor_id, msg.payload, self.clock(), self.limits)
        except PayloadError as exc:
            return exc.reason
        if unknown:
            self.counters.unknown_sensors += 1
            self.unknown.note(kind, sensor_id)
        return reading
