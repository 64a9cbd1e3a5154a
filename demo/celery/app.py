"""The Celery app `kubesim demo` runs: one task that sleeps 50-500 ms and records that it completed.

The demo's worker pods (celery -A app worker -Q batchN, started by KubeSim's kubelet) and its producer
(produce.py) import this module.

Environment:
  BROKER_URL         the demo's redis-server, such as redis://127.0.0.1:41234/0 (required)
  DEMO_COMPLETIONS   file to which each completed task appends one line "TASK_ID POD" (required by workers)
"""
import os
import time

from celery import Celery

app = Celery("demo", broker=os.environ["BROKER_URL"])
app.conf.update(
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
    task_ignore_result=True,
)


@app.task(name="demo.work")
def work(task_id, milliseconds):
    """Stands in for real work (hashing a password, say): sleeps, then appends "TASK_ID POD" to
    DEMO_COMPLETIONS, so the demo can check that every task completed exactly once. One short write
    with O_APPEND: lines from concurrent workers never interleave."""
    time.sleep(milliseconds / 1000.0)
    pod = os.environ.get("POD_NAME") or os.environ.get("HOSTNAME", "")
    line = f"{task_id} {pod}\n".encode()
    fd = os.open(os.environ["DEMO_COMPLETIONS"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    return task_id
