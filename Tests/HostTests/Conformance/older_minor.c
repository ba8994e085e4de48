/* Conformance: a plugin built against ABI 1.0. Its table ends before `settle` (added in 1.1), and
   the bytes after that end are not zero: here, a function that aborts. The host must read only
   `struct_size` bytes of it, so that `settle` is NULL to the host, and run the plugin as before. */
#include <stddef.h>
#include <stdlib.h>
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
static carrier_health health(carrier_plugin_instance *self, char *detail, size_t capacity) { (void)self; (void)detail; (void)capacity; return CARRIER_HEALTH_OK; }
static carrier_status past_the_end(carrier_plugin_instance *self, uint64_t batch, const char *json, size_t length) {
    (void)self; (void)batch; (void)json; (void)length;
    abort();
}
static const carrier_plugin_v1 table = {
    .struct_size = offsetof(carrier_plugin_v1, settle), .abi_version = CARRIER_ABI_VERSION(1, 0), .id = "conformance.older-minor",
    .version = "1.0.0", .capabilities = CARRIER_CAPABILITY_SERVICE, .create = create, .start = start, .stop = stop,
    .destroy = destroy, .health = health, .settle = past_the_end,
};
CARRIER_PLUGIN_EXPORT const carrier_plugin_v1 *carrier_plugin_entry_v1(const carrier_host_api_v1 *host_api) {
    return CARRIER_HAS_FIELD(host_api, carrier_host_api_v1, withdraw_service) ? &table : NULL;
}
