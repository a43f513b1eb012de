#!/usr/bin/python3
"""A Docker registry token service (the Bearer token flow of docker-registry's `auth: token`) for
the real suite: plain HTTP on loopback, tokens signed (ES256 for an EC key, else RS256) with a test
key whose certificate chains to the registry's `rootcertbundle` (sent as the JWT's `x5c`, which
docker-registry 2.8 verifies).

It grants every requested scope to a known client and logs one line per token request (never a
password or token):

    <METHOD> grant=<basic|password|refresh_token|anonymous> user=<name or -> status=<code>

- GET  /token?service=S&scope=… with HTTP Basic credentials (docker's classic flow);
- POST /token with a form: grant_type=password (username, password) or grant_type=refresh_token
  (refresh_token = an identity token), the OAuth2 flow containerd tries first.
Anonymous requests are refused (401): this registry serves no one without credentials.

usage: token_service.py LISTEN_IP:PORT KEY CERT ISSUER USERS_FILE LOG
USERS_FILE: one `user:password` per line, or `=identity-token:user` for an identity token.
"""
import base64
import http.server
import json
import sys
import threading
import time
import urllib.parse
import uuid

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key


def main():
    listen, key_path, cert_path, issuer, users_path, log_path = sys.argv[1:7]
    key = open(key_path, "rb").read()
    alg = "ES256" if isinstance(load_pem_private_key(key, None), ec.EllipticCurvePrivateKey) else "RS256"
    cert = x509.load_pem_x509_certificate(open(cert_path, "rb").read())
    x5c = [base64.b64encode(cert.public_bytes(Encoding.DER)).decode()]
    passwords, identity = {}, {}
    for line in open(users_path):
        line = line.rstrip("\n")
        if line.startswith("="):
            tok, _, user = line[1:].rpartition(":")
            identity[tok] = user
        elif line:
            user, _, pw = line.partition(":")
            passwords[user] = pw
    log = open(log_path, "a", buffering=1)
    lock = threading.Lock()

    def scopes(values):
        access = []
        for scope in values:
            for s in scope.split(" "):
                parts = s.split(":")
                if len(parts) >= 3:
                    access.append({"type": parts[0], "name": ":".join(parts[1:-1]),
                                   "actions": parts[-1].split(",")})
        return access

    def issue(service, access, user):
        now = int(time.time())
        claims = {"iss": issuer, "sub": user, "aud": service, "exp": now + 300,
                  "nbf": now - 10, "iat": now, "jti": str(uuid.uuid4()), "access": access}
        return jwt.encode(claims, key, algorithm=alg, headers={"x5c": x5c})

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, method, grant, user, status, body):
            data = json.dumps(body).encode()
            with lock:
                log.write("%s grant=%s user=%s status=%d\n" % (method, grant, user or "-", status))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            service = (q.get("service") or [""])[0]
            value = self.headers.get("Authorization") or ""
            scheme, _, b64 = value.partition(" ")
            if scheme.lower() != "basic":
                return self.answer("GET", "anonymous", None, 401, {"details": "credentials required"})
            try:
                user, _, pw = base64.b64decode(b64.strip()).decode().partition(":")
            except Exception:  # noqa: BLE001 - malformed header
                return self.answer("GET", "basic", "?malformed", 401, {})
            if passwords.get(user) != pw:
                return self.answer("GET", "basic", user, 401, {"details": "bad credentials"})
            token = issue(service, scopes(q.get("scope", [])), user)
            self.answer("GET", "basic", user, 200, {"token": token, "access_token": token,
                                                    "expires_in": 300})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            form = urllib.parse.parse_qs(self.rfile.read(length).decode())
            one = lambda k: (form.get(k) or [""])[0]  # noqa: E731
            grant = one("grant_type")
            user = None
            if grant == "password":
                user = one("username")
                ok = user in passwords and passwords[user] == one("password")
            elif grant == "refresh_token":
                user = identity.get(one("refresh_token"))
                ok = user is not None
            else:
                ok = False
            if not ok:
                return self.answer("POST", grant or "anonymous", user, 401, {"error": "invalid_grant"})
            token = issue(one("service"), scopes(form.get("scope", [])), user)
            self.answer("POST", grant, user, 200, {"access_token": token, "expires_in": 300})

    host, port = listen.rsplit(":", 1)
    http.server.ThreadingHTTPServer((host, int(port)), Handler).serve_forever()


if __name__ == "__main__":
    main()
