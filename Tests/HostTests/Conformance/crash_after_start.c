/* Conformance: starts, announces its service, then crashes on the host's executor 1 s later
   (a timer that writes through NULL). Under isolation = "process" the host sees the runner die,
   withdraws the service, restarts the runner, and the plugin runs (and announces) again. */
#include <stddef.h>
#include "carrier_plugin.h"
static const carrier_host_api_v1 *api;
static carrier_host *the_host;
static int instance_storage;
static carrier_status create(carrier_host *host, const char *config, carrier_plugin_instance **out, char *error, size_t capacity) {
    (void)config; (void)error; (void)capacity;
    the_host = host;
    *out = (carrier_plugin_instance *)&instance_storage;
    return CARRIER_OK;
}
static void crash(void *user_data) {
    (void)user_data;
    volatile int *nowhere = NULL;
    *nowhere = 1;
}
static carrier_status start(carrier_plugin_instance *self, char *error, size_t capacity) {
    (void)self; (void)error; (void)capacity;
    uint64_t timer;
    carrier_status status = api->announce_service(the_host, "crashy", "tcp://{host}:9");
    if (status != CARRIER_OK) return status;
    return api->timer_start(the_host, 1000, 0, crash, NULL, &timer);
}
static void stop(carrier_plugin_instance *self) { (void)self; }
static void destroy(carrier_plugin_instance *self) { (void)self; }
static carrier_health health(carrier_plugin_instance *self, char *detail, size_t capacity) { (void)self; (void)detail; (void)capacity; return CARRIER_HEALTH_OK; }
static const carrier_plugin_v1 table = {
    .struct_size = sizeof(carrier_plugin_v1), .abi_version = CARRIER_ABI_VERSION_CURRENT, .id = "conformance.crash-after-start",
    .version = "1", .create = create, .start = start, .stop = stop, .destroy = destroy, .health = health,
};
CARRIER_PLUGIN_EXPORT const carrier_plugin_v1 *carrier_plugin_entry_v1(const carrier_host_api_v1 *host_api) { api = host_api; return &table; }
