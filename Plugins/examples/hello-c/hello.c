/*
 * hello-c: the reference plugin in plain C, written against carrier_plugin.h alone.
 *
 * A TCP service: every connection gets one line, "<greeting> from <node id in hex>\n", and is
 * closed. It shows each part of the contract a service plugin uses: the entry symbol, create with
 * config, a thread of its own that hands work back to the executor with `post`, metrics, billing
 * meters, service announcement, health, and a clean stop.
 *
 * Config (the manifest's [config]): greeting = "hello" (at most 63 bytes), port = 0 (0 picks a
 * free port), host = "127.0.0.1" (the address to listen on).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "carrier_plugin.h"

static const carrier_host_api_v1 *api;

struct carrier_plugin_instance {
    carrier_host *host;
    char greeting[64];
    char listen_host[64];
    int port;
    int listener;
    atomic_int running;
    pthread_t thread;
    char line[160];
};

/* Copies the string value of "key" in a flat JSON object into out (no escapes; 0 if absent). */
static int json_string(const char *json, const char *key, char *out, size_t capacity) {
    char pattern[80];
    snprintf(pattern, sizeof pattern, "\"%s\"", key);
    const char *at = strstr(json, pattern);
    if (!at) return 0;
    at = strchr(at + strlen(pattern), '"');
    if (!at) return 0;
    const char *end = strchr(at + 1, '"');
    if (!end || (size_t)(end - at - 1) >= capacity) return 0;
    memcpy(out, at + 1, (size_t)(end - at - 1));
    out[end - at - 1] = 0;
    return 1;
}

/* The integer value of "key" in a flat JSON object, or fallback. */
static long json_integer(const char *json, const char *key, long fallback) {
    char pattern[80];
    snprintf(pattern, sizeof pattern, "\"%s\"", key);
    const char *at = strstr(json, pattern);
    if (!at) return fallback;
    at = strchr(at + strlen(pattern), ':');
    return at ? strtol(at + 1, NULL, 10) : fallback;
}

/* Runs on the executor: count a served connection. */
static void count_connection(void *user_data) {
    carrier_plugin_instance *self = user_data;
    api->counter_add(self->host, "connections", 1);
}

/* The plugin's own thread: accept, answer one line, close; until stop. */
static void *serve(void *user_data) {
    carrier_plugin_instance *self = user_data;
    while (atomic_load(&self->running)) {
        struct pollfd ready = {.fd = self->listener, .events = POLLIN};
        if (poll(&ready, 1, 100) <= 0) continue;
        int connection = accept(self->listener, NULL, NULL);
        if (connection < 0) continue;
        ssize_t written = write(connection, self->line, strlen(self->line));
        (void)written;
        close(connection);
        api->post(self->host, count_connection, self);
    }
    return NULL;
}

static carrier_status create(carrier_host *host, const char *config_json, carrier_plugin_instance **instance_out,
                             char *error, size_t error_capacity) {
    carrier_plugin_instance *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(error, error_capacity, "out of memory");
        return CARRIER_ERR_FAILED;
    }
    self->host = host;
    self->listener = -1;
    if (!json_string(config_json, "greeting", self->greeting, sizeof self->greeting)) strcpy(self->greeting, "hello");
    if (!json_string(config_json, "host", self->listen_host, sizeof self->listen_host)) strcpy(self->listen_host, "127.0.0.1");
    self->port = (int)json_integer(config_json, "port", 0);
    if (self->port < 0 || self->port > 65535) {
        snprintf(error, error_capacity, "config.port %d is not a TCP port", self->port);
        free(self);
        return CARRIER_ERR_INVALID_ARGUMENT;
    }
    api->define_meter(host, "connections", "connection");
    *instance_out = self;
    return CARRIER_OK;
}

static carrier_status start(carrier_plugin_instance *self, char *error, size_t error_capacity) {
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)self->port)};
    if (inet_pton(AF_INET, self->listen_host, &address.sin_addr) != 1) {
        snprintf(error, error_capacity, "config.host %s is not an IPv4 address", self->listen_host);
        return CARRIER_ERR_INVALID_ARGUMENT;
    }
    self->listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    socklen_t length = sizeof address;
    if (self->listener < 0 || bind(self->listener, (struct sockaddr *)&address, sizeof address) != 0 ||
        listen(self->listener, 64) != 0 || getsockname(self->listener, (struct sockaddr *)&address, &length) != 0) {
        snprintf(error, error_capacity, "cannot listen on %s:%d: %s", self->listen_host, self->port, strerror(errno));
        if (self->listener >= 0) close(self->listener);
        self->listener = -1;
        return CARRIER_ERR_FAILED;
    }
    self->port = ntohs(address.sin_port);

    carrier_id id;
    api->node_id(self->host, &id);
    int used = snprintf(self->line, sizeof self->line, "%s from ", self->greeting);
    for (int i = 0; i < 32; i++) used += snprintf(self->line + used, sizeof self->line - (size_t)used, "%02x", id.bytes[i]);
    snprintf(self->line + used, sizeof self->line - (size_t)used, "\n");

    atomic_store(&self->running, 1);
    if (pthread_create(&self->thread, NULL, serve, self) != 0) {
        atomic_store(&self->running, 0);
        snprintf(error, error_capacity, "cannot start the server thread");
        close(self->listener);
        self->listener = -1;
        return CARRIER_ERR_FAILED;
    }
    char endpoint[96];
    snprintf(endpoint, sizeof endpoint, "tcp://{host}:%d", self->port);
    api->announce_service(self->host, "hello", endpoint);
    char message[128];
    snprintf(message, sizeof message, "serving on %s:%d", self->listen_host, self->port);
    api->log(self->host, CARRIER_LOG_INFO, message);
    return CARRIER_OK;
}

static void stop(carrier_plugin_instance *self) {
    if (!atomic_exchange(&self->running, 0)) return;
    pthread_join(self->thread, NULL);
    close(self->listener);
    self->listener = -1;
    api->withdraw_service(self->host, "hello");
}

static void destroy(carrier_plugin_instance *self) {
    stop(self);
    free(self);
}

static carrier_health health(carrier_plugin_instance *self, char *detail, size_t detail_capacity) {
    if (!atomic_load(&self->running)) {
        snprintf(detail, detail_capacity, "not listening");
        return CARRIER_HEALTH_FAILING;
    }
    snprintf(detail, detail_capacity, "listening on port %d", self->port);
    return CARRIER_HEALTH_OK;
}

static const carrier_plugin_v1 plugin = {
    .struct_size = sizeof(carrier_plugin_v1),
    .abi_version = CARRIER_ABI_VERSION_CURRENT,
    .id = "org.carrier.examples.hello-c",
    .version = "1.0.0",
    .description = "Answers every TCP connection with a greeting and the node id",
    .capabilities = CARRIER_CAPABILITY_SERVICE,
    .create = create,
    .start = start,
    .stop = stop,
    .destroy = destroy,
    .health = health,
};

CARRIER_PLUGIN_EXPORT const carrier_plugin_v1 *carrier_plugin_entry_v1(const carrier_host_api_v1 *host_api) {
    /* This plugin uses fields up to withdraw_service, all in ABI 1.0. */
    if (!CARRIER_HAS_FIELD(host_api, carrier_host_api_v1, withdraw_service)) return NULL;
    api = host_api;
    return &plugin;
}
