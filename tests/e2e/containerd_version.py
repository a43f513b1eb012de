#!/usr/bin/python3
"""Asks containerd's API for its version: /containerd.services.version.v1.Version/Version.

Readiness of a started containerd is this call answering, not its socket file existing. Prints
the version containerd reports; on failure prints the gRPC status and exits 1.

usage: containerd_version.py SOCKET [TIMEOUT_SECONDS]
"""
import sys

import grpc


def main():
    socket = sys.argv[1]
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 5.0
    with grpc.insecure_channel("unix://" + socket) as channel:
        version = channel.unary_unary(
            "/containerd.services.version.v1.Version/Version",
            request_serializer=lambda b: b,
            response_deserializer=lambda b: b,
        )
        try:
            response = version(b"", timeout=timeout)
        except grpc.RpcError as e:
            print("VERSION FAILED: %s: %s" % (e.code().name, e.details()))
            return 1
    # VersionResponse{version = 1, revision = 2}: the first field's bytes.
    if len(response) >= 2 and response[0] == 0x0A:
        print("VERSION %s" % response[2:2 + response[1]].decode())
    else:
        print("VERSION ?")
    return 0


if __name__ == "__main__":
    sys.exit(main())
