"""Leader loops stop when leadership ends, even when a write wakes them at that very moment.

(Python 3.11's ``asyncio.wait_for`` returns instead of raising when the cancellation and the awaited
event arrive together; a loop sleeping on it then runs on after ``stop``, and the agent hangs.)
"""

from __future__ import annotations

import asyncio

from agents.server.deploy_watch import Wakeup


def test_a_loop_woken_and_cancelled_together_stops() -> None:
    async def main() -> str:
        wakeup = Wakeup(lambda: 0)

        async def loop() -> None:
            while True:
                wakeup.clear()
                await wakeup.wait(None, max_s=10)

        task = asyncio.create_task(loop())
        await asyncio.sleep(0)
        wakeup.set()
        task.cancel()
        try:
            await asyncio.wait_for(asyncio.shield(task), 1)
        except asyncio.CancelledError:
            return "stopped"
        except TimeoutError:
            task.cancel()
            return "still running"
        return "returned"

    assert asyncio.run(main()) == "stopped"


def test_a_wakeup_ends_the_wait_and_a_deadline_bounds_it() -> None:
    async def main() -> tuple[float, float]:
        now_ns = 0
        wakeup = Wakeup(lambda: now_ns)
        loop = asyncio.get_running_loop()
        started = loop.time()
        loop.call_later(0.05, wakeup.set)
        await wakeup.wait(None, max_s=5)
        woken_s = loop.time() - started
        wakeup.clear()
        started = loop.time()
        await wakeup.wait(100_000_000, max_s=5)  # a deadline 0.1 s after "now"
        return woken_s, loop.time() - started

    woken_s, deadline_s = asyncio.run(main())
    assert woken_s < 1 and 0.09 <= deadline_s < 1
