"""Sends hostile worker events with Celery's own event dispatcher (celery.events.EventDispatcher), the
way any process that can publish on the broker could, for batchctl's hardening tests.

usage: hostile_heartbeats.py SPEC_JSON
SPEC_JSON is a list of sends, each:
  {"hostname": "celery@not-a-pod", "count": 1, "distinct": false, "type": "worker-heartbeat",
   "fields": {"active": 9223372036854775807, "freq": 1e300}}
"distinct": true sends `count` events from `count` hostnames (hostname + "-0", "-1", ...).
Prints the number of events sent. Broker and transport options come from the environment (see app.py).
"""
import json
import sys

from app import app

total = 0
with app.connection_for_write() as conn:
    dispatcher = app.events.Dispatcher(conn, enabled=True, buffer_while_offline=False)
    for send in json.loads(sys.argv[1]):
        kind = send.get("type", "worker-heartbeat")
        fields = send.get("fields", {})
        for i in range(int(send.get("count", 1))):
            # The dispatcher stamps every event with its own hostname: set it per event.
            dispatcher.hostname = f"{send['hostname']}-{i}" if send.get("distinct") else send["hostname"]
            dispatcher.send(kind, **fields)
            total += 1
    dispatcher.close()
print(total)
