import CarrierCore
import CarrierPluginABI
import Foundation
import Synchronization

/// A plugin's shared library, loaded once per process and never unloaded (Swift and Go runtimes
/// cannot be unloaded safely, so the handle is opened with `RTLD_NODELETE` and never closed).
///
/// Loading checks, in order, and stops at the first failure with a precise `PluginLoadError`: the
/// file exists, its SHA-256 is the one the manifest pins, `dlopen` succeeds, the entry symbol of
/// major 1 exists, the entry returns a table, the table is large enough for ABI 1.0, says major 1,
/// has every function, and reports the manifest's id.
public final class PluginLibrary: @unchecked Sendable {
    // @unchecked: `table` is the host's own copy of the plugin's table, immutable and never freed.

    /// The smallest plugin table of ABI 1.0: up to and including `health`.
    static let minimumTableSize = MemoryLayout<carrier_plugin_v1>.offset(of: \carrier_plugin_v1.health)! + MemoryLayout<UnsafeRawPointer>.size

    /// The plugin table of ABI 1.1, up to and including `settle`.
    static let settleTableSize = MemoryLayout<carrier_plugin_v1>.offset(of: \carrier_plugin_v1.settle)! + MemoryLayout<UnsafeRawPointer>.size

    public let path: String
    public let sha256: String
    /// The `dlopen` handle (never closed).
    let handle: UnsafeMutableRawPointer
    /// The plugin's table as the host reads it: the first `min(struct_size, sizeof)` bytes of the
    /// library's table in a zeroed struct, so the fields of a later minor than the plugin's are
    /// NULL (never bytes read past the end of its table).
    let table: UnsafePointer<carrier_plugin_v1>

    /// The plugin's own id, version, description and capability bits.
    public var id: String { String(cString: table.pointee.id) }
    public var version: String { table.pointee.version.map { String(cString: $0) } ?? "" }
    public var summary: String { table.pointee.description.map { String(cString: $0) } ?? "" }
    public var capabilities: UInt64 { table.pointee.capabilities }
    public var abiVersion: (major: Int, minor: Int) { (Int(table.pointee.abi_version >> 16), Int(table.pointee.abi_version & 0xFFFF)) }

    /// What each path gave when it was opened: a library, or why it was refused. Either way the
    /// image stays loaded (RTLD_NODELETE), so the answer for the same file never changes.
    private enum Outcome {
        case loaded(PluginLibrary)
        case refused(sha256: String, PluginLoadError)
    }

    private static let opened = Mutex<[String: Outcome]>([:])

    private init(path: String, sha256: String, handle: UnsafeMutableRawPointer, table: UnsafePointer<carrier_plugin_v1>) {
        self.path = path
        self.sha256 = sha256
        self.handle = handle
        self.table = table
    }

    /// The SHA-256 of the file at `path` in lowercase hex, or nil if it cannot be read.
    public static func sha256(ofFile path: String) -> String? {
        Sodium.sha256(ofFile: path).map(Hex.encode)
    }

    /// Loads the library of `manifest` (or returns the one already loaded from the same path with
    /// the same hash). `requirePin` false skips the pin (for `carrier plugins check`).
    public static func load(_ manifest: PluginManifest, requirePin: Bool = true) throws(PluginLoadError) -> PluginLibrary {
        let library = try load(path: manifest.library, expectedSHA256: requirePin ? .some(manifest.sha256) : nil, manifestFile: manifest.file)
        guard library.id == manifest.id else { throw .idMismatch(manifest: manifest.id, library: library.id) }
        return library
    }

    /// Checks what the host can check of `manifest`'s library without loading it: the file exists
    /// and has the SHA-256 the manifest pins (the first two checks of `load`). For a plugin whose
    /// library only its plugin runner may load (`isolation = "process"`).
    public static func checkPinnedFile(_ manifest: PluginManifest) throws(PluginLoadError) {
        _ = try checkedSHA256(path: manifest.library, expectedSHA256: .some(manifest.sha256), manifestFile: manifest.file)
    }

    /// The SHA-256 of the file at `path`, once it is known to exist and, unless `expectedSHA256` is
    /// nil, to be the pinned one (`.some(nil)`: the manifest has no pin, which is refused).
    private static func checkedSHA256(path: String, expectedSHA256: String??, manifestFile: String) throws(PluginLoadError) -> String {
        guard FileManager.default.fileExists(atPath: path) else { throw .libraryMissing(path: path) }
        guard let actual = sha256(ofFile: path) else { throw .cannotOpen(path: path, reason: "cannot read the file") }
        if let expectedSHA256 {
            guard let expected = expectedSHA256 else { throw .notPinned(manifest: manifestFile) }
            guard expected == actual else { throw .hashMismatch(path: path, expected: expected, actual: actual) }
        }
        return actual
    }

    /// Loads the library at `path` without a manifest (no pin, no id check): `carrier plugins check`.
    /// A relative `path` is taken from the current folder, as a manifest's is from the manifest's
    /// folder; `dlopen` never searches the loader path for it.
    public static func load(path: String) throws(PluginLoadError) -> PluginLibrary {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        return try load(path: absolute, expectedSHA256: nil, manifestFile: absolute)
    }

    /// CARRIER_CAPABILITY_SERVICE and CARRIER_CAPABILITY_SETTLEMENT (function-like macros do not
    /// reach Swift).
    static let serviceCapability = UInt64(1) << 0
    static let settlementCapability = UInt64(1) << 1

    /// Whether the plugin is a settlement backend (its table then has `settle`).
    public var isSettlementBackend: Bool { capabilities & Self.settlementCapability != 0 }

    /// Names of the capability bits set.
    public var capabilityNames: [String] {
        [(Self.serviceCapability, "service"), (Self.settlementCapability, "settlement")].filter { capabilities & $0.0 != 0 }.map(\.1)
    }

    /// Loads the library at `path`. `expectedSHA256` nil skips the hash check; `.some(nil)` means the
    /// manifest has no pin, which is refused.
    static func load(path: String, expectedSHA256: String??, manifestFile: String) throws(PluginLoadError) -> PluginLibrary {
        let actual = try checkedSHA256(path: path, expectedSHA256: expectedSHA256, manifestFile: manifestFile)
        return try opened.withLock { (opened) throws(PluginLoadError) -> PluginLibrary in
            // dlopen would hand back the image already loaded from this path: the old code.
            switch opened[path] {
            case .loaded(let library)?:
                guard library.sha256 == actual else { throw .changedOnDisk(path: path) }
                return library
            case .refused(let sha256, let error)?:
                guard sha256 == actual else { throw .changedOnDisk(path: path) }
                throw error
            case nil:
                break
            }
            guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) else {
                throw .cannotOpen(path: path, reason: dlerror().map { String(cString: $0) } ?? "dlopen failed")
            }
            // The same file reached by another path is the same image: its entry ran already.
            for case .loaded(let existing) in opened.values where existing.handle == handle {
                guard existing.sha256 == actual else { throw .changedOnDisk(path: path) }
                opened[path] = .loaded(existing)
                return existing
            }
            do throws(PluginLoadError) {
                let library = try open(handle: handle, path: path, sha256: actual)
                opened[path] = .loaded(library)
                return library
            } catch {
                // The entry ran (or the symbol is missing): do not call it again for this file.
                opened[path] = .refused(sha256: actual, error)
                throw error
            }
        }
    }

    /// Calls the entry of a freshly opened image and checks its table.
    private static func open(handle: UnsafeMutableRawPointer, path: String, sha256: String) throws(PluginLoadError) -> PluginLibrary {
        guard let symbol = dlsym(handle, "carrier_plugin_entry_v1") else {
            let other = (2...9).first { dlsym(handle, "carrier_plugin_entry_v\($0)") != nil }
            throw .entrySymbolMissing(path: path, otherMajor: other)
        }
        let entry = unsafeBitCast(symbol, to: carrier_plugin_entry_v1_fn.self)
        guard let original = entry(HostAPI.table) else { throw .entryReturnedNull(path: path) }
        // struct_size is the first field of every minor's table.
        let size = Int(UnsafeRawPointer(original).load(as: UInt32.self))
        guard size >= minimumTableSize else { throw .tableTooSmall(path: path, size: size, required: minimumTableSize) }
        let table = copy(original, size: size)
        let major = Int(table.pointee.abi_version >> 16)
        guard major == 1 else { throw .wrongABIMajor(path: path, found: major) }
        let plugin = table.pointee
        for (name, present) in [("id", plugin.id != nil), ("create", plugin.create != nil), ("start", plugin.start != nil),
                                ("stop", plugin.stop != nil), ("destroy", plugin.destroy != nil), ("health", plugin.health != nil)] where !present {
            throw .missingFunction(path: path, name: name)
        }
        if plugin.capabilities & settlementCapability != 0 {
            guard size >= settleTableSize, plugin.settle != nil else { throw .missingFunction(path: path, name: "settle (it has the settlement capability)") }
        }
        return PluginLibrary(path: path, sha256: sha256, handle: handle, table: table)
    }

    /// The first `min(size, sizeof)` bytes of a plugin's table in a zeroed struct of the host's
    /// size (kept for the process, as the library is).
    static func copy(_ original: UnsafePointer<carrier_plugin_v1>, size: Int) -> UnsafePointer<carrier_plugin_v1> {
        let hostSize = MemoryLayout<carrier_plugin_v1>.size
        let raw = UnsafeMutableRawPointer.allocate(byteCount: hostSize, alignment: MemoryLayout<carrier_plugin_v1>.alignment)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: hostSize)
        raw.copyMemory(from: original, byteCount: min(size, hostSize))
        return UnsafePointer(raw.assumingMemoryBound(to: carrier_plugin_v1.self))
    }
}
