"""Closed-loop TCP echo client for callgrind-echo.sh.

Opens CONNS connections to 127.0.0.1:PORT, echoes two SIZE-byte messages on each, prints
"ready" and waits for a line on stdin, then echoes TOTAL messages in all (one in flight per
connection) and prints how many came back whole.

    python3 echo_client.py PORT CONNS TOTAL SIZE
"""

import selectors
import socket
import sys


def main():
    port, conns, total, size = (int(arg) for arg in sys.argv[1:5])
    message = bytes(i % 251 for i in range(size))
    selector = selectors.DefaultSelector()
    socks = []
    for _ in range(conns):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
        socks.append(sock)

    def run(count):
        sent = done = 0
        unread = {}
        for sock in socks:
            if sent < count:
                sock.send(message)
                sent += 1
                unread[sock] = 0
        while done < count:
            events = selector.select(timeout=30)
            if not events:
                sys.exit("no echo for 30 s")
            for key, _ in events:
                sock = key.fileobj
                data = sock.recv(65536)
                if not data:
                    sys.exit("the server closed a connection")
                unread[sock] += len(data)
                while unread[sock] >= size:
                    unread[sock] -= size
                    done += 1
                    if sent < count:
                        sock.send(message)
                        sent += 1
        return done

    run(2 * conns)
    print("ready", flush=True)
    sys.stdin.readline()
    print("echoed", run(total), flush=True)


if __name__ == "__main__":
    main()
