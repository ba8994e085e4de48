import ArgumentParser
import CarrierCore
import CarrierHost
import Foundation

/// `carrier billing ...`: plans, credit, usage and receipts of a supernode's ledger
/// (`<data_dir>/billing.sqlite`, the data directory named by `node.toml`).
struct BillingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "billing",
        abstract: "Assign plans, add credit, report usage, and issue or verify signed usage receipts.",
        discussion: """
            Plans and prices come from the plugin manifests' [billing] sections; the ledger lives in the \
            data directory that node.toml names. These commands write the ledger directly, so they work \
            whether the supernode runs or not; a running supernode applies a change within one flush \
            (1 s). Amounts are decimals in the manifests' currency, exact to 0.000001.

            Examples:
              carrier billing plan set 5Ym8...Qw pro --manifests Manifests
              carrier billing credit 5Ym8...Qw 25.5
              carrier billing usage --client 5Ym8...Qw --json
              carrier billing receipts --client 5Ym8...Qw --issue > receipts.jsonl
              carrier billing verify receipts.jsonl
            """,
        subcommands: [PlanCommand.self, Credit.self, Usage.self, Receipts.self, Verify.self, Soak.self])

    /// `--manifests DIR`: where node.toml (and so the ledger) and the plans are.
    struct LedgerOptions: ParsableArguments {
        @Option(help: ArgumentHelp("The supernode's manifests folder (its node.toml names the data directory).", valueName: "DIR"))
        var manifests = "Manifests"

        /// The manifests and the ledger. `creating` false (commands that only read) refuses a data
        /// directory without a ledger instead of creating an empty one there.
        func load(creating: Bool = true) throws -> (manifests: ManifestSet, ledger: BillingLedger) {
            let set: ManifestSet
            do { set = try ManifestSet.load(directory: manifests) } catch { throw CommandFailure("\(error)") }
            let path = BillingLedger.path(dataDirectory: set.node.dataDirectory)
            guard creating || FileManager.default.fileExists(atPath: path) else {
                throw CommandFailure("no billing ledger at \(path): the supernode of \(set.node.file) has not run yet, or --manifests names another one")
            }
            do {
                try DataDirectory.create(set.node.dataDirectory)
                return (set, try BillingLedger.open(dataDirectory: set.node.dataDirectory))
            } catch {
                throw CommandFailure("\(error)")
            }
        }
    }

    static var now: Int64 { Int64(Date().timeIntervalSince1970) }

    /// `carrier billing plan set|clear`
    struct PlanCommand: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "plan", abstract: "Put a client on a plan, or back on the default plans.",
                                                        subcommands: [Set.self, Clear.self])

        struct Set: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Put CLIENT on PLAN: every plugin whose manifest has a plan of that name bills the client by it (the others by their default plan).")
            @Argument(help: "The client's node id (Base58).") var client: String
            @Argument(help: "A plan name from the manifests' [billing.plans.NAME].") var plan: String
            @OptionGroup var ledger: LedgerOptions

            func run() throws {
                try reportingFailures {
                    let id = try parseId(client)
                    let (manifests, ledger) = try ledger.load()
                    let offering = manifests.plugins.filter { $0.billing.plans[plan] != nil }.map(\.id)
                    guard !offering.isEmpty else {
                        let known = Swift.Set(manifests.plugins.flatMap { $0.billing.plans.keys }).sorted()
                        throw CommandFailure("no manifest has a plan named \"\(plan)\" (plans: \(known.isEmpty ? "none" : known.joined(separator: ", ")))")
                    }
                    do { try ledger.setPlan(id, plan: plan, at: BillingCommand.now) } catch { throw CommandFailure("\(error)") }
                    Console.line("\(id.base58) is on plan \(plan) for \(offering.joined(separator: ", "))")
                }
            }
        }

        struct Clear: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Put CLIENT back on each plugin's default plan.")
            @Argument(help: "The client's node id (Base58).") var client: String
            @OptionGroup var ledger: LedgerOptions

            func run() throws {
                try reportingFailures {
                    let id = try parseId(client)
                    do { try ledger.load().ledger.setPlan(id, plan: nil, at: BillingCommand.now) } catch let failure as CommandFailure {
                        throw failure
                    } catch { throw CommandFailure("\(error)") }
                    Console.line("\(id.base58) is on the default plans")
                }
            }
        }
    }

    /// `carrier billing credit CLIENT AMOUNT`
    struct Credit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add AMOUNT (a decimal; negative takes credit back) to CLIENT's balance, recorded in the journal.")
        @Argument(help: "The client's node id (Base58).") var client: String
        @Argument(help: "The amount, e.g. 25 or 0.5 or -1.25.") var amount: String
        @Option(help: "A note for the journal (an invoice number, say).") var note = "operator credit"
        @OptionGroup var ledger: LedgerOptions

        func run() throws {
            try reportingFailures {
                let id = try parseId(client)
                guard let micro = Money.parse(amount) else { throw CommandFailure("\(amount) is not an amount (a decimal with at most 6 places)") }
                let ledger = try ledger.load().ledger
                let balance: Int64
                do { balance = try ledger.credit(id, amount: micro, note: note, at: BillingCommand.now) } catch { throw CommandFailure("\(error)") }
                Console.line("\(id.base58): balance \(Money.text(balance))")
            }
        }
    }

    /// `carrier billing usage`
    struct Usage: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show usage per client, plugin, meter and period, with charges and balances (as of the last flush).")
        @Option(help: "Only this client (Base58 node id).") var client: String?
        @Flag(help: "Print {\"usage\": [...], \"clients\": [...], \"totals\": {...}} for scripts, amounts as decimal strings as in the text.") var json = false
        @OptionGroup var ledger: LedgerOptions

        /// The `--json` document: the ledger's rows with every amount a decimal string, as in the text.
        struct Report: Encodable {
            struct Row: Encodable {
                let client: String
                let plugin: String
                let meter: String
                let periodStart: Int64
                let periodSeconds: Int64
                let units: Int64
                let charged: String
            }
            struct Client: Encodable {
                let client: String
                let plan: String?
                let balance: String
            }
            struct Meter: Encodable {
                let plugin: String
                let meter: String
                let units: Int64
                let charged: String
            }
            struct Totals: Encodable {
                let usage: [Meter]
                let credited: String
            }
            let usage: [Row]
            let clients: [Client]
            let totals: Totals

            init(usage: [BillingLedger.Usage], clients: [BillingLedger.Client], totals: BillingLedger.Totals) {
                self.usage = usage.map {
                    Row(client: $0.client, plugin: $0.plugin, meter: $0.meter, periodStart: $0.periodStart, periodSeconds: $0.periodSeconds,
                        units: $0.units, charged: Money.text($0.charged))
                }
                self.clients = clients.map { Client(client: $0.id.base58, plan: $0.plan, balance: Money.text($0.balance)) }
                self.totals = Totals(usage: totals.usage.map { Meter(plugin: $0.plugin, meter: $0.meter, units: $0.units, charged: Money.text($0.charged)) },
                                     credited: Money.text(totals.credited))
            }
        }

        func run() throws {
            try reportingFailures {
                let id = try client.map(parseId)
                let ledger = try ledger.load(creating: false).ledger
                let report: Report
                do {
                    let clients = try ledger.clients().filter { id == nil || $0.id == id }
                    report = Report(usage: try ledger.usage(client: id), clients: clients, totals: try ledger.totals(client: id))
                } catch { throw CommandFailure("\(error)") }
                if json { return Console.line(JSONOutput.encoded(report)) }
                guard !report.usage.isEmpty || !report.clients.isEmpty else { return Console.line("no usage recorded") }
                let formatter = ISO8601DateFormatter()
                for row in report.usage {
                    let period = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(row.periodStart)))
                    Console.line("\(row.client)  \(row.plugin)  \(row.meter)  period from \(period)  \(row.units) units  charged \(row.charged)")
                }
                for client in report.clients {
                    Console.line("\(client.client)  plan \(client.plan ?? "(default)")  balance \(client.balance)")
                }
            }
        }
    }

    /// `carrier billing receipts`
    struct Receipts: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print signed usage receipts, one JSON object per line (a client verifies them with `carrier billing verify`).",
            discussion: "With --issue, first issues receipts for use not yet receipted (signed with the node key in the data directory).")
        @Option(help: "Only this client's receipts (Base58 node id).") var client: String?
        @Flag(help: "Issue receipts for periods that ended, and for running periods whose use changed, before printing.") var issue = false
        @OptionGroup var ledger: LedgerOptions

        func run() throws {
            try reportingFailures {
                let id = try client.map(parseId)
                let (manifests, ledger) = try ledger.load(creating: false)
                let identity: KeyPair
                do { identity = try IdentityFile.load(path: "\(manifests.node.dataDirectory)/\(IdentityFile.fileName)") } catch {
                    throw CommandFailure("\(error)")
                }
                let book = ReceiptBook(ledger: ledger, identity: identity)
                do {
                    if issue {
                        let issued = try book.issue(client: id, openPeriods: true, now: BillingCommand.now)
                        Console.progress("issued \(issued.count) receipt\(issued.count == 1 ? "" : "s")")
                    }
                    for line in try book.receipts(client: id) { Console.line(line) }
                } catch { throw CommandFailure("\(error)") }
            }
        }
    }

    /// `carrier billing verify FILE`
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify receipts offline: each signature, and that each client's chain has no gap or altered link.",
            discussion: "FILE holds one receipt (JSON) per line, as `carrier billing receipts` prints them; - reads standard input. Exit status 1 when anything fails.")
        @Argument(help: "The receipts file, or - for standard input.") var file: String
        @Flag(help: "Print {\"receipts\": N, \"clients\": N, \"problems\": [...]} for scripts.") var json = false

        func run() throws {
            try reportingFailures {
                let text: String
                if file == "-" {
                    text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
                } else {
                    guard let data = FileManager.default.contents(atPath: file) else { throw CommandFailure("cannot read \(file)") }
                    text = String(decoding: data, as: UTF8.self)
                }
                var receipts: [UsageReceipt] = [], problems: [String] = []
                for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
                    where !line.trimmingCharacters(in: .whitespaces).isEmpty {
                    do { receipts.append(try UsageReceipt(json: String(line))) } catch { problems.append("line \(index + 1): \(error)") }
                }
                problems += ReceiptChain.problems(in: receipts)
                let clients = Set(receipts.map(\.client)).count
                if json {
                    Console.line(JSONOutput.object(["receipts": .number(Int64(receipts.count)), "clients": .number(Int64(clients)),
                                                    "problems": .list(problems.map(JSONOutput.string))]))
                } else if problems.isEmpty {
                    Console.line("ok: \(receipts.count) receipt\(receipts.count == 1 ? "" : "s") of \(clients) client\(clients == 1 ? "" : "s") verify; no gaps")
                } else {
                    for problem in problems { Console.line(problem) }
                }
                if !problems.isEmpty { throw ExitCode.failure }
            }
        }
    }

    /// `carrier billing soak`
    struct Soak: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure billing on this machine: threads calling authorize + report while a scratch ledger flushes.",
            discussion: "Prints one JSON line per flush ({\"reported\", \"flushedAtLeast\", \"flushes\"}), then the result. The ledger is a scratch file, never a supernode's.")
        @Option(help: "How long to run (seconds).") var seconds: Double = 5
        @Option(help: "Threads reporting at once.") var threads = 1
        @Option(help: "Stop reporting after this many reports (the soak still runs, flushing, until --seconds).") var reports: Int64 = .max
        @Option(help: "Milliseconds between flushes.") var flushMs = 1000
        @Option(help: ArgumentHelp("Folder of the scratch ledger (soak.sqlite; a temporary folder by default).", valueName: "DIR"))
        var ledger: String?

        func run() throws {
            try reportingFailures {
                guard threads >= 1, seconds > 0, flushMs >= 1 else { throw CommandFailure("--threads, --seconds and --flush-ms must be positive") }
                let folder = ledger ?? NSTemporaryDirectory() + "carrier-billing-soak-\(UUID().uuidString)"
                let result: BillingSoak.Result
                do {
                    try DataDirectory.create(folder)
                    let scratch = try BillingLedger(path: "\(folder)/soak.sqlite")
                    result = try BillingSoak.run(ledger: scratch, threads: threads, seconds: seconds, maxReports: reports,
                                                 flushInterval: .milliseconds(flushMs)) { progress in
                        Console.line(#"{"reported":\#(progress.reported),"flushedAtLeast":\#(progress.flushedAtLeast),"flushes":\#(progress.flushes)}"#)
                    }
                } catch { throw CommandFailure("\(error)") }
                if ledger == nil { try? FileManager.default.removeItem(atPath: folder) }
                Console.line(JSONOutput.encoded(result))
            }
        }
    }
}
