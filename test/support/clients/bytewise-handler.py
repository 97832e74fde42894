# An inetd-style HTTP handler (socat EXEC:...,nofork) that reads its request ONE BYTE PER read(2) from fd 0, as
# a shell's `read` does on a socket, and answers on fd 1. Answers one request, then exits.
import os

buf = b""
while not buf.endswith(b"\r\n\r\n"):
    b = os.read(0, 1)
    if not b:
        break
    buf += b
if buf:
    target = buf.split(b"\r\n", 1)[0].split(b" ")[1]
    body = b'{"handler":"bytewise","target":"%s"}' % target
    os.write(
        1,
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
        % (len(body), body),
    )
