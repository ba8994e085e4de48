"""TLS peers for ShadowVirtualHostTests, run with Debian's python3.

serve CERT KEY           answers each TLS connection's first bytes with "tls: <bytes>" and
                         closes; prints "port N" once it listens on 127.0.0.1.
ask PORT NAME CA TEXT    connects to 127.0.0.1:PORT with server name NAME, checks the
                         certificate against CA for NAME, sends TEXT and prints the answer, or
                         "alert: <reason>" when the handshake fails.
"""
import os
import signal
import socket
import ssl
import sys
import threading


def serve(cert, key):
    # The test's process hands SIGTERM down blocked: stop on it all the same.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    print("port", listener.getsockname()[1], flush=True)

    def answer(connection):
        try:
            with context.wrap_socket(connection, server_side=True) as tls:
                tls.sendall(b"tls: " + tls.recv(4096))
        except (OSError, ssl.SSLError):
            pass

    while True:
        connection, _ = listener.accept()
        threading.Thread(target=answer, args=(connection,), daemon=True).start()


def ask(port, name, ca, text):
    context = ssl.create_default_context(cafile=ca)
    with socket.create_connection(("127.0.0.1", int(port)), timeout=5) as connection:
        try:
            with context.wrap_socket(connection, server_hostname=name) as tls:
                tls.sendall(text.encode())
                print(tls.recv(4096).decode(), flush=True)
        except ssl.SSLError as error:
            print("alert:", error.reason, flush=True)


if __name__ == "__main__":
    {"serve": serve, "ask": ask}[sys.argv[1]](*sys.argv[2:])
