# An HTTP/1.1 server that writes each response head with send(2) and its body with sendfile(2)
# (socket.sendfile), on keep-alive connections until the client closes or asks to. Prints "listening".
# argv: port, file to serve (every request gets it).
import os
import socket
import sys

port, path = int(sys.argv[1]), sys.argv[2]
size = os.path.getsize(path)
srv = socket.create_server(("127.0.0.1", port))
print("listening", flush=True)
while True:
    conn, _ = srv.accept()
    with conn:
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                buf += chunk
            if b"\r\n\r\n" not in buf:
                break
            head, buf = buf.split(b"\r\n\r\n", 1)
            close = b"\r\nconnection: close" in head.lower()
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n"
                % (size, b"Connection: close\r\n" if close else b"")
            )
            with open(path, "rb") as f:
                sent = conn.sendfile(f)
            assert sent == size, (sent, size)
            if close:
                break
