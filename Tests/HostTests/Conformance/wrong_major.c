/* Conformance: a plugin built for ABI major 2 (exports only carrier_plugin_entry_v2). */
#include "carrier_plugin.h"
CARRIER_PLUGIN_EXPORT const void *carrier_plugin_entry_v2(const void *host_api) { (void)host_api; return 0; }
