"""The run pool: bounded, fair between users, rate-limited per user."""
import asyncio

import pytest

from graders.judge0.pool import QueueFull, RunPool


def test_round_robin_between_users():
    async def scenario():
        pool = RunPool(1, 100)
        order = []
        gate = asyncio.Event()

        async def job(tag):
            order.append(tag)
            await gate.wait() if tag == "first" else asyncio.sleep(0)

        tasks = []
        pool.reserve(1, "alice")
        tasks.append(asyncio.ensure_future(pool.run(lambda: job("first"), "alice")))
        await asyncio.sleep(0)
        for i in range(4):  # alice queues a batch of four...
            pool.reserve(1, "alice")
            tasks.append(asyncio.ensure_future(pool.run(lambda i=i: job(f"a{i}"), "alice")))
        pool.reserve(1, "bob")  # ...then bob one run
        tasks.append(asyncio.ensure_future(pool.run(lambda: job("b0"), "bob")))
        await asyncio.sleep(0)
        gate.set()
        await asyncio.gather(*tasks)
        return order

    order = asyncio.run(scenario())
    assert order[0] == "first"
    assert order.index("b0") <= 2, order  # bob waits at most one of alice's turns
    assert len(order) == 6



def test_at_most_workers_run_at_once():
    async def scenario():
        pool = RunPool(2, 100)
        peak = running = 0

        async def job():
            nonlocal peak, running
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.01)
            running -= 1

        for _ in range(10):
            pool.reserve(1, "u")
        await asyncio.gather(*(pool.run(job, "u") for _ in range(10)))
        return peak, pool.running, pool.reserved

    assert asyncio.run(scenario()) == (2, 0, 0)


def test_global_queue_full():
    pool = RunPool(1, 2)
    pool.reserve(3, "a")  # one starts at once, two wait
    with pytest.raises(QueueFull) as exc:
        pool.reserve(1, "b")
    assert exc.value.retry_after >= 1


def test_per_user_queue_and_rate():
    now = [0.0]
    pool = RunPool(1, 100, per_user_queue=3, per_user_per_minute=6, clock=lambda: now[0])
    pool.reserve(3, "greedy")
    with pytest.raises(QueueFull):
        pool.reserve(1, "greedy")  # its own queue is full
    pool.reserve(1, "other")  # others are not affected
    pool.release(3, "greedy")
    pool.reserve(3, "greedy")  # 6 runs in the first minute
    pool.release(3, "greedy")
    with pytest.raises(QueueFull) as exc:
        pool.reserve(1, "greedy")  # the bucket is empty
    assert 1 <= exc.value.retry_after <= 10
    now[0] += 10.0  # one run's worth of tokens comes back every 10 s
    pool.reserve(1, "greedy")


def test_anonymous_use_only_has_the_global_limit():
    pool = RunPool(1, 1000, per_user_queue=1, per_user_per_minute=1)
    pool.reserve(500, None)
