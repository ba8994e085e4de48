/* Conformance: a plugin table that claims 16 bytes, smaller than ABI 1.0's. */
#include "carrier_plugin.h"
static carrier_plugin_v1 table = {.struct_size = 16, .abi_version = CARRIER_ABI_VERSION(1, 0), .id = "short"};
CARRIER_PLUGIN_EXPORT const carrier_plugin_v1 *carrier_plugin_entry_v1(const carrier_host_api_v1 *host_api) { (void)host_api; return &table; }
