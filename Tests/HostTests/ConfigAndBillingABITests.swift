import CarrierCore
@testable import CarrierHost
import CarrierPluginABI
import TestSupport
import Testing

/// ABI 1.4's `config_string`, `config_int`, `config_bool` (dotted keys into nested tables) and
/// `authorize_usage` (programming errors apart from billing decisions), and 1.5's `client_plan`,
/// through the host-API table.
@Suite(.serialized)
struct ConfigAndBillingABITests {
    @Test func configKeysAreReadByTypeAndPath() async throws {
        let fixture = try await ABIFixture.make(id: "abi.config", config: """
            greeting = "hello there"
            port = 8080
            verbose = true
            [config.limits]
            burst = -3
            """)
        let api = fixture.api, host = fixture.host
        var text = [CChar](repeating: 0, count: 64), length = 0, number: Int64 = 0, flag: Int32 = -1
        #expect(api.config_string(host, "greeting", &text, text.count, &length) == CARRIER_OK)
        #expect(CRecords.string(text) == "hello there" && length == 11)
        #expect(api.config_int(host, "port", &number) == CARRIER_OK && number == 8080)
        #expect(api.config_int(host, "limits.burst", &number) == CARRIER_OK && number == -3)
        #expect(api.config_bool(host, "verbose", &flag) == CARRIER_OK && flag == 1)

        #expect(api.config_int(host, "absent", &number) == CARRIER_ERR_NOT_FOUND)
        #expect(api.config_int(host, "limits.absent", &number) == CARRIER_ERR_NOT_FOUND)
        #expect(api.config_int(host, "greeting.inner", &number) == CARRIER_ERR_NOT_FOUND)
        #expect(api.config_int(host, "greeting", &number) == CARRIER_ERR_INVALID_ARGUMENT, "a string is not an integer")
        #expect(api.config_bool(host, "port", &flag) == CARRIER_ERR_INVALID_ARGUMENT)
        #expect(api.config_string(host, "limits", &text, text.count, &length) == CARRIER_ERR_INVALID_ARGUMENT, "a table is not a string")
        #expect(api.config_int(host, nil, &number) == CARRIER_ERR_INVALID_ARGUMENT)

        var small = [CChar](repeating: 0, count: 5)
        #expect(api.config_string(host, "greeting", &small, small.count, &length) == CARRIER_ERR_INVALID_ARGUMENT)
        #expect(length == 11, "the length needed is reported")
        await fixture.network.stop()
    }

    @Test func aConfigWithAFloatIsReadFromItsJSONText() async throws {
        let fixture = try await ABIFixture.make(id: "abi.config-float", config: "ratio = 0.5\nport = 1")
        var number: Int64 = 0
        #expect(fixture.api.config_int(fixture.host, "port", &number) == CARRIER_ERR_FAILED)
        await fixture.network.stop()
    }

    @Test func authorizeUsageTellsProgrammingErrorsFromDecisions() async throws {
        let fixture = try await ABIFixture.make(id: "abi.authorize")
        let api = fixture.api, host = fixture.host
        #expect(api.define_meter(host, "requests", "request") == CARRIER_OK)
        #expect(fixture.context.advance(to: .running))
        var client = CRecords.id(KeyPair.random().publicKey)
        var decision = CARRIER_BILLING_PAYMENT_REQUIRED
        var message = [CChar](repeating: 0, count: 256)
        func authorize(_ meter: String?, estimate: UInt64 = 1) -> carrier_status {
            message = [CChar](repeating: 0, count: 256)
            guard let meter else { return api.authorize_usage(host, &client, nil, estimate, &decision, &message, message.count) }
            return api.authorize_usage(host, &client, meter, estimate, &decision, &message, message.count)
        }
        #expect(authorize("requests") == CARRIER_OK && decision == CARRIER_BILLING_ALLOWED, "an unpriced meter is free")
        #expect(authorize("bytes") == CARRIER_ERR_INVALID_ARGUMENT)
        #expect(CRecords.string(message) == "meter bytes was never declared with define_meter")
        #expect(authorize(nil) == CARRIER_ERR_INVALID_ARGUMENT && CRecords.string(message) == "the meter name is NULL")
        #expect(authorize("Requests!") == CARRIER_ERR_INVALID_ARGUMENT && CRecords.string(message).contains("is not a meter name"))
        #expect(authorize("requests", estimate: UInt64(1) << 41) == CARRIER_ERR_INVALID_ARGUMENT)
        #expect(CRecords.string(message).contains("more than one call may ask for"))
        #expect(api.authorize_usage(host, nil, "requests", 1, &decision, nil, 0) == CARRIER_ERR_INVALID_ARGUMENT, "a NULL message buffer is allowed")
        // The 1.0 call keeps its answer for older plugins.
        #expect(api.authorize(host, &client, "bytes", 1, &message, message.count) == CARRIER_BILLING_PAYMENT_REQUIRED)
        await fixture.network.stop()
    }

    @Test func clientPlanNamesThePlanThisManifestBillsAClientBy() async throws {
        let fixture = try await ABIFixture.make(id: "abi.plans", config: """
            greeting = "hi"
            [billing]
            default_plan = "basic"
            [billing.plans.basic]
            period = "1d"
            [billing.plans.basic.meters.requests]
            free = 3
            [billing.plans.professional_with_a_long_name]
            period = "1d"
            """)
        let api = fixture.api, host = fixture.host
        let client = KeyPair.random().publicKey, ledger = fixture.network.environment.billing.ledger
        var id = CRecords.id(client)
        var name = [CChar](repeating: 0, count: 64), length = 0
        #expect(api.client_plan(host, &id, &name, name.count, &length) == CARRIER_OK)
        #expect(CRecords.string(name) == "basic" && length == 5, "a client never assigned is on the default plan")

        try ledger.setPlan(client, plan: "professional_with_a_long_name", at: 0)
        try fixture.network.environment.billing.flush()
        var small = [CChar](repeating: 0, count: 8)
        #expect(api.client_plan(host, &id, &small, small.count, &length) == CARRIER_ERR_INVALID_ARGUMENT)
        #expect(length == 29, "the length needed is reported")
        #expect(api.client_plan(host, &id, &name, name.count, nil) == CARRIER_OK && CRecords.string(name) == "professional_with_a_long_name")

        try ledger.setPlan(client, plan: "gold", at: 0)
        try fixture.network.environment.billing.flush()
        #expect(api.client_plan(host, &id, &name, name.count, &length) == CARRIER_OK)
        #expect(CRecords.string(name) == "basic", "a plan this manifest does not have falls back to its default")
        #expect(api.client_plan(host, nil, &name, name.count, &length) == CARRIER_ERR_INVALID_ARGUMENT)
        #expect(api.client_plan(host, &id, nil, 0, &length) == CARRIER_ERR_INVALID_ARGUMENT)
        await fixture.network.stop()

        let free = try await ABIFixture.make(id: "abi.free")
        #expect(free.api.client_plan(free.host, &id, &name, name.count, &length) == CARRIER_ERR_NOT_FOUND, "no plans: every client is free")
        await free.network.stop()
    }
}
