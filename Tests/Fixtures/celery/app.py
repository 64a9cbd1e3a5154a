"""Celery app for batchctl's tests: a real Celery 5.7 producer and worker.

Environment:
  BROKER_URL                  broker, e.g. redis://:secret@127.0.0.1:6400/0 (required)
  CELERY_TRANSPORT_OPTIONS    JSON for broker_transport_options, e.g.
                              {"global_keyprefix": "pfx:", "sep": ":", "priority_steps": [0,1,2,3,4,5,6,7,8,9]}
  CELERY_ACKS_LATE            "1" sets task_acks_late=True
  CELERY_QUEUES               comma-separated names for task_queues (what Flower lists without workers)
"""
import json
import os
import time

from celery import Celery
from kombu import Queue

app = Celery("fixture", broker=os.environ["BROKER_URL"])
app.conf.update(
    broker_transport_options=json.loads(os.environ.get("CELERY_TRANSPORT_OPTIONS") or "{}"),
    task_acks_late=os.environ.get("CELERY_ACKS_LATE") == "1",
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
    task_default_queue="celery",
)
if os.environ.get("CELERY_QUEUES"):
    app.conf.task_queues = [Queue(name) for name in os.environ["CELERY_QUEUES"].split(",")]


@app.task(name="fixture.sleep")
def sleep(seconds):
    time.sleep(float(seconds))
    return seconds


@app.task(name="fixture.noop")
def noop(*args):
    return None


@app.task(name="fixture.marker")
def marker(task_id, seconds, path):
    """Sleeps `seconds`, writing "start ID HOST" before and "done ID HOST" after to the file `path`
    (appended, one line per write), so a test can tell every task that started from every one that
    finished, and by which worker."""
    host = os.environ.get("POD_NAME") or os.environ.get("HOSTNAME", "")
    with open(path, "a") as f:
        f.write(f"start {task_id} {host}\n")
    time.sleep(float(seconds))
    with open(path, "a") as f:
        f.write(f"done {task_id} {host}\n")
    return task_id
