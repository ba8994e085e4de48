# Schemathesis hooks for `make fuzz-http` (loaded through SCHEMATHESIS_HOOKS by run.sh).
#
# Plugins/proxy/openapi.yaml names two string formats of its own, because JSON Schema cannot say
# "Base58 text of exactly 32 bytes" or "unpadded Base64URL". Its patterns say what the characters
# may be; these strategies make well-formed values, so generated requests get past the argument
# checks and reach the DHT lookups and stores behind them (an id drawn from the pattern alone is
# almost never 32 bytes, and every such request would stop at a 400).
import base64

import schemathesis
from hypothesis import strategies as st

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _base58(data: bytes) -> str:
    """Base58, Bitcoin alphabet, no checksum (Runtime/Core/Identity/Base58.swift)."""
    number = int.from_bytes(data, "big")
    digits = ""
    while number:
        number, digit = divmod(number, 58)
        digits = _BASE58[digit] + digits
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + digits


def _base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


# A 32-byte id: mostly random, sometimes all zero (32 "1"s, the shortest form) or all 0xFF.
schemathesis.openapi.format(
    "base58-id",
    st.one_of(st.binary(min_size=32, max_size=32), st.sampled_from([b"\0" * 32, b"\xff" * 32])).map(_base58),
)
# Binary data as Boson's JSON writes it: a value's data (1 to 1024 bytes), a nonce, a signature.
# Sizes of 24 (a nonce) and 64 (a signature) come often, so fields of those lengths are drawn.
schemathesis.openapi.format(
    "base64url",
    st.one_of(st.binary(min_size=1, max_size=96), st.binary(min_size=24, max_size=24), st.binary(min_size=64, max_size=64)).map(_base64url),
)
