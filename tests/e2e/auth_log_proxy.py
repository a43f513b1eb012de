#!/usr/bin/python3
"""A loopback reverse proxy (plain HTTP, or HTTPS with CERT and KEY) in front of a test registry that logs, for every request,
the user name of its Basic `Authorization` header (never the password), then forwards it as it
is and passes the answer back (a 401 and its WWW-Authenticate challenge included). One line per
request, written once the backend has answered:

    <METHOD> <PATH> user=<user name, - without the header, ?<scheme> for another scheme> status=<code> ua=<User-Agent>

usage: auth_log_proxy.py LISTEN_IP:PORT BACKEND_IP:PORT LOG [CERT KEY]
"""
import base64
import http.client
import http.server
import ssl
import sys
import threading

HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
       "proxy-authorization", "proxy-authenticate", "host"}


def user_of(value):
    if value is None:
        return "-"
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "basic":
        return "?" + scheme
    try:
        return base64.b64decode(token.strip(), validate=True).decode().split(":", 1)[0] or "?empty"
    except Exception:  # noqa: BLE001 - a malformed header is logged as such
        return "?malformed"


def main():
    listen, backend, log_path = sys.argv[1:4]
    log = open(log_path, "a", buffering=1)
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def handle_any(self, with_body):
            user = user_of(self.headers.get("Authorization"))
            length = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(length) if length else None
            conn = http.client.HTTPConnection(backend, timeout=30)
            fwd = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            conn.request(self.command, self.path, body=data, headers=fwd)
            resp = conn.getresponse()
            body = resp.read()
            with lock:
                log.write("%s %s user=%s status=%d ua=%s\n" % (
                    self.command, self.path, user, resp.status,
                    self.headers.get("User-Agent", "-")))
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in HOP and k.lower() != "content-length":
                    self.send_header(k, v)
            n = resp.getheader("Content-Length") if not with_body else str(len(body))
            self.send_header("Content-Length", n or "0")
            self.end_headers()
            if with_body:
                self.wfile.write(body)
            conn.close()

        def do_GET(self):
            self.handle_any(True)

        def do_HEAD(self):
            self.handle_any(False)

    host, port = listen.rsplit(":", 1)
    server = http.server.ThreadingHTTPServer((host, int(port)), Handler)
    if len(sys.argv) > 5:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[4], sys.argv[5])
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
