"""The peers NetworkLabTests runs inside a lab's namespaces (Debian's /usr/bin/python3, stdlib only).

tcp-serve HOST PORT            accept connections; print "peer IP:PORT" for each and tell the
                               client "you are IP:PORT" (the address this server saw).
tcp-connect [--from SRC] HOST PORT
                               connect within 1 s; print the server's line, or "failed: REASON"
                               and exit 1.
udp-reflect HOST PORT_A PORT_B OTHER PORT_C
                               sockets on HOST:PORT_A, HOST:PORT_B and OTHER:PORT_C. "map" on any
                               of them is answered from it with "seen IP:PORT"; "filter" on
                               PORT_A is answered the same, then "probe" datagrams go to the sender
                               from PORT_B and from OTHER:PORT_C.
udp-probe HOST PORT_A PORT_B LOCAL_1 LOCAL_2
                               from LOCAL_1, "map" to PORT_A then PORT_B: print "mapping A IP:PORT"
                               and "mapping B IP:PORT" (how the reflector saw us); from LOCAL_2,
                               "filter" to PORT_A, then print "from IP:PORT TEXT" for every
                               datagram that reaches LOCAL_2 within 0.5 s.
udp-answer HOST PORT           a DNS-like service: answer every datagram with "answer " and it.
udp-ask HOST PORT COUNT        send COUNT queries ("query N"), each retried every 0.5 s up to 6
                               times; print "answered K of COUNT" and exit 1 unless every answer
                               was right.
"""
import select
import socket
import sys
import time


def address(pair):
    return f"{pair[0]}:{pair[1]}"


def say(line):
    print(line, flush=True)


def tcp_serve(host, port):
    server = socket.create_server((host, int(port)))
    say(f"listening {host}:{port}")
    while True:
        connection, peer = server.accept()
        say(f"peer {address(peer)}")
        with connection:
            connection.sendall(f"you are {address(peer)}\n".encode())


def tcp_connect(arguments):
    source = None
    if arguments[0] == "--from":
        source, arguments = (arguments[1], 0), arguments[2:]
    host, port = arguments
    try:
        with socket.create_connection((host, int(port)), timeout=1, source_address=source) as connection:
            say(connection.makefile().readline().strip())
    except OSError as error:
        say(f"failed: {error}")
        sys.exit(1)


def udp_socket(host, port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, int(port)))
    return sock


def udp_reflect(host, port_a, port_b, other, port_c):
    a, b, c = udp_socket(host, port_a), udp_socket(host, port_b), udp_socket(other, port_c)
    say("listening")
    while True:
        ready, _, _ = select.select([a, b, c], [], [])
        for sock in ready:
            data, sender = sock.recvfrom(2048)
            sock.sendto(f"seen {address(sender)}".encode(), sender)
            if data == b"filter" and sock is a:
                b.sendto(b"probe", sender)
                c.sendto(b"probe", sender)


def udp_probe(host, port_a, port_b, local_1, local_2):
    mapper = udp_socket("0.0.0.0", local_1)
    mapper.settimeout(1)
    for name, port in (("A", port_a), ("B", port_b)):
        mapper.sendto(b"map", (host, int(port)))
        say(f"mapping {name} {mapper.recv(2048).decode().removeprefix('seen ')}")
    listener = udp_socket("0.0.0.0", local_2)
    listener.sendto(b"filter", (host, int(port_a)))
    deadline = time.monotonic() + 0.5
    while (left := deadline - time.monotonic()) > 0:
        if select.select([listener], [], [], left)[0]:
            data, sender = listener.recvfrom(2048)
            say(f"from {address(sender)} {data.decode()}")


def udp_answer(host, port):
    sock = udp_socket(host, port)
    say("listening")
    while True:
        data, sender = sock.recvfrom(2048)
        sock.sendto(b"answer " + data, sender)


def udp_ask(host, port, count):
    sock = udp_socket("0.0.0.0", 0)
    sock.settimeout(0.5)
    answered = 0
    for number in range(int(count)):
        query = f"query {number}".encode()
        for _ in range(6):
            sock.sendto(query, (host, int(port)))
            try:
                if sock.recv(2048) == b"answer " + query:
                    answered += 1
                    break
            except socket.timeout:
                pass
    say(f"answered {answered} of {count}")
    sys.exit(0 if answered == int(count) else 1)


if __name__ == "__main__":
    command, arguments = sys.argv[1], sys.argv[2:]
    if command == "tcp-serve":
        tcp_serve(*arguments)
    elif command == "tcp-connect":
        tcp_connect(arguments)
    elif command == "udp-reflect":
        udp_reflect(*arguments)
    elif command == "udp-probe":
        udp_probe(*arguments)
    elif command == "udp-answer":
        udp_answer(*arguments)
    elif command == "udp-ask":
        udp_ask(*arguments)
    else:
        sys.exit(f"unknown command {command}")
