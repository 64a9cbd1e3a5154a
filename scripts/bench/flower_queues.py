"""Times Flower's `Broker.queues` the way Flower's /api/queues/length calls it: a new Broker per request
(flower/views/__init__.py `get_broker`), then one LLEN per queue and priority step in a pipeline.

usage: python flower_queues.py REDIS_URL QUEUE_COUNT RUNS
prints one JSON line: {"median_ms": .., "p90_ms": .., "runs": .., "messages": <sum of all queues>}
Queue names are batch0..batch<N-1>, Flower's default priority steps (0, 3, 6, 9) and separator.
"""
import asyncio
import json
import sys
import time

from flower.utils.broker import Broker


async def once(url, names):
    broker = Broker(url, broker_options={})
    queues = await broker.queues(names)
    return sum(q["messages"] for q in queues)


async def main():
    url, count, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    names = [f"batch{i}" for i in range(count)]
    messages = 0
    for _ in range(max(runs // 10, 1)):   # warm-up
        messages = await once(url, names)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        await once(url, names)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    # Nearest rank, as batchbench's Percentiles.
    def rank(p):
        return samples[max(0, min(len(samples) - 1, -(-p * len(samples) // 100) - 1))]
    print(json.dumps({"median_ms": rank(50), "p90_ms": rank(90), "runs": runs, "messages": messages}))


asyncio.run(main())
