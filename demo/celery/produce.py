"""Sends demo tasks the way an application does (apply_async through a producer), for `kubesim demo`.

usage: produce.py QUEUE COUNT PREFIX
Sends COUNT `demo.work` tasks to QUEUE with ids PREFIX-0001.. and a sleep of 50-500 ms each (the same
sleeps for the same PREFIX), then prints {"sent": COUNT, "firstSentAt": UNIX_TIME_OF_THE_FIRST_SEND}.
The broker comes from BROKER_URL (see app.py).
"""
import json
import random
import sys
import time

from app import app

queue, count, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rng = random.Random(prefix)
width = max(4, len(str(count)))
first = None
with app.connection_for_write() as conn:
    with app.producer_or_acquire() as producer:
        for i in range(1, count + 1):
            task_id = f"{prefix}-{i:0{width}d}"
            app.send_task("demo.work", args=[task_id, rng.randint(50, 500)], queue=queue, producer=producer)
            if first is None:
                first = time.time()
print(json.dumps({"sent": count, "firstSentAt": first}), flush=True)
