#!/usr/bin/env python3
"""Writes the fuzz seed corpus: the CBOR form of every Boson test vector, one binary file each, into
seeds/ (committed). Usage: make-seeds.py [PATH/TO/boson-messages.json], by default the one in
../shared beside the clone."""
import json, os, sys

here = os.path.dirname(os.path.abspath(__file__))
source = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "../../../shared/vectors/boson-messages.json")
out = os.path.join(here, "seeds")
os.makedirs(out, exist_ok=True)
for index, vector in enumerate(json.load(open(source))["vectors"]):
    with open(os.path.join(out, f"{index:02d}-{vector['case']}.cbor"), "wb") as f:
        f.write(bytes.fromhex(vector["cbor"]))
