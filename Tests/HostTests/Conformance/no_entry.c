/* Conformance: a shared library without carrier_plugin_entry_v1 (not a plugin at all). */
int carrier_not_a_plugin(void) { return 42; }
