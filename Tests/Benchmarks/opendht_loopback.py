#!/usr/bin/python3
"""OpenDHT on 127.0.0.1: the same figures as LoopbackNetworkBenchmark.swift measures for Carrier.

Usage (Debian's interpreter, which is where `apt-get install python3-opendht` puts the module):

    /usr/bin/python3 Tests/Benchmarks/opendht_loopback.py --nodes N [--operations 200] [--settle 10]

Prints exactly one JSON line on stdout; progress and diagnostics go to stderr. Only the standard
library and Debian's `python3-opendht` (OpenDHT 2.4) are used.

What it measures, and why each choice was made:

* Network. N `opendht.DhtRunner` nodes in this one process, each bound to 127.0.0.1 on its own
  ephemeral UDP port (IPv4 only: `run(ipv4="127.0.0.1")` leaves the IPv6 socket unbound), all
  bootstrapped through node 0. Every runner has its own DHT and UDP receive threads, as separate
  OpenDHT processes would, so the Python main thread only starts operations and waits for their
  callbacks.
* Rate limit off. OpenDHT limits requests per second globally and per source IP address. Here every
  node is 127.0.0.1, so the per-IP limit would throttle the whole network as if it were one peer.
  `DhtConfig.setRateLimit(-1, -1)` sets the C++ `dht_config.node_config.max_req_per_sec` and
  `max_peer_req_per_sec` to -1, which OpenDHT reads as "no limit" (0 would mean "use the default").
* Settle. After the last node is started we wait --settle seconds (default 10, "10 s after start")
  before measuring, so routing tables fill the way OpenDHT fills them by itself.
* Rounds. Round i puts a fresh value (unique bytes; the key is the SHA-1 InfoHash of those bytes, as
  Carrier's immutable value id is the hash of the value) from node i % N, and once the put completed
  gets it from node (i*7+3) % N. Both use the callback API and take the end timestamp inside the
  callback, on the node's own thread, so thread wake-up of the waiting main thread is not counted.
  - put latency: call until the put's done callback, i.e. until the first 8 good search nodes
    (TARGET_NODES) acknowledged the value.
  - get latency: call until the value arrives, at which point our get callback returns False, the
    OpenDHT way of ending a get early; this mirrors Carrier's findValue, which stops at the first
    matching value (and, like it, answers from local storage first). If the value never arrives, the
    get ends at its done callback and counts as a failure.
* true_closest. K = 8, OpenDHT's TARGET_NODES (its search keeps up to 14 nodes, SEARCH_NODES, but a
  get is "done" once the 8 closest good ones answered; Carrier's own K is 16). Each round the reader
  also looks up a random target with a get. The get's done callback hands back the search's node
  list, sorted by XOR distance; the nodes the lookup ended on are its first 8 not expired ones, which
  are exactly the nodes OpenDHT waited for before declaring the get done (the "candidate" flag, which
  OpenDHT also skips, is not exposed by the binding; it is only set on a timed-out request).
  A lookup counts as exact when that list equals the true 8 closest of all N node ids by XOR,
  excluding the reader (an OpenDHT node never lists itself; Carrier excludes the local node too).
  --show-search-log prints the reader's own search dump (getSearchesLog) next to the parsed list and
  the expected list for the first lookup, to check by eye that the first 8 listed are the ones that
  answered ('u'/'s' flags). OpenDHT prints full dumps only while the node has at most 8 searches,
  which holds for the first round's reader.
* memory_per_node_kib. VmRSS from /proc/self/status once all nodes started and settled, minus VmRSS
  just before creating them, divided by N. It includes each runner's threads and sockets.
"""

import argparse
import importlib.metadata
import json
import socket
import sys
import threading
import time
import uuid

import opendht

TARGET_NODES = 8          # OpenDHT's K: a search is done when this many closest nodes answered
OPERATION_TIMEOUT_S = 30  # safety net only: every OpenDHT operation ends by itself well before


def parse_arguments():
    parser = argparse.ArgumentParser(description="OpenDHT loopback benchmark (one JSON line on stdout)")
    parser.add_argument("--nodes", type=int, required=True, help="number of OpenDHT nodes (>= 2)")
    parser.add_argument("--operations", type=int, default=200, help="put/get/lookup rounds")
    parser.add_argument("--settle", type=float, default=10, help="seconds to wait after start")
    parser.add_argument("--show-search-log", action="store_true",
                        help="print the first lookup's search log and parsed node list to stderr")
    arguments = parser.parse_args()
    if arguments.nodes < 2 or arguments.operations < 1:
        parser.error("--nodes must be at least 2 and --operations at least 1")
    return arguments


def log(message):
    print(message, file=sys.stderr, flush=True)


def resident_kib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def start_nodes(count, after_first):
    """Starts `count` nodes, calling `after_first` once the first runs, and bootstraps them on it."""
    config = opendht.DhtConfig()
    config.setRateLimit(-1, -1)
    nodes = []
    for index in range(count):
        node = opendht.DhtRunner()
        node.run(ipv4="127.0.0.1", port=0, config=config)
        nodes.append(node)
        if index == 0:
            after_first()
    seed_port = str(nodes[0].getBound(socket.AF_INET).getPort())
    for node in nodes[1:]:
        node.bootstrap("127.0.0.1", seed_port)
    return nodes


def stop_nodes(nodes):
    """Shuts every node down, waits for its shutdown callback, then joins its threads.

    The binding's join() holds the GIL while it waits for the DHT thread, so join() must only
    start once that thread has no Python callback left to run, the shutdown callback included.
    """
    stopped = [threading.Event() for _ in nodes]
    for node, event in zip(nodes, stopped):
        node.shutdown(event.set)
    for event in stopped:
        event.wait(OPERATION_TIMEOUT_S)
    for node in nodes:
        node.join()


def as_int(infohash):
    return int(infohash.toString(), 16)


def timed(start_operation):
    """Starts an operation that calls `finish(result)` on completion; returns (milliseconds, result).

    All callbacks of one operation run on its node's DHT thread, one after the other, so the first
    `finish` wins without a lock. An operation that did not finish in time yields None, and the
    timeout as its latency (the notes count these).
    """
    finished = threading.Event()
    outcome = {}

    def finish(result):
        if not finished.is_set():
            outcome["end"], outcome["result"] = time.perf_counter(), result
            finished.set()

    start = time.perf_counter()
    start_operation(finish)
    if not finished.wait(OPERATION_TIMEOUT_S):
        return OPERATION_TIMEOUT_S * 1000.0, None
    return (outcome["end"] - start) * 1000, outcome["result"]


def put(node, key, payload):
    """(milliseconds, acknowledged) until the value is on the K closest nodes."""
    value = opendht.Value(payload)
    return timed(lambda finish: node.put(key, value, done_cb=lambda ok, _nodes: finish(ok)))


def get(node, key, payload):
    """(milliseconds, found): stops at the first value equal to `payload`, as Carrier's findValue does."""
    def start(finish):
        def on_value(value):
            if value.data != payload:
                return True
            finish(True)
            return False
        node.get(key, get_cb=on_value, done_cb=lambda _ok, _nodes: finish(False))
    return timed(start)


def answered_closest(entries):
    """The first K not expired nodes of a finished search (closest first): those OpenDHT waited for."""
    alive = [entry for entry in entries if not entry.getNode().isExpired()]
    return [as_int(entry.getId()) for entry in alive[:TARGET_NODES]]


def lookup(node, target):
    """Ids of the K nodes the lookup for `target` ended on, or None if it did not finish."""
    def start(finish):
        node.get(target, get_cb=lambda _value: True,
                 done_cb=lambda _ok, entries: finish(answered_closest(entries)))
    return timed(start)[1]


def true_closest(ids, reader_id, target):
    target_id = as_int(target)
    others = [node_id for node_id in ids if node_id != reader_id]
    return sorted(others, key=lambda node_id: node_id ^ target_id)[:TARGET_NODES]


def show_search_log(reader, target, found, truth):
    log(reader.getSearchesLog(socket.AF_INET))
    log("target   " + target.toString().decode())
    log("parsed   " + " ".join(f"{node_id:040x}" for node_id in found or []))
    log("expected " + " ".join(f"{node_id:040x}" for node_id in truth))


def percentile(samples, share):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def run_rounds(nodes, operations, show_first_search):
    count = len(nodes)
    ids = [int(node.getNodeId(), 16) for node in nodes]
    puts, gets = [], []
    put_failures = found = exact = overlap = timeouts = 0
    for index in range(operations):
        writer, reader = index % count, (index * 7 + 3) % count
        payload = f"benchmark value {index} {uuid.uuid4()}".encode()
        key = opendht.InfoHash.get(payload.decode())

        put_ms, acknowledged = put(nodes[writer], key, payload)
        puts.append(put_ms)
        put_failures += acknowledged is not True
        get_ms, got = get(nodes[reader], key, payload)
        gets.append(get_ms)
        found += got is True

        target = opendht.InfoHash.getRandom()
        ended_on = lookup(nodes[reader], target)
        truth = true_closest(ids, ids[reader], target)
        exact += ended_on == truth
        overlap += len(set(ended_on or []) & set(truth))
        timeouts += (acknowledged, got, ended_on).count(None)
        if show_first_search and index == 0:
            show_search_log(nodes[reader], target, ended_on, truth)
        if (index + 1) % 50 == 0:
            log(f"round {index + 1}/{operations}")
    return {
        "put_p50_ms": percentile(puts, 0.5), "put_p99_ms": percentile(puts, 0.99),
        "get_p50_ms": percentile(gets, 0.5), "get_p99_ms": percentile(gets, 0.99),
        "get_success": found / operations, "true_closest": exact / operations,
        "put_failures": put_failures, "mean_overlap": overlap / operations, "timeouts": timeouts,
    }


def notes(figures, started_s):
    return (
        "Rate limit off: DhtConfig.setRateLimit(-1, -1), i.e. dht_config.node_config.max_req_per_sec=-1 "
        "and max_peer_req_per_sec=-1 (no global and no per-IP limit; all nodes share 127.0.0.1). "
        f"IPv4 only, one process, a DHT and a UDP thread per node, {started_s:.1f} s to start all nodes. "
        "Latencies via the callback API, end time taken in the callback: put = until done "
        "(8 closest acknowledged); get = until the value arrived (get callback then returns False, "
        "like Carrier's findValue), else until done. "
        "true_closest: per round a get for a random target from the reader; the first 8 not expired "
        "nodes of its done-callback node list (sorted by XOR distance; the nodes OpenDHT waited for) "
        "compared with the true 8 closest node ids excluding the reader; K=8 is OpenDHT's "
        f"TARGET_NODES (Carrier uses 16). Mean overlap with the true 8: {figures['mean_overlap']:.2f}. "
        f"Puts not acknowledged: {figures['put_failures']}; operations timed out: {figures['timeouts']}. "
        "Memory: VmRSS growth from the first node's start to the settle's end, divided by the N-1 nodes "
        "started after it, threads and sockets included."
    )


def main():
    arguments = parse_arguments()
    # Memory is counted from the first node on, as on Carrier's side: what the process pays once
    # (the library's first use) is not a cost per node.
    baseline = {}
    started = time.monotonic()
    log(f"starting {arguments.nodes} OpenDHT nodes on 127.0.0.1")
    nodes = start_nodes(arguments.nodes, lambda: baseline.setdefault("kib", resident_kib()))
    started_s = time.monotonic() - started
    log(f"started in {started_s:.1f} s; settling {arguments.settle:g} s")
    time.sleep(arguments.settle)
    memory_per_node = (resident_kib() - baseline["kib"]) / max(1, arguments.nodes - 1)
    try:
        figures = run_rounds(nodes, arguments.operations, arguments.show_search_log)
    finally:
        log("stopping nodes")
        stop_nodes(nodes)
    result = {
        "implementation": "opendht",
        "version": importlib.metadata.version("opendht"),
        "nodes": arguments.nodes,
        "operations": arguments.operations,
        "put_p50_ms": round(figures["put_p50_ms"], 3),
        "put_p99_ms": round(figures["put_p99_ms"], 3),
        "get_p50_ms": round(figures["get_p50_ms"], 3),
        "get_p99_ms": round(figures["get_p99_ms"], 3),
        "get_success": figures["get_success"],
        "true_closest": figures["true_closest"],
        "k": TARGET_NODES,
        "memory_per_node_kib": round(memory_per_node, 1),
        "notes": notes(figures, started_s),
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
