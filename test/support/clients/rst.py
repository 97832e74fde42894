# A request read only after its client reset the connection. argv: server PORT | client PORT TARGET
#   server: one connection at a time; after accept, sleeps 0.5 s, then reads the request and tries to answer.
#           Prints "listening", then per connection "read <n>".
#   client: sends "GET TARGET", then resets at once (SO_LINGER 0 + close) without reading anything. Prints
#           "port <its local port>".
import socket
import struct
import sys
import time

role, port = sys.argv[1], int(sys.argv[2])
if role == "server":
    srv = socket.create_server(("127.0.0.1", port))
    print("listening", flush=True)
    while True:
        conn, _ = srv.accept()
        with conn:
            time.sleep(0.5)
            try:
                req = conn.recv(65536)
                print("read", len(req), flush=True)
                body = b'{"late":true}'
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            except OSError as e:
                print("error", e, flush=True)
else:
    s = socket.create_connection(("127.0.0.1", port))
    print("port", s.getsockname()[1], flush=True)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % sys.argv[3].encode())
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
