"""A webhook receiver for tests: answers POSTs on 127.0.0.1 and appends each body (one JSON line per
request: {"path", "body"}) to a file. Standard library only.

usage: webhook_receiver.py PORT LOGFILE [--fail N] [--delay SECONDS]
  --fail N        answer the first N requests with HTTP 500
  --delay SECONDS wait this long before answering every request (a slow webhook)
"""
import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("port", type=int)
parser.add_argument("log")
parser.add_argument("--fail", type=int, default=0)
parser.add_argument("--delay", type=float, default=0.0)
args = parser.parse_args()
lock = threading.Lock()
seen = [0]


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode("utf-8")
        with lock:
            seen[0] += 1
            n = seen[0]
            with open(args.log, "a", encoding="utf-8") as f:
                f.write(json.dumps({"path": self.path, "body": body, "contentType": self.headers.get("Content-Type")}) + "\n")
        if args.delay:
            time.sleep(args.delay)
        status = 500 if n <= args.fail else 200
        try:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *a):
        pass


server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
server.daemon_threads = True
print("listening", flush=True)
server.serve_forever()
