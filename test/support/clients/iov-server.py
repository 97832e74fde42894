# An HTTP server answering each request with ONE writev(2) or sendmsg(2) of 1,001 non-empty iovecs: the head,
# then 1,000 six-byte pieces "00000," .. "00999," (a 6,000-byte body). GET /writev or GET /sendmsg picks the
# call. One connection at a time; prints "listening", then per response "sent <bytes> <call>". argv: port
import os
import socket
import sys

PIECES = [b"%05d," % i for i in range(1000)]
BODY = b"".join(PIECES)
srv = socket.create_server(("127.0.0.1", int(sys.argv[1])))
print("listening", flush=True)
while True:
    conn, _ = srv.accept()
    with conn:
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = conn.recv(65536)
            if not chunk:
                break
            buf += chunk
        if not buf:
            continue
        call = "sendmsg" if buf.startswith(b"GET /sendmsg") else "writev"
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(BODY)
        iov = [head, *PIECES]
        sent = os.writev(conn.fileno(), iov) if call == "writev" else conn.sendmsg(iov)
        print("sent", sent, call, flush=True)
