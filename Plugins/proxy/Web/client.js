// Carrier light node for browsers, served by every Carrier proxy at /v1/client.js. It needs no
// library: keys are Ed25519 through WebCrypto, and everything travels over the proxy's WebSocket
// (/v1/ws). A light node holds its own key; the proxy checks what it signs and never sees it.
//
//   import { LightKey, CarrierClient } from "/v1/client.js";
//   const key = await LightKey.generate();
//   const client = await CarrierClient.connect(location.origin, key);  // opens a session
//   await client.putValue(await key.signedValue(1, new TextEncoder().encode("hello")));
//   client.subscribe(key.id, (value) => console.log(value.seq));
//
// The connection comes back by itself after a drop (1 s, 2 s, ... up to 15 s), authenticates
// again and resubscribes, asking only for what changed since the last version it saw.

const ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
const AUTH_CONTEXT = new TextEncoder().encode("carrier-proxy-auth/v1");

/** Base58 (Bitcoin alphabet) of bytes. */
export function base58Encode(bytes) {
  const digits = []; // base 58, least significant first
  for (const byte of bytes) {
    let carry = byte;
    for (let i = 0; i < digits.length; i++) {
      carry += digits[i] * 256;
      digits[i] = carry % 58;
      carry = Math.floor(carry / 58);
    }
    while (carry > 0) { digits.push(carry % 58); carry = Math.floor(carry / 58); }
  }
  let text = "";
  for (const byte of bytes) { if (byte !== 0) break; text += "1"; }
  for (let i = digits.length - 1; i >= 0; i--) text += ALPHABET[digits[i]];
  return text;
}

/** Bytes of a Base58 text; throws on a character outside the alphabet. */
export function base58Decode(text) {
  const bytes = []; // base 256, least significant first
  for (const char of text) {
    const value = ALPHABET.indexOf(char);
    if (value < 0) throw new Error(`not Base58: ${char}`);
    let carry = value;
    for (let i = 0; i < bytes.length; i++) {
      carry += bytes[i] * 58;
      bytes[i] = carry & 0xff;
      carry >>= 8;
    }
    while (carry > 0) { bytes.push(carry & 0xff); carry >>= 8; }
  }
  for (const char of text) { if (char !== "1") break; bytes.push(0); }
  return new Uint8Array(bytes.reverse());
}

/** Base64URL without padding, as Boson's JSON form writes binaries. */
export function base64url(bytes) {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromBase64url(text) {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) { out.set(part, offset); offset += part.length; }
  return out;
}

function bigEndian32(value) {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setInt32(0, value);
  return out;
}

function bigEndian64(value) {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigInt64(0, BigInt(value));
  return out;
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

/** A light node's Ed25519 key pair (WebCrypto); its public key is its node id. */
export class LightKey {
  constructor(pair, publicKey) {
    this.pair = pair;
    this.publicKey = publicKey;
    this.id = base58Encode(publicKey);
  }

  static async generate() {
    const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
    return new LightKey(pair, new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey)));
  }

  async sign(bytes) {
    return new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, this.pair.privateKey, bytes));
  }

  /** A signed mutable value (Boson §4): the owner signs SHA-256(k ‖ BE32(seq) ‖ v). */
  async signedValue(seq, data) {
    const signature = await this.sign(await sha256(concat(this.publicKey, bigEndian32(seq), data)));
    return { k: this.id, seq, sig: base64url(signature), v: base64url(data) };
  }

  /** A peer record announcing `endpoint` under this key (Boson §5), without a hosting node:
   *  the owner signs SHA-256(k ‖ BE32(seq) ‖ BE64(f) ‖ UTF-8(NFC(e))). */
  async peerRecord(endpoint, seq, fingerprint = 0) {
    const e = new TextEncoder().encode(endpoint.normalize("NFC"));
    const signature = await this.sign(await sha256(concat(this.publicKey, bigEndian32(seq), bigEndian64(fingerprint), e)));
    return { id: this.id, seq, sig: base64url(signature), f: fingerprint, e: endpoint };
  }
}

/** An error the proxy answered, with the protocol's code. */
export class CarrierError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/** A session with one Carrier proxy over its WebSocket. */
export class CarrierClient {
  constructor(origin, key, options = {}) {
    this.url = origin.replace(/^http/, "ws") + "/v1/ws";
    this.key = key;
    this.onState = options.onState || (() => {});
    this.nextRequest = 1;
    this.pending = new Map();
    this.subscriptions = new Map(); // our handle -> { kind, id, callback, seq, server }
    this.nextHandle = 1;
    this.retry = 0;
    this.closedByUser = false;
  }

  /** Connects and authenticates; resolves once the session is open. */
  static async connect(origin, key, options) {
    const client = new CarrierClient(origin, key, options);
    await client.open();
    return client;
  }

  open() {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(this.url);
      this.socket = socket;
      socket.onmessage = (message) => this.received(JSON.parse(message.data));
      socket.onopen = async () => {
        try {
          await this.authenticate();
          this.retry = 0;
          this.onState("open");
          for (const [handle, subscription] of this.subscriptions) this.resubscribe(handle, subscription);
          resolve();
        } catch (error) {
          reject(error);
        }
      };
      socket.onclose = () => {
        for (const { reject: fail } of this.pending.values()) fail(new CarrierError(0, "the connection closed"));
        this.pending.clear();
        this.onState("closed");
        if (this.closedByUser) return;
        const delay = Math.min(15000, 1000 * 2 ** this.retry++);
        setTimeout(() => this.open().catch(() => {}), delay);
      };
    });
  }

  async authenticate() {
    const { challenge, proxy } = await this.request("challenge");
    const signature = await this.key.sign(concat(AUTH_CONTEXT, base58Decode(proxy), fromBase64url(challenge)));
    return this.request("authenticate", { node: this.key.id, challenge, signature: base64url(signature) });
  }

  received(message) {
    if (message.event) {
      for (const subscription of this.subscriptions.values()) {
        if (subscription.server !== message.subscription) continue;
        if (message.event === "value") subscription.seq = message.value.seq ?? 0;
        subscription.callback(message.value ?? message.peers);
      }
      return;
    }
    const waiting = this.pending.get(message.req);
    if (!waiting) return;
    this.pending.delete(message.req);
    if (message.error) waiting.reject(new CarrierError(message.error.code, message.error.message));
    else waiting.resolve(message.result);
  }

  /** Sends one request; resolves with its result, or rejects with a CarrierError. */
  request(op, args = {}) {
    return new Promise((resolve, reject) => {
      if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return reject(new CarrierError(0, "not connected"));
      const req = this.nextRequest++;
      this.pending.set(req, { resolve, reject });
      this.socket.send(JSON.stringify({ req, op, ...args }));
    });
  }

  node() { return this.request("node"); }
  getValue(id, cas) { return this.request("getValue", cas === undefined ? { id } : { id, cas }); }
  putValue(value) { return this.request("putValue", { value }); }
  findNode(id) { return this.request("findNode", { id }); }
  findPeers(id) { return this.request("findPeers", { id }); }
  announcePeer(peer) { return this.request("announcePeer", { peer }); }
  findServices(type) { return this.request("findServices", { type }); }

  /** Calls `callback(value)` with the current value of `id` and every newer one, across
   *  reconnects; returns a function that ends the subscription. */
  subscribe(id, callback) { return this.track({ kind: "value", id, callback, seq: undefined }); }

  /** Calls `callback(records)` whenever the peer records of `id` change. */
  subscribePeer(id, callback) { return this.track({ kind: "peer", id, callback }); }

  track(subscription) {
    const handle = this.nextHandle++;
    this.subscriptions.set(handle, subscription);
    this.resubscribe(handle, subscription);
    return () => {
      this.subscriptions.delete(handle);
      if (subscription.server !== undefined) this.request("unsubscribe", { subscription: subscription.server }).catch(() => {});
    };
  }

  resubscribe(handle, subscription) {
    const args = subscription.kind === "value" ? { value: subscription.id } : { peer: subscription.id };
    if (subscription.kind === "value" && subscription.seq !== undefined) args.seq = subscription.seq;
    this.request("subscribe", args).then((result) => {
      if (this.subscriptions.get(handle) === subscription) subscription.server = result.subscription;
    }).catch(() => {});
  }

  close() {
    this.closedByUser = true;
    if (this.socket) this.socket.close();
  }
}
