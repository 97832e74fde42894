# Three requests written in one send on one keep-alive connection (HTTP pipelining), then the three responses.
import socket, sys
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port))
reqs = b"".join(b"GET /items/%d HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % i for i in (1, 2, 3))
s.sendall(reqs)
data = b""
while data.count(b"HTTP/1.1 200") < 3 or not data.endswith(b"}"):
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
s.close()
sys.exit(0 if data.count(b"HTTP/1.1 200") == 3 else 3)
