#!/usr/bin/python3
"""A loopback HTTPS reverse proxy in front of a plain-HTTP test registry that refuses (403) every
request lacking `NAME: VALUE`, so a pull through it proves containerd sent the header. Every
request is logged before it is answered, one line each:

    <METHOD> <PATH> header=<the header's value, or -> ua=<User-Agent>

usage: header_proxy.py LISTEN_IP:PORT BACKEND_IP:PORT CERT KEY NAME VALUE LOG
"""
import http.client
import http.server
import ssl
import sys
import threading

HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
       "proxy-authorization", "proxy-authenticate", "host"}


def main():
    listen, backend, cert, key, name, value, log_path = sys.argv[1:8]
    log = open(log_path, "a", buffering=1)
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def handle_any(self, with_body):
            got = self.headers.get(name)
            with lock:
                log.write("%s %s header=%s ua=%s\n" % (
                    self.command, self.path, got if got is not None else "-",
                    self.headers.get("User-Agent", "-")))
            if got != value:
                body = b'{"errors":[{"code":"DENIED","message":"missing proof header"}]}\n'
                self.send_response(403)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if with_body:
                    self.wfile.write(body)
                return
            conn = http.client.HTTPConnection(backend, timeout=30)
            fwd = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            conn.request(self.command, self.path, headers=fwd)
            resp = conn.getresponse()
            body = resp.read()
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in HOP and k.lower() != "content-length":
                    self.send_header(k, v)
            length = resp.getheader("Content-Length") if not with_body else str(len(body))
            self.send_header("Content-Length", length or "0")
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
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
