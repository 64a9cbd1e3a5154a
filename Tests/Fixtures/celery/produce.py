"""Sends tasks the way an application does (apply_async), for batchctl's tests.

usage: produce.py SPEC_JSON
SPEC_JSON is a list of sends, each:
  {"queue": "batch0", "count": 3, "priority": 5, "countdown": 600, "task": "fixture.sleep", "args": [30],
   "exchange": "jobs", "routing_key": "rk5"}
Only "count" is required; "queue" and/or "exchange"/"routing_key" route it.
Prints the number of tasks sent. Broker and transport options come from the environment (see app.py).
"""
import json
import sys

from app import app

total = 0
with app.connection_for_write() as conn:
    with app.producer_or_acquire() as producer:
        for send in json.loads(sys.argv[1]):
            options = {}
            for key in ("queue", "priority", "countdown", "exchange", "routing_key"):
                if send.get(key) is not None:
                    options[key] = send[key]
            for _ in range(int(send["count"])):
                app.send_task(send.get("task", "fixture.noop"), args=send.get("args", []), producer=producer, **options)
                total += 1
print(total)
