import CarrierPluginABI
import Dispatch

/// The cost of crossing the ABI, measured on the instance's executor as real calls would be
/// (`make bench`): host → plugin through the plugin table, and plugin → host through the host API.
extension PluginInstance {
    /// Calls the plugin's `health` `count` times in a row on its executor; returns the time taken.
    public func timePluginCalls(_ count: Int) -> Duration {
        let pointers = self.pointers
        return context.executor.sync {
            var detail = [CChar](repeating: 0, count: 64)
            let health = pointers.table.pointee.health!
            return ContinuousClock().measure { for _ in 0..<count { _ = health(pointers.instance, &detail, detail.count) } }
        }
    }

    /// Calls the host API's `counter_add` (counter `abi_calls`) `count` times on the executor, as
    /// the plugin would; returns the time taken.
    public func timeHostCalls(_ count: Int) -> Duration {
        let handle = context.handle
        return context.executor.sync {
            let counterAdd = HostAPI.table.pointee.counter_add!
            return ContinuousClock().measure { for _ in 0..<count { _ = counterAdd(handle, "abi_calls", 1) } }
        }
    }
}
