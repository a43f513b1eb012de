#!/usr/bin/python3
"""One GET /v2/ or --path (readiness of a test registry, proxy or token service): prints the HTTP status and exits 0, or
prints the error and exits 1. The server is reached by address; over HTTPS its certificate is
verified against --ca (the chain, not the name: the name exists only in the test's namespace).

usage: v2_status.py http[s]://IP:PORT [--ca FILE] [--cert FILE --key FILE] [--header NAME:VALUE] [--path /PATH]
"""
import argparse
import http.client
import ssl
import sys
import urllib.parse


def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--ca")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--header", action="append", default=[])
    p.add_argument("--path", default="/v2/")
    a = p.parse_args()
    u = urllib.parse.urlsplit(a.url)
    try:
        if u.scheme == "https":
            ctx = ssl.create_default_context(cafile=a.ca)
            ctx.check_hostname = False
            if a.cert:
                ctx.load_cert_chain(a.cert, a.key)
            conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=2)
        else:
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=2)
        headers = dict(h.split(":", 1) for h in a.header)
        conn.request("GET", a.path, headers=headers)
        print(conn.getresponse().status)
        return 0
    except Exception as e:  # noqa: BLE001 - any failure means "not ready yet"
        print("%s: %s" % (type(e).__name__, e))
        return 1


if __name__ == "__main__":
    sys.exit(main())
