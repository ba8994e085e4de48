/*
 * hello-c: the reference plugin in plain C, written against carrier_plugin.h alone.
 *
 * A TCP service: every connection gets one line, "<greeting> from <node id in hex>\n", and is
 * closed. It shows each part of the contract a service plugin uses: the entry symbol, create with
 * config read by key, a thread of its own that hands work back to the executor with `post`, metrics, billing
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

/* A string from the config into out, or fallback when the key is absent. 0 on a value that is not
 * a string or does not fit, with the reason in error. */
static int config_text(carrier_host *host, const char *key, const char *fallback, char *out, size_t capacity, char *error,
                       size_t error_capacity) {
    carrier_status status = api->config_string(host, key, out, capacity, NULL);
    if (status == CARRIER_ERR_NOT_FOUND) {
        snprintf(out, capacity, "%s", fallback);
        return 1;
    }
    if (status != CARRIER_OK) snprintf(error, error_capacity, "config.%s must be a string of at most %zu bytes", key, capacity - 1);
    return status == CARRIER_OK;
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
    (void)config_json; /* read by key instead, with config_string and config_int */
    carrier_plugin_instance *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(error, error_capacity, "out of memory");
        return CARRIER_ERR_FAILED;
    }
    self->host = host;
    self->listener = -1;
    int64_t port = 0;
    carrier_status port_status = api->config_int(host, "port", &port);
    if (!config_text(host, "greeting", "hello", self->greeting, sizeof self->greeting, error, error_capacity) ||
        !config_text(host, "host", "127.0.0.1", self->listen_host, sizeof self->listen_host, error, error_capacity)) {
        free(self);
        return CARRIER_ERR_INVALID_ARGUMENT;
    }
    if ((port_status != CARRIER_OK && port_status != CARRIER_ERR_NOT_FOUND) || port < 0 || port > 65535) {
        if (port_status == CARRIER_OK) snprintf(error, error_capacity, "config.port %lld is not a TCP port", (long long)port);
        else snprintf(error, error_capacity, "config.port must be an integer");
        free(self);
        return CARRIER_ERR_INVALID_ARGUMENT;
    }
    self->port = (int)port;
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
    /* This plugin uses fields up to config_int, added in ABI 1.4. */
    if (!CARRIER_HAS_FIELD(host_api, carrier_host_api_v1, config_int)) return NULL;
    api = host_api;
    return &plugin;
}
