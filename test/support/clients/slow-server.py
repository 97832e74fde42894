# An HTTP server that answers each request only after a delay, whether or not its client is still there.
# One connection at a time; prints "listening". argv: port, delay in seconds.
import socket
import sys
import time

port, delay = int(sys.argv[1]), float(sys.argv[2])
srv = socket.create_server(("127.0.0.1", port))
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
        time.sleep(delay)
        body = b'{"late":true}'
        try:
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                % (len(body), body)
            )
        except OSError:
            pass
