/* Conformance: start crashes (a NULL write). Under isolation = "process" only its runner dies:
   the host restarts it with backoff and keeps serving. (Never loaded in process by the tests.) */
#include <stddef.h>
#include "carrier_plugin.h"
static int instance_storage;
static carrier_status create(carrier_host *host, const char *config, carrier_plugin_instance **out, char *error, size_t capacity) {
    (void)host; (void)config; (void)error; (void)capacity;
    *out = (carrier_plugin_instance *)&instance_storage;
    return CARRIER_OK;
}
static carrier_status start(carrier_plugin_instance *self, char *error, size_t capacity) {
    (void)self; (void)error; (void)capacity;
    volatile int *nowhere = NULL;
    *nowhere = 1;
    return CARRIER_OK; /* never reached */
}
static void stop(carrier_plugin_instance *self) { (void)self; }
static void destroy(carrier_plugin_instance *self) { (void)self; }
static carrier_health health(carrier_plugin_instance *self, char *detail, size_t capacity) { (void)self; (void)detail; (void)capacity; return CARRIER_HEALTH_OK; }
static const carrier_plugin_v1 table = {
    .struct_size = sizeof(carrier_plugin_v1), .abi_version = CARRIER_ABI_VERSION_CURRENT, .id = "conformance.crash-in-start",
    .version = "1", .create = create, .start = start, .stop = stop, .destroy = destroy, .health = health,
};
CARRIER_PLUGIN_EXPORT const carrier_plugin_v1 *carrier_plugin_entry_v1(const carrier_host_api_v1 *host_api) { (void)host_api; return &table; }
