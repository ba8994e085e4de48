import CarrierCore

/// The part of a manifest a plugin runner needs (what to load and check, the config, the service
/// to announce), sent in the `load` request. Billing and dependencies stay with the host.
extension PluginManifest {
    var runnerFields: [String: CBOR] {
        var fields: [String: CBOR] = ["plugin": .text(id), "version": .text(version), "library": .text(library),
                                      "file": .text(file), "config": .text(configJSON)]
        if let sha256 { fields["sha256"] = .text(sha256) }
        if let service { fields["service_type"] = .text(service.type); fields["service_endpoint"] = .text(service.endpoint) }
        return fields
    }

    init(runnerFields message: RunnerMessage) throws(MalformedRunnerMessage) {
        let service = message.has("service_type")
            ? Service(type: try message.text("service_type"), endpoint: try message.text("service_endpoint")) : nil
        self.init(file: try message.text("file"), id: try message.text("plugin"), version: try message.text("version"),
                  library: try message.text("library"), sha256: message.has("sha256") ? try message.text("sha256") : nil, abiMajor: 1,
                  enabled: true, isolation: .process, dependsOn: [], service: service, configJSON: try message.text("config"),
                  billing: BillingSection())
    }
}
