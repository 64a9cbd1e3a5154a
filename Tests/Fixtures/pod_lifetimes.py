"""Watches a namespace's pods on KubeSim and prints, per event, one JSON line with the time it was received
(this machine's clock), for tests that compare batchctl's usage ledger with when pods really ran.

usage: pod_lifetimes.py SERVER_URL CA_FILE TOKEN NAMESPACE
Each line: {"t": 1733450000.123, "type": "ADDED|MODIFIED|DELETED", "name": ..., "startedAt": "...Z" or null}
Runs until killed; the watch is restarted (after 0.2 s) if the server ends it.
"""
import json
import ssl
import sys
import time
import urllib.request

server, ca, token, namespace = sys.argv[1:5]
context = ssl.create_default_context(cafile=ca)
while True:
    request = urllib.request.Request(f"{server}/api/v1/namespaces/{namespace}/pods?watch=1",
                                     headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, context=context, timeout=600) as response:
            for raw in response:
                event = json.loads(raw)
                pod = event.get("object", {})
                started = None
                for c in pod.get("status", {}).get("containerStatuses", []) or []:
                    started = (c.get("state", {}).get("running") or {}).get("startedAt") or started
                print(json.dumps({"t": time.time(), "type": event.get("type"), "name": pod.get("metadata", {}).get("name"),
                                  "startedAt": started}), flush=True)
    except Exception as error:  # the server restarted the watch, or is stopping
        print(json.dumps({"t": time.time(), "type": "ERROR", "error": str(error)}), flush=True)
    time.sleep(0.2)
