#!/usr/bin/env python3
"""A minimal Docker Engine API client over dockerd's unix socket (the docker CLI is a separate
package from dockerd 26 on, so the real test speaks the API itself). Prints one line.

  engine_api.py SOCKET version               -> the Engine's version
  engine_api.py SOCKET info                  -> "insecure <names…> mirrors <urls…>"
  engine_api.py SOCKET ping                  -> "OK" when dockerd answers /_ping
  engine_api.py SOCKET pull REF [CONFIG_JSON] -> "pulled" or "failed: <dockerd's message>"
  engine_api.py SOCKET image-id REF          -> the image's ID

`pull … CONFIG_JSON` sends the credentials a docker config.json holds for the reference's
registry in the X-Registry-Auth header, as the docker CLI does: the daemon itself never reads
config.json. Without it, no credentials are sent.
"""
import base64
import http.client
import json
import socket
import sys
import urllib.parse


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=120)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(120)
        self.sock.connect(self.path)


def call(sock, method, url, headers=None):
    c = UnixConnection(sock)
    c.request(method, url, headers=headers or {})
    r = c.getresponse()
    return r.status, r.read().decode("utf-8", "replace")


def registry_of(ref):
    first = ref.split("/", 1)[0]
    if "/" in ref and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def auth_header(config_json, registry):
    with open(config_json) as f:
        auths = json.load(f).get("auths", {})
    key = "https://index.docker.io/v1/" if registry == "docker.io" else registry
    entry = auths.get(key)
    if not entry or "auth" not in entry:
        return None
    user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
    payload = json.dumps({"username": user, "password": password, "serveraddress": key})
    return base64.urlsafe_b64encode(payload.encode()).decode()


def pull(sock, ref, config_json=None):
    name, _, tag = ref.rpartition(":")
    if "/" in tag or not name:
        name, tag = ref, "latest"
    headers = {}
    if config_json:
        h = auth_header(config_json, registry_of(ref))
        if h is None:
            return f"failed: {config_json} has no credentials for {registry_of(ref)}"
        headers["X-Registry-Auth"] = h
    q = urllib.parse.urlencode({"fromImage": name, "tag": tag})
    status, body = call(sock, "POST", f"/images/create?{q}", headers)
    if status != 200:
        try:
            return "failed: " + json.loads(body).get("message", body)
        except ValueError:
            return f"failed: HTTP {status} {body.strip()}"
    # A 200 answer streams progress; an error ends the stream with an "error" object.
    for line in body.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if "error" in msg:
            return "failed: " + msg["error"]
    status, _ = call(sock, "GET", f"/images/{urllib.parse.quote(ref, safe='')}/json")
    return "pulled" if status == 200 else f"failed: pulled, but GET /images/{ref}/json is {status}"


def main():
    sock, what, *rest = sys.argv[1:]
    if what == "ping":
        try:
            status, body = call(sock, "GET", "/_ping")
        except OSError as e:
            print(f"no: {e}")
            return
        print(body if status == 200 else f"no: {status}")
    elif what == "version":
        print(json.loads(call(sock, "GET", "/version")[1])["Version"])
    elif what == "info":
        info = json.loads(call(sock, "GET", "/info")[1])
        reg = info["RegistryConfig"]
        insecure = sorted(n for n, c in reg["IndexConfigs"].items() if not c["Secure"])
        insecure += sorted(reg.get("InsecureRegistryCIDRs") or [])
        print("insecure " + " ".join(insecure) + " mirrors " + " ".join(reg.get("Mirrors") or []))
    elif what == "pull":
        print(pull(sock, rest[0], rest[1] if len(rest) > 1 else None))
    elif what == "image-id":
        q = urllib.parse.quote(rest[0], safe="")
        print(json.loads(call(sock, "GET", f"/images/{q}/json")[1])["Id"])
    else:
        sys.exit(f"unknown command {what}")


if __name__ == "__main__":
    main()
