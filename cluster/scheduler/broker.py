"""The eval broker: hands evaluations to scheduler workers, one at a time per job (Nomad's
``EvalBroker``), driven by an injected clock.

- One ready queue per scheduler type, highest priority first, then oldest first.
- At most one evaluation per job is ready or being worked on; later ones for the same job wait;
  when the one in flight is acked, the newest waiting one goes next and the others are returned
  by ``cancelable()`` to be marked canceled (Nomad 1.4's de-duplication).
- A dequeued evaluation must be acked or nacked with its token. A nack (or no answer within the
  nack timeout) puts it back after a delay (1 s the first time, 20 s after); after
  ``delivery_limit`` deliveries it goes to the failed queue instead, for the leader to reap.
- Evaluations with ``WaitUntil`` in the future (delayed reschedules) wait in a time heap.

``tick()`` fires the timers that are due; the shell calls it from its event loop.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from cluster.errors import Conflict, NotFound
from cluster.scheduler.allocs import to_ns
from cluster.structs.evaluation import Evaluation

__all__ = ["FAILED_QUEUE", "BrokerStats", "EvalBroker"]

FAILED_QUEUE = "_failed"
DEFAULT_NACK_TIMEOUT_NS = 60_000_000_000
DEFAULT_DELIVERY_LIMIT = 3
INITIAL_NACK_DELAY_NS = 1_000_000_000
SUBSEQUENT_NACK_DELAY_NS = 20_000_000_000


@dataclass(slots=True)
class BrokerStats:
    total_ready: int = 0
    total_unacked: int = 0
    total_pending: int = 0
    total_waiting: int = 0
    total_failed: int = 0
    by_scheduler: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class _Unacked:
    ev: Evaluation
    token: str
    deadline_ns: int


def _job(ev: Evaluation) -> tuple[str, str]:
    return ev.Namespace, ev.JobID


class EvalBroker:
    def __init__(self, now_ns: Callable[[], int], *, nack_timeout_ns: int = DEFAULT_NACK_TIMEOUT_NS,
                 delivery_limit: int = DEFAULT_DELIVERY_LIMIT, initial_nack_delay_ns: int = INITIAL_NACK_DELAY_NS,
                 subsequent_nack_delay_ns: int = SUBSEQUENT_NACK_DELAY_NS) -> None:
        self.now_ns = now_ns
        self.nack_timeout_ns = nack_timeout_ns
        self.delivery_limit = delivery_limit
        self.initial_nack_delay_ns = initial_nack_delay_ns
        self.subsequent_nack_delay_ns = subsequent_nack_delay_ns
        self.enabled = False
        self._seq = itertools.count()
        self._tokens = itertools.count(1)
        self._ready: dict[str, list[tuple[int, int, int, Evaluation]]] = {}
        self._unack: dict[str, _Unacked] = {}
        self._deliveries: dict[str, int] = {}
        self._in_flight: dict[tuple[str, str], str] = {}  # job -> eval ID ready or unacked
        self._pending: dict[tuple[str, str], list[Evaluation]] = {}
        self._waiting: list[tuple[int, int, Evaluation]] = []  # (due ns, seq, eval)
        self._cancelable: list[Evaluation] = []

    # -- lifecycle -------------------------------------------------------------------------------

    def set_enabled(self, enabled: bool) -> None:
        """Only the leader's broker is enabled; disabling drops everything (the new leader restores)."""
        self.enabled = enabled
        if not enabled:
            self.__init__(self.now_ns, nack_timeout_ns=self.nack_timeout_ns,  # type: ignore[misc]
                          delivery_limit=self.delivery_limit, initial_nack_delay_ns=self.initial_nack_delay_ns,
                          subsequent_nack_delay_ns=self.subsequent_nack_delay_ns)

    # -- enqueue -----------------------------------------------------------------------------------

    def enqueue(self, ev: Evaluation) -> None:
        if not self.enabled:
            return
        due = to_ns(ev.WaitUntil) if ev.WaitUntil.year > 1 else 0
        if ev.Wait and not due:
            due = self.now_ns() + ev.Wait
        if due > self.now_ns():
            heapq.heappush(self._waiting, (due, next(self._seq), ev))
            return
        self._process_enqueue(ev)

    def _process_enqueue(self, ev: Evaluation) -> None:
        job = _job(ev)
        current = self._in_flight.get(job)
        if current is not None and current != ev.ID:
            self._pending.setdefault(job, []).append(ev)
            return
        self._in_flight[job] = ev.ID
        self._push_ready(ev)

    def _push_ready(self, ev: Evaluation) -> None:
        queue = self._ready.setdefault(ev.Type, [])
        heapq.heappush(queue, (-ev.Priority, ev.CreateIndex, next(self._seq), ev))

    # -- dequeue, ack, nack ------------------------------------------------------------------------

    def dequeue(self, schedulers: list[str]) -> tuple[Evaluation, str] | None:
        """The highest-priority ready evaluation among ``schedulers``' queues, with its token, or
        None if there is none now (the shell waits and retries)."""
        if not self.enabled:
            return None
        best: list[tuple[int, int, int, Evaluation]] | None = None
        for name in schedulers:
            queue = self._ready.get(name)
            if queue and (best is None or queue[0] < best[0]):
                best = queue
        if best is None:
            return None
        ev = heapq.heappop(best)[3]
        token = f"{next(self._tokens):032x}"
        self._unack[ev.ID] = _Unacked(ev, token, self.now_ns() + self.nack_timeout_ns)
        self._deliveries[ev.ID] = self._deliveries.get(ev.ID, 0) + 1
        return ev, token

    def _take(self, eval_id: str, token: str) -> _Unacked:
        unacked = self._unack.get(eval_id)
        if unacked is None:
            raise NotFound(f'evaluation "{eval_id}" is not outstanding')
        if unacked.token != token:
            raise Conflict(f'token does not match for evaluation "{eval_id}"')
        del self._unack[eval_id]
        return unacked

    def ack(self, eval_id: str, token: str) -> None:
        """The evaluation was processed: the job's next waiting evaluation becomes ready."""
        unacked = self._take(eval_id, token)
        self._deliveries.pop(eval_id, None)
        job = _job(unacked.ev)
        if self._in_flight.get(job) == eval_id:
            del self._in_flight[job]
        waiting = self._pending.pop(job, [])
        if waiting:
            waiting.sort(key=lambda e: (e.ModifyIndex, e.CreateIndex))
            newest = waiting.pop()
            self._cancelable.extend(waiting)
            self._in_flight[job] = newest.ID
            self._push_ready(newest)

    def nack(self, eval_id: str, token: str) -> None:
        """The worker gave up on the evaluation: deliver it again later, or fail it."""
        unacked = self._take(eval_id, token)
        self._requeue(unacked.ev)

    def _requeue(self, ev: Evaluation) -> None:
        deliveries = self._deliveries.get(ev.ID, 0)
        if deliveries >= self.delivery_limit:
            self._deliveries.pop(ev.ID, None)
            queue = self._ready.setdefault(FAILED_QUEUE, [])
            heapq.heappush(queue, (-ev.Priority, ev.CreateIndex, next(self._seq), ev))
            job = _job(ev)
            if self._in_flight.get(job) == ev.ID:
                del self._in_flight[job]
                waiting = self._pending.pop(job, [])
                for other in waiting:
                    self._process_enqueue(other)
            return
        delay = self.initial_nack_delay_ns if deliveries <= 1 else self.subsequent_nack_delay_ns
        heapq.heappush(self._waiting, (self.now_ns() + delay, next(self._seq), ev))

    def outstanding_reset(self, eval_id: str, token: str) -> None:
        """A worker still busy with a long evaluation pushes its nack deadline back."""
        unacked = self._unack.get(eval_id)
        if unacked is None or unacked.token != token:
            raise NotFound(f'evaluation "{eval_id}" is not outstanding with that token')
        unacked.deadline_ns = self.now_ns() + self.nack_timeout_ns

    # -- timers ----------------------------------------------------------------------------------

    def tick(self) -> None:
        """Fires due timers: delayed evaluations become ready, silent workers are nacked."""
        now = self.now_ns()
        while self._waiting and self._waiting[0][0] <= now:
            _, _, ev = heapq.heappop(self._waiting)
            self._process_enqueue(ev)
        for eval_id in [i for i, u in self._unack.items() if u.deadline_ns <= now]:
            self._requeue(self._unack.pop(eval_id).ev)

    def next_deadline_ns(self) -> int | None:
        """When ``tick`` next has something to do (for the shell's timer), None if nothing waits."""
        times = [u.deadline_ns for u in self._unack.values()]
        if self._waiting:
            times.append(self._waiting[0][0])
        return min(times, default=None)

    # -- reading -----------------------------------------------------------------------------------

    def cancelable(self) -> list[Evaluation]:
        """Superseded evaluations to mark canceled (drained on each call)."""
        out, self._cancelable = self._cancelable, []
        return out

    def stats(self) -> BrokerStats:
        by = {name: len(q) for name, q in self._ready.items() if name != FAILED_QUEUE}
        return BrokerStats(
            total_ready=sum(by.values()), total_unacked=len(self._unack),
            total_pending=sum(len(v) for v in self._pending.values()), total_waiting=len(self._waiting),
            total_failed=len(self._ready.get(FAILED_QUEUE, [])), by_scheduler=by)
