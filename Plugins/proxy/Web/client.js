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

/** Bytes of a Base64URL text (padding optional). */
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

/** A session with one Carrier proxy over its WebSocket. Options: `onState(state)` hears
 *  "open" and "closed"; `proxy` (Base58) is the proxy's node id the session must be with (from
 *  `findServices`, say): a challenge naming another proxy is refused, so a proxy cannot relay
 *  another's challenge to open a session there in this light node's name. Once connected,
 *  `client.proxy` is the node id of the proxy the session is with (its challenge's). */
export class CarrierClient {
  constructor(origin, key, options = {}) {
    this.url = origin.replace(/^http/, "ws") + "/v1/ws";
    this.key = key;
    this.onState = options.onState || (() => {});
    this.expectedProxy = options.proxy;
    this.nextRequest = 1;
    this.pending = new Map();
    this.subscriptions = new Map(); // our handle -> { kind, id, callback, onError, seq, server }
    this.nextHandle = 1;
    this.retry = 0;
    this.closedByUser = false;
  }

  /** Connects and authenticates; resolves once the session is open, rejects if the first
   *  attempt fails (and then stops trying). */
  static async connect(origin, key, options) {
    const client = new CarrierClient(origin, key, options);
    try {
      await client.open();
    } catch (error) {
      client.close();
      throw error;
    }
    return client;
  }

  /** Opens the socket, authenticates and resubscribes; after a drop, tries again with backoff. */
  open() {
    return new Promise((resolve, reject) => {
      let settled = false;
      const socket = new WebSocket(this.url);
      this.socket = socket;
      socket.onmessage = (message) => this.received(JSON.parse(message.data));
      socket.onopen = async () => {
        try {
          await this.authenticate();
        } catch (error) {
          settled = true;
          reject(error);
          socket.close();
          return;
        }
        this.retry = 0;
        this.onState("open");
        for (const [handle, subscription] of this.subscriptions) this.resubscribe(handle, subscription);
        settled = true;
        resolve();
      };
      socket.onclose = () => {
        clearTimeout(this.renewal);
        for (const { reject: fail } of this.pending.values()) fail(new CarrierError(0, "the connection closed"));
        this.pending.clear();
        // Subscription numbers belong to the connection: the next one numbers them again.
        for (const subscription of this.subscriptions.values()) subscription.server = undefined;
        this.onState("closed");
        if (!settled) {
          settled = true;
          reject(new CarrierError(0, `could not connect to ${this.url}`));
        }
        if (this.closedByUser) return;
        const delay = Math.min(15000, 1000 * 2 ** this.retry++);
        setTimeout(() => this.open().catch(() => {}), delay);
      };
    });
  }

  /** Signs the proxy's challenge ("carrier-proxy-auth/v1" ‖ proxy id ‖ challenge), and renews
   *  the session a minute before it expires. */
  async authenticate() {
    const { challenge, proxy } = await this.request("challenge");
    if (this.expectedProxy && proxy !== this.expectedProxy) {
      throw new CarrierError(0, `the challenge is for proxy ${proxy}, not ${this.expectedProxy}`);
    }
    this.proxy = proxy;
    const signature = await this.key.sign(concat(AUTH_CONTEXT, base58Decode(proxy), fromBase64url(challenge)));
    const session = await this.request("authenticate", { node: this.key.id, challenge, signature: base64url(signature) });
    const renewIn = Math.max(5000, session.expires * 1000 - Date.now() - 60000);
    this.renewal = setTimeout(() => this.authenticate().catch(() => this.socket.close()), renewIn);
    return session;
  }

  /** One message from the proxy: an event for a subscription, or the answer to a request. */
  received(message) {
    if (message.event) {
      for (const [handle, subscription] of this.subscriptions) {
        if (subscription.server === undefined || subscription.server !== message.subscription) continue;
        if (message.event === "ended") { // the proxy could not keep it
          this.subscriptions.delete(handle);
          const error = new CarrierError(message.error.code, message.error.message);
          if (subscription.onError) subscription.onError(error);
          else console.error(`subscription to ${subscription.id} ended: ${error.message}`);
          continue;
        }
        if (message.event === "value") {
          const seq = message.value.seq ?? 0;
          if (subscription.seq !== undefined && seq <= subscription.seq) continue; // seen already
          subscription.seq = seq;
        }
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
  // With cas, a node holding a version newer than cas refuses it (error 301): read, merge, retry.
  putValue(value, cas) { return this.request("putValue", cas === undefined ? { value } : { value, cas }); }
  findNode(id) { return this.request("findNode", { id }); }
  findPeers(id) { return this.request("findPeers", { id }); }
  announcePeer(peer) { return this.request("announcePeer", { peer }); }
  findServices(type) { return this.request("findServices", { type }); }

  /** Calls `callback(value)` with the current value of `id` and every newer one, across
   *  reconnects; `onError(error)` hears a refused subscription. Returns a function that ends it. */
  subscribe(id, callback, onError) { return this.track({ kind: "value", id, callback, onError, seq: undefined }); }

  /** Calls `callback(records)` whenever the peer records of `id` change. */
  subscribePeer(id, callback, onError) { return this.track({ kind: "peer", id, callback, onError }); }

  /** Keeps a subscription (resubscribed after every reconnect) under a local handle. */
  track(subscription) {
    const handle = this.nextHandle++;
    this.subscriptions.set(handle, subscription);
    this.resubscribe(handle, subscription);
    return () => {
      this.subscriptions.delete(handle);
      if (subscription.server !== undefined) this.request("unsubscribe", { subscription: subscription.server }).catch(() => {});
    };
  }

  /** Asks the proxy for a subscription, from the last version seen. */
  resubscribe(handle, subscription) {
    const args = subscription.kind === "value" ? { value: subscription.id } : { peer: subscription.id };
    if (subscription.kind === "value" && subscription.seq !== undefined) args.seq = subscription.seq;
    this.request("subscribe", args).then((result) => {
      if (this.subscriptions.get(handle) === subscription) subscription.server = result.subscription;
      else this.request("unsubscribe", { subscription: result.subscription }).catch(() => {}); // ended meanwhile
    }).catch((error) => {
      if (error.code === 0) return; // the connection dropped: the next one resubscribes
      this.subscriptions.delete(handle);
      if (subscription.onError) subscription.onError(error);
      else console.error(`subscription to ${subscription.id} refused: ${error.message}`);
    });
  }

  close() {
    this.closedByUser = true;
    clearTimeout(this.renewal);
    if (this.socket) this.socket.close();
  }
}
