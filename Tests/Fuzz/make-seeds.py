#!/usr/bin/env python3
"""Writes the fuzz seed corpus, seeds/<target>/ (committed), one file per input:

- datagram: the CBOR form of every Boson test vector;
- http, websocket: `[split][flags]` (README.md) then real requests and masked frames;
- json: the values and peer records of the vectors as Carrier writes them (`carrier wire decode`),
  as REST bodies and inside WebSocket messages;
- opendht: OpenDHT API bodies (as OpenDHTProxyTests sends them) and a stored bucket;
- runner: runner messages (CBOR maps), their records written by Carrier (`carrier wire encode`);
- shadow: `[mode]` then Shadow frame plaintexts (`[length: 2] bytes`) or raw bytes, and source ranges.

Usage: make-seeds.py [PATH/TO/boson-messages.json], by default the one in ../shared beside the
clone. Needs a built `carrier` (`swift build --product carrier`; or set CARRIER=path)."""
import base64, json, os, shutil, struct, subprocess, sys

here = os.path.dirname(os.path.abspath(__file__))
source = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "../../../shared/vectors/boson-messages.json")
carrier = os.environ.get("CARRIER") or next(
    (p for p in (os.path.join(here, "../../.build", c, "carrier") for c in ("debug", "release")) if os.path.exists(p)), "carrier")
vectors = json.load(open(source))["vectors"]


def write(target, name, data):
    folder = os.path.join(here, "seeds", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def decode(cbor_hex):  # Carrier's JSON form of a message
    return json.loads(subprocess.check_output([carrier, "wire", "decode", cbor_hex], text=True))


def encode(message):  # Carrier's CBOR form of a message
    return bytes.fromhex(subprocess.check_output([carrier, "wire", "encode", json.dumps(message, separators=(",", ":"))], text=True).strip())


def compact(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def cbor(item):  # definite-length CBOR of ints, text, bytes, lists and dicts (RunnerMessage's profile)
    def head(major, n):
        if n < 24: return bytes([major << 5 | n])
        for info, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
            if n < 1 << (8 * struct.calcsize(fmt)): return bytes([major << 5 | info]) + struct.pack(fmt, n)
    if isinstance(item, int): return head(0, item) if item >= 0 else head(1, -1 - item)
    if isinstance(item, bytes): return head(2, len(item)) + item
    if isinstance(item, str): return head(3, len(item.encode())) + item.encode()
    if isinstance(item, list): return head(4, len(item)) + b"".join(map(cbor, item))
    return head(5, len(item)) + b"".join(cbor(k) + cbor(v) for k, v in item.items())


for folder in ("datagram", "http", "websocket", "json", "opendht", "runner", "shadow"):
    shutil.rmtree(os.path.join(here, "seeds", folder), ignore_errors=True)

# datagram
for index, vector in enumerate(vectors):
    write("datagram", f"{index:02d}-{vector['case']}.cbor", bytes.fromhex(vector["cbor"]))

# json: values (STORE_VALUE's fields, less the request's own) and peer records (ANNOUNCE_PEER's, `k` as `id`)
values, peers = [], []
for vector in vectors:
    message = decode(vector["cbor"])
    body = message.get("q") or message.get("r") or {}
    if "v" in body and isinstance(body["v"], str):
        values.append({k: body[k] for k in ("k", "rec", "n", "seq", "sig", "v") if k in body})
    if vector["case"] == "announcePeerRequests":
        peers.append({("id" if k == "k" else k): v for k, v in body.items() if k != "tok"})
for index, value in enumerate(values):
    write("json", f"value-{index}.json", compact(value))
for index, peer in enumerate(peers):
    write("json", f"peer-{index}.json", compact(peer))
node = peers[0]["id"]
signed = next(v for v in values if "k" in v)
write("json", "ws-putValue.json", compact({"req": 1, "op": "putValue", "value": signed, "cas": 2}))
write("json", "ws-announcePeer.json", compact({"req": 2, "op": "announcePeer", "peer": peers[-1]}))
write("json", "ws-authenticate.json", compact({"req": 3, "op": "authenticate", "node": node, "challenge": "q1w2e3r4t5y6",
                                               "signature": peers[0]["sig"]}))
write("json", "ws-subscribe.json", compact({"req": 4, "op": "subscribe", "value": signed["k"], "seq": 3}))
write("json", "ws-getValue.json", compact({"req": 5, "op": "getValue", "id": signed["k"], "cas": 0}))
write("json", "escapes.json", '{"a":"\\u00e9\\ud83d\\ude00\\n\\/","b":[true,false,null,-9223372036854775808,18446744073709551615],"c":{}}')

# opendht: bodies of POST /key/{hash}, and a bucket [[id, expires, fields JSON]] as stored
for name, body in [
    ("plain", '{"data":"aGVsbG8=","id":"0","type":0,"utype":"text/plain"}'),
    ("permanent", '{"data":"d29ybGQ=","id":"77","permanent":true}'),
    ("numeric-id", '{"data":"aA==","id":18446744073709551615,"seq":4,"prio":1}'),
    ("cypher", '{"cypher":"AAECAwQ=","to":"0123456789abcdef0123456789abcdef01234567","type":1,"id":"9"}'),
    ("signed", '{"data":"aA==","owner":"AAAA","sig":"aA==","seq":1,"id":"3"}'),
    ("bad-data", '{"data":"%%%"}'),
]:
    write("opendht", f"body-{name}.json", body)
write("opendht", "bucket.cbor", cbor([[77, 1700000600, '{"data":"d29ybGQ="}'], [5, 1700000000, '{"data":"aGVsbG8=","type":0,"utype":"text/plain"}']]))
write("opendht", "key.txt", "0123456789ABCDEF0123456789abcdef01234567")

# runner: messages as the host and a runner send them
value_message = next(bytes.fromhex(v["cbor"]) for v in vectors if v["case"] == "findValueResponses" and '"sig"' in v["json"])
peer_message = encode({"y": 68, "t": 1, "r": {"p": peers}})
node_id = base64.b64decode("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
write("runner", "store.cbor", cbor({"op": "store", "id": 42, "value": value_message, "peers": peer_message,
                                    "nodes": [[node_id, bytes([127, 0, 0, 1]), 39001], [node_id, bytes(15) + b"\x01", 1]],
                                    "amount": struct.unpack(">Q", struct.pack(">d", 0.25))[0]}))
write("runner", "result.cbor", cbor({"op": "result", "id": 7, "value": value_message}))
write("runner", "find-value.cbor", cbor({"op": "find_value", "id": 1, "target": node_id}))
write("runner", "counter.cbor", cbor({"op": "counter", "name": "requests", "amount": struct.unpack(">Q", struct.pack(">d", 1.0))[0]}))
write("runner", "log.cbor", cbor({"op": "log", "level": 2, "text": "hello"}))
write("runner", "exit.cbor", cbor({"op": "exit"}))

# http: [split][flags] then the bytes of one connection (flags: 1 unwritable, 2 client leaves, 4 deadlines, 8 no WebSocket)
def http(name, text, split=0x80, flags=0):
    write("http", name, bytes([split, flags]) + text.encode("latin-1"))

get = "GET /v1/node HTTP/1.1\r\nHost: proxy\r\n\r\n"
http("crash-empty-query-item", "GET /v1/node?= HTTP/1.1\r\nHost: proxy\r\n\r\n")
http("get", get)
http("get-query", "GET /v1/values/caf%C3%A9?cas=3&a+b=%7E&flag&&cas=4 HTTP/1.1\r\nHost: proxy\r\nAccept: application/json\r\n\r\n")
http("pipelined", get + "HEAD /v1/node HTTP/1.1\r\nHost: proxy\r\n\r\n" + "GET /busy HTTP/1.1\r\nHost: proxy\r\nConnection: close\r\n\r\n")
http("pipelined-unwritable", get * 3, split=0x40, flags=1)
http("pipelined-leaves", get * 2, flags=2)
http("chunked-post", "POST /v1/values HTTP/1.1\r\nHost: proxy\r\nTransfer-Encoding: chunked\r\n\r\n"
     "9\r\n{\"v\":\"aGk\r\n3\r\n\"}\n\r\n0\r\n\r\n")
http("chunked-too-long", "POST /v1/values HTTP/1.1\r\nHost: proxy\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n" + "x" * 64 + "\r\n8\r\n" + "y" * 8 + "\r\n0\r\n\r\n")
http("post-length", "POST /key/0123456789abcdef0123456789abcdef01234567 HTTP/1.1\r\nHost: proxy\r\nContent-Length: 30\r\n\r\n"
     '{"data":"aGVsbG8=","id":"77"}\n')
http("post-too-large", "POST /v1/peers HTTP/1.1\r\nHost: proxy\r\nContent-Length: 100000\r\n\r\n{")
http("expect-continue", "POST /v1/values HTTP/1.1\r\nHost: proxy\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}")
http("http10", "GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + get)
http("stream", "GET /stream/listen HTTP/1.1\r\nHost: proxy\r\n\r\n")
http("upgrade", "GET /v1/ws?token=abc HTTP/1.1\r\nHost: proxy\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n\x81\x82\x01\x02\x03\x04\x7a\x7f")
http("upgrade-no-endpoint", "GET /v1/ws HTTP/1.1\r\nHost: proxy\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", flags=8)
http("head-deadline", "GET /v1/node HTTP/1.1\r\nHost: pro", flags=4)
http("body-deadline", "POST /v1/values HTTP/1.1\r\nHost: proxy\r\nContent-Length: 40\r\n\r\n{\"v\"", split=0xF1, flags=4)
http("bad-targets", "GET v1/node HTTP/1.1\r\n\r\nGET /x%zz?a=%0A HTTP/1.1\r\n\r\n")
http("fragment", "GET /x#frag HTTP/1.1\r\nHost: proxy\r\n\r\n")
http("malformed", "GET / HTTP/1.1\r\nHost proxy\r\n\r\n")

# websocket: [split][flags] then masked frames (flag 1: sent with the upgrade request)
def frame(opcode, payload, fin=True, masked=True, rsv=0, key=b"\x12\x34\x56\x78"):
    payload = payload.encode() if isinstance(payload, str) else payload
    length = len(payload)
    head = bytes([(0x80 if fin else 0) | rsv << 4 | opcode])
    mask = 0x80 if masked else 0
    head += bytes([mask | length]) if length < 126 else bytes([mask | 126]) + struct.pack(">H", length)
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload)) if masked else payload
    return head + (key if masked else b"") + body

def websocket(name, frames, split=0x80, flags=0):
    write("websocket", name, bytes([split, flags]) + b"".join(frames))

request = '{"req":1,"op":"node"}'
websocket("text", [frame(1, request)])
websocket("text-with-upgrade", [frame(1, request), frame(1, '{"req":2,"op":"node"}')], flags=1)
websocket("fragmented", [frame(1, '{"req":1,', fin=False), frame(9, "ping"), frame(0, '"op":"node"}')])
websocket("ping-pong-close", [frame(9, b"\x01\x02"), frame(10, b""), frame(8, b"\x03\xe8bye")])
websocket("long-text", [frame(1, '{"req":1,"op":"putValue","value":{"v":"' + "A" * 180 + '"}}')], split=0x10)
websocket("too-long", [frame(1, "x" * 300)])
websocket("unmasked", [frame(1, request, masked=False)])
websocket("rsv", [frame(1, request, rsv=4)])
websocket("binary", [frame(2, b"\x00\x01")])
websocket("not-utf8", [frame(1, b"\xc3\x28")])
websocket("close-one-byte", [frame(8, b"\x03")])
websocket("continuation-alone", [frame(0, "x")])
websocket("reserved-opcode", [frame(3, b""), frame(0xB, b"")])

# shadow: [mode] then plaintexts, each [length: 2 bytes] bytes (mode bit 0 clear: sealed by the
# harness, cut at mode >> 1 / 128), or raw bytes (bit 0 set)
def plaintexts(*frames):
    return b"".join(struct.pack(">H", len(f)) + f for f in frames)

def control(message):
    return b"\x01" + cbor(message)

expose = {"op": "expose", "mappings": [{"name": "web", "protocol": "tcp", "allow": ["203.0.113.0/24", "2001:db8::/32"],
                                         "deny": ["203.0.113.7"]}, {"name": "dns", "protocol": "udp"}]}
write("shadow", "expose", b"\x00" + plaintexts(control(expose), control({"op": "ping"})))
write("shadow", "exposed", b"\x40" + plaintexts(control({"op": "exposed", "mappings": [{"name": "web", "protocol": "tcp", "port": 40000}]})))
write("shadow", "stream", b"\x20" + plaintexts(control({"op": "attach", "stream": 7}), b"\x02hello", b"\x02", b"\x03"))
write("shadow", "open", b"\x00" + plaintexts(control({"op": "open", "stream": 3, "mapping": "web", "source": "198.18.0.3:5000"}),
                                               control({"op": "refused", "reason": "no"}), control({"op": "pong"})))
write("shadow", "datagrams", b"\x00" + plaintexts(control({"op": "udp", "mapping": "dns"}), b"\x04\x00\x00\x00\x01query",
                                                    b"\x04\x00\x00"))
write("shadow", "raw-control", b"\x01" + cbor(expose))
write("shadow", "raw-length", b"\x01" + struct.pack(">I", 70000) + b"\x00" * 20)
write("shadow", "ranges", b"\x01" + b"10.0.0.0/8, 2001:db8::/32,198.51.100.7,::ffff:1.2.3.4/120")
write("shadow", "http-head", b"\x01" + b"GET / HTTP/1.1\r\nHost: web.aaaaqeayeaudaocajbifqydiob4ibceqt.shadow.localhost:39380\r\nAccept: */*\r\n\r\n")


def client_hello(name):
    """The first record a real TLS client (Python's OpenSSL) sends, naming `name`."""
    import ssl
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname=name)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


write("shadow", "client-hello", b"\x01" + client_hello("web.aaaaqeayeaudaocajbifqydiob4ibceqt.shadow.localhost"))
