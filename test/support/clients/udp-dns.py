# DNS-shaped UDP over a dual-stack socket. argv: server PORT | client PORT COUNT
#   server: AF_INET6 bound to [::] with IPV6_V6ONLY=0 (IPv4 peers arrive as ::ffff:a.b.c.d); answers each query
#           with sendto to the address recvfrom gave. Prints "listening".
#   client: AF_INET, unconnected: COUNT queries to 127.0.0.1:PORT (sendto / recvfrom). Prints "answers <n>",
#           then "port <its local port>".
import socket
import struct
import sys

role, port = sys.argv[1], int(sys.argv[2])


def query(qid, name):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for part in name.split("."):
        q += bytes([len(part)]) + part.encode()
    return q + b"\x00" + struct.pack(">HH", 1, 1)


if role == "server":
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    print("listening", flush=True)
    while True:
        d, peer = s.recvfrom(512)
        answer = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x7f\x00\x00\x01"
        s.sendto(d[:2] + b"\x81\x80" + d[4:6] + b"\x00\x01\x00\x00\x00\x00" + d[12:] + answer, peer)
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    n = 0
    for i in range(int(sys.argv[3])):
        s.sendto(query(0x1000 + i, "svc%d.example.test" % i), ("127.0.0.1", port))
        s.recvfrom(512)
        n += 1
    print("answers", n, flush=True)
    print("port", s.getsockname()[1], flush=True)
