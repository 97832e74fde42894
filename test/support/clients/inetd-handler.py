# An inetd-style HTTP handler (socat EXEC:...,nofork): the request is read from fd 0 and the response written
# to fd 1, both the accepted socket. Answers one request, then exits.
import os

buf = b""
while b"\r\n\r\n" not in buf:
    chunk = os.read(0, 65536)
    if not chunk:
        break
    buf += chunk
if buf:
    target = buf.split(b"\r\n", 1)[0].split(b" ")[1]
    body = b'{"handler":"inetd","target":"%s"}' % target
    os.write(
        1,
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
        % (len(body), body),
    )
