/* Conformance: starts, then never returns from `health` (stuck while idle). Periodic health
   checks find it: under isolation = "process" its runner is killed and restarted. */
#include <unistd.h>
#include "carrier_plugin.h"
static int instance_storage;
static carrier_status create(carrier_host *host, const char *config, carrier_plugin_instance **out, char *error, size_t capacity) {
    (void)host; (void)config; (void)error; (void)capacity;
    *out = (carrier_plugin_instance *)&instance_storage;
    return CARRIER_OK;
}
static carrier_status start(carrier_plugin_instance *self, char *error, size_t capacity) { (void)self; (void)error; (void)capacity; return CARRIER_OK; }
static void stop(carrier_plugin_instance *self) { (void)self; }
static void destroy(carrier_plugin_instance *self) { (void)self; }
static carrier_health health(carrier_plugin_instance *self, char *detail, size_t capacity) {
    (void)self; (void)detail; (void)capacity;
    for (;;) pause();
    return CARRIER_HEALTH_OK; /* never reached */
}
static const carrier_plugin_v1 table = {
    .struct_size = sizeof(carrier_plugin_v1), .abi_version = CARRIER_ABI_VERSION_CURRENT, .id = "conformance.hang-in-health",
    .version = "1", .create = create, .start = start, .stop = stop, .destroy = destroy, .health = health,
};
CARRIER_PLUGIN_EXPORT const carrier_plugin_v1 *carrier_plugin_entry_v1(const carrier_host_api_v1 *host_api) { (void)host_api; return &table; }
