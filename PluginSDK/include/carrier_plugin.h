/*
 * carrier_plugin.h: the contract between a Carrier supernode (the host) and its plugins.
 * ABI version 1.6. This header is the whole contract: a plugin needs nothing else from Carrier.
 *
 * A plugin is a shared library exporting ONE symbol, `carrier_plugin_entry_v1` (the major version
 * is in the name, so a library built for another major simply fails to resolve). The host calls it
 * once with its host-API table and gets the plugin's table back. Both tables begin with
 * `struct_size` and `abi_version`; within major version 1 fields are only ever appended, so
 * before using a field added in a later minor version, check that `struct_size` covers it
 * (CARRIER_HAS_FIELD).
 *
 * Threads. Each plugin instance has its own serial executor, owned by the host. Every call from
 * the host into the plugin (create, start, stop, destroy, health, and every callback: DHT
 * completions, events, posted functions, timers) runs on that executor, one at a time, never
 * concurrently with another call into the same instance. So a plugin that keeps its state to
 * those calls needs no locks. Every host-API function may be called from any thread, including
 * threads the plugin starts itself (use `post` to get back onto the executor). A call into the
 * plugin that does not return blocks only that plugin: the host reports it unhealthy.
 *
 * Memory. Nothing language-specific crosses the boundary: only fixed-width integers, NUL-terminated
 * UTF-8 strings, byte buffers with lengths, and opaque handles. A pointer passed into a call
 * (either way) is borrowed: valid only until that call returns, unless its documentation says
 * otherwise. Copy what you keep. The host never frees plugin memory and vice versa.
 *
 * Errors. Functions that can fail return a carrier_status (CARRIER_OK is 0). Where a message helps,
 * the caller passes a buffer (`error`, `error_capacity`) that the callee fills with a
 * NUL-terminated message, truncated to fit; the host logs it with the plugin's id.
 *
 * Lifetime. create -> start -> (running) -> stop -> destroy. The host never unloads a library
 * (no dlclose): disabling a plugin destroys its instance; a new instance may be created later from
 * the same loaded library. What each host call answers in each phase:
 *
 *   host call                                  in create    start, running   in stop, after it
 *   log, config_*, storage_directory, node_id,
 *     sign, verify, seal, open, counter_add,
 *     gauge_set, authorize*, report_usage,
 *     count_tcp_socket, withdraw_service,
 *     settlement_result, client_plan           works        works            works
 *   define_meter                               works        UNSUPPORTED      UNSUPPORTED
 *   post, post_owned, announce_service         works        works            SHUTTING_DOWN
 *   find_*, store*, announce_peer, dht_status,
 *     subscribe_events*, timer_start*          UNSUPPORTED  works            SHUTTING_DOWN
 *
 * ("in stop" begins when the host decides to stop the instance, before it calls `stop`.)
 * The order around `stop`:
 *   1. the host calls `stop`; the plugin stops its threads and may still call the host;
 *   2. after `stop` returns, on the executor: timers are cancelled, the event subscription ends,
 *      and every asynchronous call still pending gets its callback with CARRIER_ERR_SHUTTING_DOWN
 *      (so its user data can be freed there); posted tasks not yet run are dropped; the
 *      `carrier_destroy_fn` of each `*_owned` call runs for what it still owns;
 *   3. the host calls `destroy`; nothing of the instance is called afterwards.
 * So free state that callbacks use in `destroy`, never in `stop`.
 *
 * Blocking. Every call returns without waiting for the network, except these, which wait for the
 * host when the plugin runs in its own process (`isolation = "process"`; the node's secret key never
 * leaves the host, so the runner cannot answer them itself): sign, seal, open, authorize,
 * authorize_usage, announce_service, withdraw_service, settlement_result, client_plan and
 * count_tcp_socket, each one
 * round trip over a local socket, at most CARRIER_ROUND_TRIP_LIMIT_MS; then they fail (sign with
 * CARRIER_ERR_FAILED, seal and open with CARRIER_ERR_INVALID_ARGUMENT, authorize* with
 * PAYMENT_REQUIRED and the reason "the host did not answer", announce_service, client_plan and
 * count_tcp_socket with CARRIER_ERR_TIMEOUT). In the host's process none waits for the network,
 * but some wait for the host's disk or kernel: settlement_result commits to the billing ledger
 * (SQLite), the billing calls (authorize*, client_plan, report_usage) read it the first time they
 * meet a client, and count_tcp_socket asks the kernel once (a local netlink round trip).
 */
#ifndef CARRIER_PLUGIN_H
#define CARRIER_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CARRIER_ABI_MAJOR 1
#define CARRIER_ABI_MINOR 6
/** The version in a table's `abi_version`: major in the high 16 bits, minor in the low 16. */
#define CARRIER_ABI_VERSION(major, minor) ((uint32_t)(((uint32_t)(major) << 16) | (uint32_t)(minor)))
#define CARRIER_ABI_VERSION_CURRENT CARRIER_ABI_VERSION(CARRIER_ABI_MAJOR, CARRIER_ABI_MINOR)
/** Whether a table of size `table->struct_size` contains `field` (for fields of later minors). */
#define CARRIER_HAS_FIELD(table, type, field) \
    ((table)->struct_size >= offsetof(type, field) + sizeof(((type *)0)->field))

/* Limits (1.4 names them; they held before). A store or announcement given more gets
 * CARRIER_ERR_INVALID_ARGUMENT and the host logs which limit was passed, under the plugin's id; a
 * longer name gets CARRIER_ERR_INVALID_ARGUMENT (with a message from `authorize_usage`). */
/** Largest `data` of an immutable value. */
#define CARRIER_VALUE_DATA_MAX 1024
/** Largest `data` of a signed (mutable) value. */
#define CARRIER_SIGNED_VALUE_DATA_MAX 896
/** Largest `data` (ciphertext) of an encrypted value. */
#define CARRIER_ENCRYPTED_VALUE_DATA_MAX 832
/** Largest endpoint plus extra bytes of a peer record. An `announce_service` endpoint, once
 *  `{host}` and `{node_id}` are substituted, shares it with the service record's own extra bytes
 *  (plugin id, version, price summary), so it must be shorter. */
#define CARRIER_ENDPOINT_MAX 768
/** Longest metric or meter name, in bytes; names are [a-z0-9_] and do not start with a digit. */
#define CARRIER_NAME_MAX 64
/** Longest a blocking call waits for the host under process isolation (see Blocking above). */
#define CARRIER_ROUND_TRIP_LIMIT_MS 10000

#if defined(__GNUC__) || defined(__clang__)
#define CARRIER_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define CARRIER_PLUGIN_EXPORT
#endif

/* ------------------------------------------------------------------------------------------ */
/* Plain data                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/** Result of a call. New codes may be added in later minors; treat unknown ones as failures. */
typedef enum carrier_status {
    CARRIER_OK = 0,
    CARRIER_ERR_INVALID_ARGUMENT = 1, /* a NULL where none is allowed, a malformed value, ... */
    CARRIER_ERR_NOT_FOUND = 2,        /* nothing under that id (find_value), unknown timer, ...  */
    CARRIER_ERR_UNSUPPORTED = 3,      /* not available in this host or in this phase            */
    CARRIER_ERR_FAILED = 4,           /* the operation failed; the message says why             */
    CARRIER_ERR_TIMEOUT = 5,
    CARRIER_ERR_REFUSED = 6,          /* the network or the host refused it (e.g. no node stored it) */
    CARRIER_ERR_SHUTTING_DOWN = 7,    /* the instance is stopping; the operation was abandoned  */
    CARRIER_ERR_CONFLICT = 8,         /* (1.3) a node holds a newer version than `cas`: read again */
    CARRIER_ERR_UNREACHABLE = 9       /* (1.4) no node answered: the network, not the item, is
                                       * missing (find_value, find_peers, stores, announcements);
                                       * try again later. A 1.3 plugin reads it as a failure. */
} carrier_status;

/** Log levels, as swift-log's. */
typedef enum carrier_log_level {
    CARRIER_LOG_TRACE = 0,
    CARRIER_LOG_DEBUG = 1,
    CARRIER_LOG_INFO = 2,
    CARRIER_LOG_NOTICE = 3,
    CARRIER_LOG_WARNING = 4,
    CARRIER_LOG_ERROR = 5
} carrier_log_level;

/** A 32-byte node id / Ed25519 public key, as raw bytes. */
typedef struct carrier_id {
    uint8_t bytes[32];
} carrier_id;

/** A DHT contact. `address` is 4 (IPv4) or 16 (IPv6) bytes in network order; `port` is a plain
 *  integer in host byte order (8080 is 8080: no ntohs). */
typedef struct carrier_node_info {
    carrier_id id;
    uint8_t address[16];
    uint8_t address_length;
    uint16_t port;
} carrier_node_info;

/**
 * A DHT value (Boson v3.1). Immutable: only `data`. Signed: also `public_key`, `sequence_number`,
 * `signature`. Encrypted: also `recipient` and `nonce`. Absent optional parts are NULL.
 * Sizes are fixed: public_key and recipient 32 bytes, nonce 24, signature 64.
 */
typedef struct carrier_value {
    const carrier_id *public_key;
    const carrier_id *recipient;
    const uint8_t *nonce;
    const uint8_t *signature;
    int32_t sequence_number;
    const uint8_t *data;
    size_t data_length;
    carrier_id id; /* the value id (filled by the host in values it hands out; ignored on input) */
} carrier_value;

/**
 * A peer record (Boson v3.1): `peer_id` announces `endpoint` (a URI), optionally hosted by
 * `node_id` (with its signature), with `extra` bytes. Signature sizes are 64 bytes. `fingerprint`
 * tells apart several records of one peer id (one per device, say; 0 when there is one): it is
 * signed with the rest, and a node keeps one record per (peer id, fingerprint).
 * `endpoint` plus `extra` hold at most CARRIER_ENDPOINT_MAX bytes.
 */
typedef struct carrier_peer {
    carrier_id peer_id;
    const carrier_id *node_id;
    const uint8_t *node_signature;
    int32_t sequence_number;
    int64_t fingerprint;
    const char *endpoint;
    const uint8_t *extra;
    size_t extra_length;
    const uint8_t *signature;
} carrier_peer;

/** What changed in the supernode's DHT storage (see `subscribe_events`). */
typedef enum carrier_event_kind {
    CARRIER_EVENT_VALUE_UPDATED = 1, /* `value` is set */
    CARRIER_EVENT_PEER_ANNOUNCED = 2 /* `peer` is set */
} carrier_event_kind;

typedef struct carrier_event {
    carrier_event_kind kind;
    const carrier_value *value;
    const carrier_peer *peer;
} carrier_event;

/**
 * The supernode's DHT as its routing tables see it (`dht_status`, added in 1.2): per address
 * family, `good` contacts have answered and failed fewer than 3 requests in a row since; `dubious`
 * ones are known but never answered or are failing. A node with no good contact is cut off.
 */
typedef struct carrier_dht_status {
    uint32_t good_ipv4;
    uint32_t dubious_ipv4;
    uint32_t good_ipv6;
    uint32_t dubious_ipv6;
} carrier_dht_status;

/**
 * (1.6) A connected TCP socket as the kernel names it, for `count_tcp_socket`: its cookie and its
 * two ends, as the plugin reads them off its own socket (getsockopt SO_COOKIE, getsockname,
 * getpeername). Addresses in network byte order, ports in host byte order.
 */
typedef struct carrier_tcp_socket {
    uint64_t cookie;            /* SO_COOKIE (Linux 4.18): the kernel's id of the socket */
    uint8_t family;             /* 4 (IPv4, the address in the first 4 bytes) or 6 */
    uint8_t reserved[3];        /* 0 */
    uint16_t local_port;
    uint16_t remote_port;
    uint8_t local_address[16];
    uint8_t remote_address[16];
} carrier_tcp_socket;

/** The answer of `authorize`. */
typedef enum carrier_billing_decision {
    CARRIER_BILLING_ALLOWED = 0,
    CARRIER_BILLING_QUOTA_EXCEEDED = 1,  /* the client's free quota or hard limit for the period is used up */
    CARRIER_BILLING_PAYMENT_REQUIRED = 2 /* the client's plan needs credit it does not have */
} carrier_billing_decision;

/** A plugin's health, as reported by `health`. */
typedef enum carrier_health {
    CARRIER_HEALTH_OK = 0,
    CARRIER_HEALTH_DEGRADED = 1, /* serving, with a problem worth showing the operator */
    CARRIER_HEALTH_FAILING = 2   /* not serving */
} carrier_health;

/** Opaque: the host's handle for one plugin instance. Passed back in every host-API call. */
typedef struct carrier_host carrier_host;
/** Opaque: the plugin's own state for one instance, created by `create`. */
typedef struct carrier_plugin_instance carrier_plugin_instance;

/* Callbacks. All run on the instance's executor; their pointer arguments are borrowed. Each
 * asynchronous host call that returned CARRIER_OK calls its callback exactly once, with
 * CARRIER_ERR_SHUTTING_DOWN if the instance stops first; one that returned an error never does. */
typedef void (*carrier_task_fn)(void *user_data);
typedef void (*carrier_nodes_callback)(void *user_data, carrier_status status, const carrier_node_info *nodes, size_t count);
/** `value` is NULL unless the status is CARRIER_OK: CARRIER_ERR_NOT_FOUND when the closest nodes
 *  answered and none had it, CARRIER_ERR_UNREACHABLE (1.4) when no node answered at all. */
typedef void (*carrier_value_callback)(void *user_data, carrier_status status, const carrier_value *value);
typedef void (*carrier_peers_callback)(void *user_data, carrier_status status, const carrier_peer *peers, size_t count);
/** A write's outcome: how many of the closest nodes were asked and how many accepted. The status
 *  is CARRIER_OK if one accepted, CARRIER_ERR_CONFLICT if one holds a newer version,
 *  CARRIER_ERR_REFUSED if those asked all said no, CARRIER_ERR_UNREACHABLE (1.4; `asked` 0) if no
 *  node could be reached. */
typedef void (*carrier_write_callback)(void *user_data, carrier_status status, uint32_t accepted, uint32_t asked);
typedef void (*carrier_event_callback)(void *user_data, const carrier_event *event);
typedef void (*carrier_dht_status_callback)(void *user_data, carrier_status status, const carrier_dht_status *dht);
/** (1.4) A store's outcome, as `carrier_write_callback`, with the id of the value stored (never
 *  NULL: SHA-256 of the data for an immutable value, the owner's key for a signed one). */
typedef void (*carrier_stored_callback)(void *user_data, carrier_status status, const carrier_id *value_id, uint32_t accepted,
                                        uint32_t asked);
/** (1.4) Frees user data the host is done with (see the `*_owned` calls). Runs on the executor. */
typedef void (*carrier_destroy_fn)(void *user_data);

/* ------------------------------------------------------------------------------------------ */
/* The host API (handed to the plugin)                                                         */
/* ------------------------------------------------------------------------------------------ */

typedef struct carrier_host_api_v1 {
    uint32_t struct_size; /* sizeof(carrier_host_api_v1) as the host was built */
    uint32_t abi_version; /* the host's CARRIER_ABI_VERSION_CURRENT */

    /* --- Logging ----------------------------------------------------------------------- */
    /** Logs `message` under the plugin's id. Any thread. */
    void (*log)(carrier_host *host, carrier_log_level level, const char *message);

    /* --- Configuration and environment ------------------------------------------------- */
    /** The manifest's [config] section as a JSON object text. Valid for the instance's lifetime. */
    const char *(*config_json)(carrier_host *host);
    /** A directory private to this plugin (created by the host), for its files. Valid for the
     *  instance's lifetime. */
    const char *(*storage_directory)(carrier_host *host);

    /* --- Identity: the supernode's key --------------------------------------------------- */
    /** The supernode's node id. */
    void (*node_id)(carrier_host *host, carrier_id *id_out);
    /** Ed25519 signature of `data` with the node key, into `signature_out` (64 bytes). */
    carrier_status (*sign)(carrier_host *host, const uint8_t *data, size_t length, uint8_t signature_out[64]);
    /** CARRIER_OK if `signature` (64 bytes) is `signer`'s signature of `data`, else CARRIER_ERR_REFUSED. */
    carrier_status (*verify)(carrier_host *host, const carrier_id *signer, const uint8_t *data, size_t length,
                             const uint8_t signature[64]);
    /**
     * Encrypts `plaintext` for node `recipient` (crypto_box between the node key and theirs, the
     * DHT's envelope cipher): writes nonce(24) || MAC(16) || ciphertext, i.e. length + 40 bytes,
     * into `output` of `output_capacity` and its length into `output_length`.
     * CARRIER_ERR_INVALID_ARGUMENT if the capacity is too small or the recipient is not a key.
     */
    carrier_status (*seal)(carrier_host *host, const carrier_id *recipient, const uint8_t *plaintext, size_t length,
                           uint8_t *output, size_t output_capacity, size_t *output_length);
    /** The reverse of a peer's `seal` to us: CARRIER_ERR_REFUSED if it does not authenticate. */
    carrier_status (*open)(carrier_host *host, const carrier_id *sender, const uint8_t *sealed, size_t length,
                           uint8_t *output, size_t output_capacity, size_t *output_length);

    /* --- The DHT (asynchronous; completion on the executor) ------------------------------ */
    /** The K closest nodes to `target` that answered. */
    carrier_status (*find_node)(carrier_host *host, const carrier_id *target, carrier_nodes_callback callback, void *user_data);
    /** The value with `id`; with `cas` >= 0 only a mutable one with sequence number >= cas; with
     *  `cas` = -1 (any negative) any version, the newest found. */
    carrier_status (*find_value)(carrier_host *host, const carrier_id *id, int32_t cas, carrier_value_callback callback,
                                 void *user_data);
    /**
     * Stores a complete, valid value (as a light node signed it, say) on the K closest nodes.
     * CARRIER_ERR_INVALID_ARGUMENT at once, with no callback, if it does not validate (data over
     * its CARRIER_*_DATA_MAX, a signature that does not verify, ...); the host logs why.
     * `store` (1.4) also hands back the value's id.
     */
    carrier_status (*store_value)(carrier_host *host, const carrier_value *value, carrier_write_callback callback,
                                  void *user_data);
    /** Signs `data` (at most CARRIER_SIGNED_VALUE_DATA_MAX bytes) as a mutable value of the node
     *  key with `sequence_number`, then stores it. Its id is the node id; `store_signed` (1.4) says so. */
    carrier_status (*store_signed_value)(carrier_host *host, int32_t sequence_number, const uint8_t *data, size_t length,
                                         carrier_write_callback callback, void *user_data);
    /** Up to `max_count` (1-8) verified peer records for `peer_id`: CARRIER_OK with `count` 0 when
     *  the closest nodes hold none, CARRIER_ERR_UNREACHABLE (1.4) when no node answered. */
    carrier_status (*find_peers)(carrier_host *host, const carrier_id *peer_id, uint32_t max_count,
                                 carrier_peers_callback callback, void *user_data);
    /** Announces a complete, valid peer record to the K closest nodes. */
    carrier_status (*announce_peer)(carrier_host *host, const carrier_peer *peer, carrier_write_callback callback,
                                    void *user_data);
    /**
     * Calls `callback` for every change of the supernode's own DHT storage (a value stored or
     * updated, a peer announced) until the instance stops. At most one subscription per instance
     * (a second call returns CARRIER_ERR_UNSUPPORTED). Events wait in a bounded buffer while the
     * plugin is busy; when it is full the oldest are dropped. `user_data` stays the plugin's; to
     * have the host free it when the subscription ends, use `subscribe_events_owned` (1.4).
     */
    carrier_status (*subscribe_events)(carrier_host *host, carrier_event_callback callback, void *user_data);

    /* --- Executor ------------------------------------------------------------------------ */
    /** Runs `task(user_data)` on the instance's executor soon. Any thread. A task not yet run when
     *  the instance stops is dropped (it never runs after `stop` returns); its user data is then
     *  the plugin's to free in `destroy`, or use `post_owned` (1.4). CARRIER_ERR_SHUTTING_DOWN once
     *  the instance is stopping. */
    carrier_status (*post)(carrier_host *host, carrier_task_fn task, void *user_data);
    /**
     * Runs `task(user_data)` on the executor after `delay_ms`, then every `interval_ms` if that is
     * not 0, until cancelled or the instance stops. Writes the timer's id into `timer_out`.
     * (`timer_start_owned`, 1.4, also frees `user_data` when the timer ends.)
     */
    carrier_status (*timer_start)(carrier_host *host, uint64_t delay_ms, uint64_t interval_ms, carrier_task_fn task,
                                  void *user_data, uint64_t *timer_out);
    /** Cancels a timer; its task will not run again. CARRIER_ERR_NOT_FOUND for an unknown id. */
    carrier_status (*timer_cancel)(carrier_host *host, uint64_t timer);

    /* --- Metrics (Prometheus, exposed on the admin endpoint as carrier_plugin_<name>{plugin="<id>"}) --- */
    /** Adds `delta` (>= 0) to counter `name` ([a-z0-9_], not starting with a digit, at most
     *  CARRIER_NAME_MAX bytes), created on first use. */
    carrier_status (*counter_add)(carrier_host *host, const char *name, double delta);
    /** Sets gauge `name` to `value`. */
    carrier_status (*gauge_set)(carrier_host *host, const char *name, double value);

    /* --- Billing ------------------------------------------------------------------------- */
    /**
     * Declares a meter (e.g. "requests", unit "request"), during `create` only: its name is
     * [a-z0-9_], does not start with a digit, at most CARRIER_NAME_MAX bytes (else
     * CARRIER_ERR_INVALID_ARGUMENT). The manifest's billing section prices it; a meter the manifest
     * does not price is free.
     */
    carrier_status (*define_meter)(carrier_host *host, const char *meter, const char *unit);
    /**
     * May `client` use `estimate` units of `meter` now? In process, cheap enough for every
     * request; in a runner, one round trip to the host (see Blocking). On a refusal, `reason`
     * receives a message the plugin can pass on to the client. A NULL argument or a meter never
     * declared also answers PAYMENT_REQUIRED (with the message in `reason`); prefer
     * `authorize_usage` (1.4), which tells those programming errors apart.
     */
    carrier_billing_decision (*authorize)(carrier_host *host, const carrier_id *client, const char *meter,
                                          uint64_t estimate, char *reason, size_t reason_capacity);
    /** Records that `client` used `amount` units of `meter`. */
    carrier_status (*report_usage)(carrier_host *host, const carrier_id *client, const char *meter, uint64_t amount);

    /* --- Service announcement ------------------------------------------------------------ */
    /**
     * Announces that this supernode offers `service_type` at `endpoint` (a URI), in addition to the
     * service its manifest declares; re-announced by the host before expiry until withdrawn. In
     * `endpoint`, `{host}` becomes the node's public host (node.toml `public_host`, else its IPv4
     * listen address, else 127.0.0.1) and `{node_id}` its id in Base58, e.g. "tcp://{host}:8080". Calling it again for
     * the same type replaces the endpoint. CARRIER_ERR_REFUSED if another plugin offers the type
     * on this node; CARRIER_ERR_INVALID_ARGUMENT if the record would be invalid (an endpoint over
     * CARRIER_ENDPOINT_MAX, say). The host logs why.
     */
    carrier_status (*announce_service)(carrier_host *host, const char *service_type, const char *endpoint);
    /** Stops announcing `service_type`: the host publishes the record once more, marked withdrawn
     *  and with a greater sequence number, so finders drop the offer at once, and stops
     *  republishing it. CARRIER_ERR_NOT_FOUND if the instance does not offer `service_type`. The
     *  host also withdraws every offer of an instance after its `stop`. */
    carrier_status (*withdraw_service)(carrier_host *host, const char *service_type);

    /* --- Added in 1.1: settlement ---------------------------------------------------------- */
    /**
     * A settlement backend (CARRIER_CAPABILITY_SETTLEMENT) reports how batch `batch_id` went:
     * `outcome` CARRIER_OK means paid (final); any other status means it failed, with `message`
     * (may be NULL) saying why, and the host offers the batch again later. Any thread.
     * CARRIER_ERR_NOT_FOUND if the batch is unknown, was not offered to this plugin, or is paid.
     */
    carrier_status (*settlement_result)(carrier_host *host, uint64_t batch_id, carrier_status outcome, const char *message);

    /* --- Added in 1.2: DHT status ---------------------------------------------------------- */
    /**
     * The supernode's routing-table counts (asynchronous, completion on the executor), e.g. for a
     * service that should report itself unhealthy when its node is cut off from the network. The
     * callback gets CARRIER_OK and the counts, CARRIER_ERR_FAILED and NULL if the host could not
     * answer, or CARRIER_ERR_SHUTTING_DOWN. CARRIER_ERR_INVALID_ARGUMENT without a callback.
     */
    carrier_status (*dht_status)(carrier_host *host, carrier_dht_status_callback callback, void *user_data);

    /* --- Added in 1.3: conditional store --------------------------------------------------- */
    /**
     * `store_value` on a condition: a node that holds a version of the value with a sequence
     * number greater than `cas` (>= 0) refuses it, so a read-modify-write cannot silently replace
     * a version it never read. The callback gets CARRIER_ERR_CONFLICT if any node refused for
     * that reason (read again, merge, retry with the new `cas`; the counts say how many others
     * accepted), else what `store_value` gets. CARRIER_ERR_INVALID_ARGUMENT at once, with no
     * callback, for an invalid value or a negative `cas`.
     */
    carrier_status (*store_value_cas)(carrier_host *host, const carrier_value *value, int32_t cas,
                                      carrier_write_callback callback, void *user_data);

    /* --- Added in 1.4: configuration by key ------------------------------------------------- */
    /*
     * Read one key of the manifest's [config] section; `key` is dotted for nested tables
     * ("limits.burst" is `burst` in `[config.limits]`). Each answers CARRIER_OK and writes the
     * value, CARRIER_ERR_NOT_FOUND if the key is absent (nothing written), or
     * CARRIER_ERR_INVALID_ARGUMENT for a NULL argument or a value of another type, or
     * CARRIER_ERR_FAILED if the section holds a float anywhere (read such a config from
     * `config_json`). Any thread, any phase.
     */
    /** A string: copied NUL-terminated into `output`, its length (without the NUL) into
     *  `length_out` (may be NULL). CARRIER_ERR_INVALID_ARGUMENT, with `*length_out` set, when it
     *  needs more than `output_capacity` bytes: call again with a larger buffer. */
    carrier_status (*config_string)(carrier_host *host, const char *key, char *output, size_t output_capacity, size_t *length_out);
    /** An integer that fits in int64_t. */
    carrier_status (*config_int)(carrier_host *host, const char *key, int64_t *value_out);
    /** A boolean, as 1 (true) or 0 (false). */
    carrier_status (*config_bool)(carrier_host *host, const char *key, int *value_out);

    /* --- Added in 1.4: billing that tells errors from decisions ----------------------------- */
    /**
     * `authorize`, with programming errors apart: CARRIER_OK and the decision in `*decision_out`
     * (on a refusal `message` says why, for the client); CARRIER_ERR_INVALID_ARGUMENT, with
     * `message` saying what is wrong, for a NULL argument, a meter name that is not
     * [a-z0-9_]{1,CARRIER_NAME_MAX}, a meter never declared with `define_meter`, or an estimate
     * above what one call may ask for (2^40 units). `message` may be NULL.
     */
    carrier_status (*authorize_usage)(carrier_host *host, const carrier_id *client, const char *meter, uint64_t estimate,
                                      carrier_billing_decision *decision_out, char *message, size_t message_capacity);

    /* --- Added in 1.4: stores that hand back the value's id --------------------------------- */
    /**
     * `store_value` (`cas` = -1: any version) or `store_value_cas` (`cas` >= 0), with a callback
     * that also gets the value's id. CARRIER_ERR_INVALID_ARGUMENT at once, with no callback, for
     * an invalid value (the host logs why).
     */
    carrier_status (*store)(carrier_host *host, const carrier_value *value, int32_t cas, carrier_stored_callback callback,
                            void *user_data);
    /**
     * `store_signed_value` with a `cas` as in `store`, and a callback that gets the value's id
     * (the node id: a signed value's id is its owner's key).
     */
    carrier_status (*store_signed)(carrier_host *host, int32_t sequence_number, const uint8_t *data, size_t length, int32_t cas,
                                   carrier_stored_callback callback, void *user_data);

    /* --- Added in 1.4: user data the host frees --------------------------------------------- */
    /*
     * As `post`, `timer_start` and `subscribe_events`, and the host calls `destroy(user_data)`
     * (may be NULL) exactly once, on the executor, when it is done with `user_data`: after the
     * task ran or was dropped at stop; after a one-shot timer ran, or when the timer is cancelled
     * or the instance stops; when the subscription ends at stop. Always before the plugin's
     * `destroy`. When the call itself fails, nothing is called: `user_data` stays the plugin's.
     */
    carrier_status (*post_owned)(carrier_host *host, carrier_task_fn task, void *user_data, carrier_destroy_fn destroy);
    carrier_status (*timer_start_owned)(carrier_host *host, uint64_t delay_ms, uint64_t interval_ms, carrier_task_fn task,
                                        void *user_data, carrier_destroy_fn destroy, uint64_t *timer_out);
    carrier_status (*subscribe_events_owned)(carrier_host *host, carrier_event_callback callback, void *user_data,
                                             carrier_destroy_fn destroy);

    /* --- Added in 1.5: a client's plan ------------------------------------------------------ */
    /**
     * The name of the plan this plugin bills `client` by, so that a plugin can hold each plan to
     * limits of its own (Shadow's `[config.plans.NAME]`): the plan the operator put the client on
     * (`carrier billing plan set`) when this plugin's manifest has a plan of that name, else the
     * manifest's `default_plan`. Copied NUL-terminated into `output`, its length (without the NUL)
     * into `length_out` (may be NULL). CARRIER_ERR_NOT_FOUND when the manifest has no plans (every
     * client is served free; nothing written); CARRIER_ERR_INVALID_ARGUMENT for a NULL argument,
     * or, with `*length_out` set, when the name needs more than `output_capacity` bytes (call
     * again with a larger buffer); CARRIER_ERR_TIMEOUT when a runner's host did not answer. Any
     * thread, any phase; in a runner, one round trip to the host (see Blocking). A plan assigned
     * later is seen by the next call.
     */
    carrier_status (*client_plan)(carrier_host *host, const carrier_id *client, char *output, size_t output_capacity,
                                  size_t *length_out);

    /* --- Added in 1.6: bytes the host counts itself ----------------------------------------- */
    /**
     * Bills `client` for the bytes of one connected TCP socket of the plugin under `meter`, by
     * the kernel's own count rather than the plugin's: the bytes the socket received plus those it
     * sent (each once: retransmissions are not counted), from its first byte until it is
     * destroyed. The host reads the counts from the kernel (Linux sock_diag) when the socket is
     * destroyed, and every few seconds while it lives, so long connections are billed as they go.
     * Bill such bytes by this call INSTEAD of `report_usage`, not as well. The kernel counts a
     * FIN received while the socket is open as one byte. The plugin still says whose socket it
     * is: the host checks the socket exists, not whom it serves.
     *
     * CARRIER_OK: counted. CARRIER_ERR_NOT_FOUND: the kernel has no TCP socket of that cookie and
     * those ends open (it closed already: bill it with `report_usage`). CARRIER_ERR_CONFLICT:
     * counted already (the host bills it). CARRIER_ERR_UNSUPPORTED: this host cannot ask its kernel (not Linux, or sock_diag
     * refused; the host logs why): bill with `report_usage`. CARRIER_ERR_INVALID_ARGUMENT: a NULL
     * argument, a family other than 4 or 6, nonzero `reserved` bytes, or a meter never declared
     * with `define_meter`. CARRIER_ERR_TIMEOUT: a runner's host did not answer in time; the host
     * then does not count it either (it counts only what it answers for 2 s before the round-trip
     * limit), so bill it with `report_usage`. Any thread, any phase; one question to the kernel,
     * and in a runner one round trip to the host (see Blocking).
     */
    carrier_status (*count_tcp_socket)(carrier_host *host, const carrier_id *client, const char *meter,
                                       const carrier_tcp_socket *socket);
} carrier_host_api_v1;

/* ------------------------------------------------------------------------------------------ */
/* The plugin table (handed back to the host)                                                  */
/* ------------------------------------------------------------------------------------------ */

/** Capability bits in `capabilities`. */
#define CARRIER_CAPABILITY_SERVICE (UINT64_C(1) << 0)    /* offers a network service to clients */
#define CARRIER_CAPABILITY_SETTLEMENT (UINT64_C(1) << 1) /* a billing settlement backend (see billing) */

typedef struct carrier_plugin_v1 {
    uint32_t struct_size; /* sizeof(carrier_plugin_v1) as the plugin was built */
    uint32_t abi_version; /* the plugin's CARRIER_ABI_VERSION_CURRENT */
    /** Reverse-DNS-like id, [a-z0-9.-], e.g. "org.example.hello"; must equal the manifest's id. */
    const char *id;
    /** Semantic version, e.g. "1.2.0". */
    const char *version;
    /** One line for operators. */
    const char *description;
    uint64_t capabilities;

    /**
     * Creates an instance with `host` (keep it: every host-API call takes it) and the manifest's
     * config (`config_json`, a JSON object text, borrowed). Declare meters here. On failure return
     * an error status and fill `error`; `*instance_out` is then ignored.
     */
    carrier_status (*create)(carrier_host *host, const char *config_json, carrier_plugin_instance **instance_out,
                             char *error, size_t error_capacity);
    /** Starts serving (open sockets, start timers). On failure the host calls `destroy`. */
    carrier_status (*start)(carrier_plugin_instance *instance, char *error, size_t error_capacity);
    /**
     * Stops serving (stop threads, close sockets). The host calls no other plugin function until
     * this returns. After it returns, pending asynchronous calls get their callbacks with
     * CARRIER_ERR_SHUTTING_DOWN, then `destroy` runs (see Lifetime above): keep what those
     * callbacks use until `destroy`.
     */
    void (*stop)(carrier_plugin_instance *instance);
    /** Frees the instance. Nothing of it is used afterwards. */
    void (*destroy)(carrier_plugin_instance *instance);
    /** The instance's health, with a one-line `detail` for operators. Called periodically. */
    carrier_health (*health)(carrier_plugin_instance *instance, char *detail, size_t detail_capacity);

    /* --- Added in 1.1 ------------------------------------------------------------------------ */
    /**
     * Settlement backends only (CARRIER_CAPABILITY_SETTLEMENT; NULL otherwise). On the executor:
     * the host hands over settlement batch `batch_id`, a JSON object signed by the node (its format
     * is in docs/billing.md), borrowed for the call. Return CARRIER_OK to take it, then report the
     * outcome with `settlement_result`, now or later; any other status refuses it for now (the host
     * offers it again later).
     */
    carrier_status (*settle)(carrier_plugin_instance *instance, uint64_t batch_id, const char *batch_json, size_t length);
} carrier_plugin_v1;

/**
 * The one exported symbol. Called once per process with the host's API table (valid for the
 * process's lifetime; keep it); returns the plugin's table (static storage), or NULL if the plugin
 * cannot work with this host (e.g. a host API table too small for the fields it needs).
 */
typedef const carrier_plugin_v1 *(*carrier_plugin_entry_v1_fn)(const carrier_host_api_v1 *host_api);
CARRIER_PLUGIN_EXPORT const carrier_plugin_v1 *carrier_plugin_entry_v1(const carrier_host_api_v1 *host_api);

#ifdef __cplusplus
}
#endif

#endif /* CARRIER_PLUGIN_H */
