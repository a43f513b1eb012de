#!/usr/bin/python3
"""Minimal CRI client: runtime.v1.ImageService/PullImage over containerd's unix socket.

The call kubelet makes to pull an image. The protobuf messages are encoded by hand
(PullImageRequest{image: ImageSpec{image: REF}}) so that only Debian's python3-grpcio is needed.
Prints the image reference containerd returns; on failure prints the gRPC status and exits 1.

usage: cri_pull.py SOCKET IMAGE [TIMEOUT_SECONDS]
"""
import sys

import grpc


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_bytes(number, payload):
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def read_varint(buf, i):
    shift = n = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def first_string_field(buf, number):
    i = 0
    while i < len(buf):
        key, i = read_varint(buf, i)
        wire = key & 7
        if wire == 2:
            size, i = read_varint(buf, i)
            if key >> 3 == number:
                return buf[i:i + size].decode()
            i += size
        elif wire == 0:
            _, i = read_varint(buf, i)
        else:
            raise ValueError("unexpected wire type %d" % wire)
    return None


def main():
    socket, image = sys.argv[1], sys.argv[2]
    timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 60.0
    image_spec = field_bytes(1, image.encode())
    request = field_bytes(1, image_spec)
    with grpc.insecure_channel("unix://" + socket) as channel:
        pull = channel.unary_unary(
            "/runtime.v1.ImageService/PullImage",
            request_serializer=lambda b: b,
            response_deserializer=lambda b: b,
        )
        try:
            response = pull(request, timeout=timeout)
        except grpc.RpcError as e:
            print("PULL FAILED: %s: %s" % (e.code().name, e.details()))
            return 1
    print("PULLED %s" % first_string_field(response, 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
