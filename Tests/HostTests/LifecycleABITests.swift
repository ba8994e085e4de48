import CarrierCore
@testable import CarrierHost
import CarrierPluginABI
import Foundation
import TestSupport
import Testing

/// ABI 1.4's lifecycle through the host-API table: what DHT calls, timers, subscriptions and posts
/// answer in each phase, and the `*_owned` calls, whose user data the host frees exactly once,
/// before the plugin's `destroy`.
@Suite(.serialized)
struct LifecycleABITests {
    private static let task: carrier_task_fn = { CallbackTally.from($0).note("task") }
    private static let destroy: carrier_destroy_fn = { CallbackTally.from($0).note("destroy") }

    @Test func eachPhaseAnswersAsTheHeadersTableSays() async throws {
        let fixture = try await ABIFixture.make(id: "abi.phases")
        let api = fixture.api, host = fixture.host
        var target = CRecords.id(KeyPair.random().publicKey), timer: UInt64 = 0
        let noNodes: carrier_nodes_callback = { _, _, _, _ in }
        // In create: DHT calls, timers and subscriptions are not available yet; post is.
        #expect(api.find_node(host, &target, noNodes, nil) == CARRIER_ERR_UNSUPPORTED)
        #expect(api.timer_start(host, 10, 0, Self.task, nil, &timer) == CARRIER_ERR_UNSUPPORTED)
        #expect(api.subscribe_events(host, { _, _ in }, nil) == CARRIER_ERR_UNSUPPORTED)
        let tally = CallbackTally()
        #expect(api.post(host, Self.task, tally.pointer) == CARRIER_OK)
        #expect(await eventually { tally.events == ["task"] })

        #expect(fixture.context.advance(to: .running))
        #expect(api.timer_start(host, 60_000, 0, Self.task, nil, &timer) == CARRIER_OK)

        fixture.releaseAfterStop()
        #expect(api.find_node(host, &target, noNodes, nil) == CARRIER_ERR_SHUTTING_DOWN)
        #expect(api.timer_start(host, 10, 0, Self.task, nil, &timer) == CARRIER_ERR_SHUTTING_DOWN)
        #expect(api.post(host, Self.task, nil) == CARRIER_ERR_SHUTTING_DOWN)
        #expect(api.post_owned(host, Self.task, tally.pointer, Self.destroy) == CARRIER_ERR_SHUTTING_DOWN)
        try await Task.sleep(for: .milliseconds(100))
        #expect(tally.events == ["task"], "a refused post_owned leaves the user data to the plugin")
        await fixture.network.stop()
    }

    @Test func ownedUserDataIsFreedOnceWhenTheHostIsDoneWithIt() async throws {
        let fixture = try await ABIFixture.make(id: "abi.owned")
        let api = fixture.api, host = fixture.host
        #expect(fixture.context.advance(to: .running))

        let posted = CallbackTally()
        #expect(api.post_owned(host, Self.task, posted.pointer, Self.destroy) == CARRIER_OK)
        #expect(await eventually { posted.events == ["task", "destroy"] })

        let oneShot = CallbackTally(), cancelled = CallbackTally(), repeating = CallbackTally(), subscribed = CallbackTally()
        var timer: UInt64 = 0
        #expect(api.timer_start_owned(host, 10, 0, Self.task, oneShot.pointer, Self.destroy, &timer) == CARRIER_OK)
        #expect(await eventually { oneShot.events == ["task", "destroy"] })
        #expect(api.timer_start_owned(host, 60_000, 0, Self.task, cancelled.pointer, Self.destroy, &timer) == CARRIER_OK)
        #expect(api.timer_cancel(host, timer) == CARRIER_OK)
        #expect(await eventually { cancelled.events == ["destroy"] })
        #expect(api.timer_cancel(host, timer) == CARRIER_ERR_NOT_FOUND)
        #expect(api.timer_start_owned(host, 60_000, 60_000, Self.task, repeating.pointer, Self.destroy, &timer) == CARRIER_OK)
        #expect(api.subscribe_events_owned(host, { _, _ in }, subscribed.pointer, Self.destroy) == CARRIER_OK)

        // A task posted, then the stop, in one turn of the executor: the task is dropped and its
        // user data freed by the stop, before what would be the plugin's destroy.
        let dropped = CallbackTally()
        fixture.context.executor.sync {
            #expect(api.post_owned(host, Self.task, dropped.pointer, Self.destroy) == CARRIER_OK)
            fixture.context.advance(to: .stopping)
            fixture.context.releaseAfterStop()
            #expect(dropped.events == ["destroy"] && repeating.events == ["destroy"] && subscribed.events == ["destroy"])
        }
        try await Task.sleep(for: .milliseconds(100))
        #expect(dropped.events == ["destroy"], "the queued task neither runs nor frees twice")
        #expect(oneShot.events == ["task", "destroy"] && cancelled.events == ["destroy"])
        await fixture.network.stop()
    }
}
