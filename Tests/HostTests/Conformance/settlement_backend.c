/* Conformance: a settlement backend (CARRIER_CAPABILITY_SETTLEMENT). It takes every batch that
   is a signed JSON object and reports it paid a moment later, from a posted task; with
   config {"fail": true} it reports every batch failed instead. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "carrier_plugin.h"
static const carrier_host_api_v1 *api;
static carrier_host *the_host;
static int fail_all;
static int instance_storage;
static carrier_status create(carrier_host *host, const char *config, carrier_plugin_instance **out, char *error, size_t capacity) {
    (void)error; (void)capacity;
    the_host = host;
    const char *fail = config != NULL ? strstr(config, "\"fail\"") : NULL;
    fail_all = fail != NULL && strncmp(fail + strspn(fail + 6, ": ") + 6, "true", 4) == 0;
    *out = (carrier_plugin_instance *)&instance_storage;
    return CARRIER_OK;
}
static void report(void *user_data) {
    uint64_t batch = (uint64_t)(uintptr_t)user_data;
    if (fail_all) api->settlement_result(the_host, batch, CARRIER_ERR_FAILED, "the card was declined");
    else api->settlement_result(the_host, batch, CARRIER_OK, "collected by the conformance backend");
}
static carrier_status settle(carrier_plugin_instance *self, uint64_t batch, const char *json, size_t length) {
    (void)self;
    if (json == NULL || length < 2 || json[0] != '{' || strstr(json, "\"sig\":\"") == NULL) return CARRIER_ERR_INVALID_ARGUMENT;
    return api->post(the_host, report, (void *)(uintptr_t)batch);
}
static carrier_status start(carrier_plugin_instance *self, char *error, size_t capacity) { (void)self; (void)error; (void)capacity; return CARRIER_OK; }
static void stop(carrier_plugin_instance *self) { (void)self; }
static void destroy(carrier_plugin_instance *self) { (void)self; }
static carrier_health health(carrier_plugin_instance *self, char *detail, size_t capacity) { (void)self; (void)detail; (void)capacity; return CARRIER_HEALTH_OK; }
static const carrier_plugin_v1 table = {
    .struct_size = sizeof(carrier_plugin_v1), .abi_version = CARRIER_ABI_VERSION_CURRENT, .id = "conformance.settlement",
    .version = "1", .capabilities = CARRIER_CAPABILITY_SETTLEMENT, .create = create, .start = start, .stop = stop,
    .destroy = destroy, .health = health, .settle = settle,
};
CARRIER_PLUGIN_EXPORT const carrier_plugin_v1 *carrier_plugin_entry_v1(const carrier_host_api_v1 *host_api) { api = host_api; return &table; }
