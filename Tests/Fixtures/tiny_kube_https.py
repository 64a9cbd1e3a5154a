#!/usr/bin/env python3
"""A tiny HTTPS stand-in for an API server, used by KubeClient transport tests before/besides KubeSim.

Usage: tiny_kube_https.py PORT CERT KEY CA   (client certificates are optional and verified against CA)
Tokens: "tok-alice" -> alice, "tok-bob" -> bob; a client certificate's CN is the user otherwise.
"""
import signal
# The test runner may have SIGTERM ignored or blocked, and children inherit both: restore them so stop() is quick.
signal.signal(signal.SIGTERM, signal.SIG_DFL)
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
import json, ssl, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, cert, key, ca = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
lock = threading.Lock()
state = {"connections": 0, "hits": {}, "requests": []}
TOKENS = {"tok-alice": "alice", "tok-bob": "bob"}


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def get_request(self):
        sock, addr = super().get_request()
        with lock:
            state["connections"] += 1
        return sock, addr


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *a):
        pass

    def user(self):
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return TOKENS.get(auth[7:])
        peer = self.connection.getpeercert()
        if peer:
            for rdn in peer.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        return v
        return None

    def send_json(self, code, obj, headers=None):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def status(self, code, reason, message):
        self.send_json(code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                              "message": message, "reason": reason, "code": code})

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?")[0]
        with lock:
            state["requests"].append({"method": self.command, "path": self.path,
                                      "userAgent": self.headers.get("User-Agent", ""),
                                      "contentType": self.headers.get("Content-Type", ""), "body": body.decode()})
            hits = state["hits"][path] = state["hits"].get(path, 0) + 1
        if path == "/stats":
            with lock:
                return self.send_json(200, {"connections": state["connections"], "requests": state["requests"]})
        user = self.user()
        if user is None:
            return self.status(401, "Unauthorized", "Unauthorized")
        if path == "/apis/authentication.k8s.io/v1/selfsubjectreviews":
            return self.send_json(201, {"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
                                        "status": {"userInfo": {"username": user, "groups": ["system:authenticated"]}}})
        if path.startswith("/throttle-once/"):
            if hits == 1:
                body = b"Too many requests, please try again later.\n"
                self.send_response(429)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Retry-After", "1")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                return self.wfile.write(body)
            return self.send_json(200, {"hits": hits})
        if path.startswith("/fail-500/"):
            return self.status(500, "InternalError", "boom %d" % hits)
        if path.startswith("/conflict"):
            return self.status(409, "Conflict", 'Operation cannot be fulfilled on deployments.apps "web": the object has been modified')
        if path.startswith("/slow"):
            time.sleep(3)
            return self.send_json(200, {"slow": True})
        if path.startswith("/silent-stream"):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            line = b'{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"1"}}}\n'
            self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            self.wfile.flush()
            time.sleep(30)
            return
        return self.send_json(200, {"path": path, "user": user})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ctx.load_verify_locations(ca)
ctx.verify_mode = ssl.CERT_OPTIONAL
srv = Server(("127.0.0.1", port), Handler)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("ready", flush=True)
srv.serve_forever()
