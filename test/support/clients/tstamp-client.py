# An HTTP client with SO_TIMESTAMPING (software TX timestamps, no OPT_TSONLY: the kernel loops each packet sent
# back on the socket's error queue, headers and payload). On one keep-alive connection: GET /<file>, read the
# first 200 bytes of the response, send GET /small (pipelined, Connection: close), drain MSG_ERRQUEUE, then read
# the rest. Prints JSON: error-queue bytes drained, bytes read from the connection, whether the first body read
# equals the file. argv: port file-name file-path
import json
import socket
import sys
import time

SO_TIMESTAMPING = 37
TX_SOFTWARE, SOFTWARE, OPT_ID = 1 << 1, 1 << 4, 1 << 7
port, name, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPING, TX_SOFTWARE | SOFTWARE | OPT_ID)
s.sendall(b"GET /%s HTTP/1.1\r\nHost: x\r\n\r\n" % name.encode())
first = s.recv(200, socket.MSG_WAITALL)
s.sendall(b"GET /small HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
time.sleep(0.2)
errq = 0
while True:
    try:
        d, _anc, _fl, _addr = s.recvmsg(4096, 1024, socket.MSG_ERRQUEUE | socket.MSG_DONTWAIT)
        errq += len(d)
    except BlockingIOError:
        break
rest = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    rest += d
resp = first + rest
head, body = resp.split(b"\r\n\r\n", 1)
n = int([h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")][0].split(b":")[1])
with open(path, "rb") as f:
    equal = body[:n] == f.read()
print(json.dumps({"errqueue": errq, "read": len(resp), "equal": equal}), flush=True)
