import CarrierCore

/// The DHT store's layout and its versions (`PRAGMA user_version`, see `SQLiteSchema`).
///
/// - Version 1 is the layout written before the store carried a version: one node's items.
/// - Version 2 adds `owner`, the id of the node an item is stored by, to every key, so the nodes
///   of one process (a testnet) can share one file, one writer and one fsync per group of writes.
///   Items migrated from version 1 get an empty owner. A node that opens the file as its own
///   (`DHTStorage(path:owner:)`) claims them; a shared store (`DHTStorage(store:owner:)`, a
///   testnet's) claims nothing, so a version-1 file opened as one keeps them unowned.
enum DHTSchema {
    static let schema = SQLiteSchema(name: "DHT store", version: 2, layout: layout, unversioned: version1, migrations: [1: toVersion2])

    private static let columns = """
        public_key BLOB, recipient BLOB, nonce BLOB, seq INTEGER NOT NULL,
        signature BLOB, data BLOB NOT NULL, persistent INTEGER NOT NULL,
        created INTEGER NOT NULL, updated INTEGER NOT NULL, announced INTEGER NOT NULL
        """
    private static let peerColumns = """
        node_id BLOB, node_signature BLOB,
        seq INTEGER NOT NULL, endpoint TEXT NOT NULL, extra BLOB, signature BLOB NOT NULL,
        persistent INTEGER NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL,
        announced INTEGER NOT NULL
        """

    private static let version1 = """
        CREATE TABLE dht_values (id BLOB PRIMARY KEY, \(columns));
        CREATE INDEX dht_values_updated ON dht_values(updated);
        CREATE TABLE dht_peers (id BLOB NOT NULL, fingerprint INTEGER NOT NULL, \(peerColumns), PRIMARY KEY (id, fingerprint));
        CREATE INDEX dht_peers_updated ON dht_peers(updated);
        """

    private static let layout = """
        CREATE TABLE dht_values (owner BLOB NOT NULL, id BLOB NOT NULL, \(columns), PRIMARY KEY (owner, id));
        CREATE INDEX dht_values_updated ON dht_values(updated);
        CREATE TABLE dht_peers (owner BLOB NOT NULL, id BLOB NOT NULL, fingerprint INTEGER NOT NULL, \(peerColumns),
                                PRIMARY KEY (owner, id, fingerprint));
        CREATE INDEX dht_peers_updated ON dht_peers(updated);
        """

    private static let valueNames = "id, public_key, recipient, nonce, seq, signature, data, persistent, created, updated, announced"
    private static let peerNames = """
        id, fingerprint, node_id, node_signature, seq, endpoint, extra, signature, persistent, created, updated, announced
        """

    /// Rebuilds both tables with an empty owner on every row.
    private static let toVersion2 = """
        DROP INDEX dht_values_updated;
        DROP INDEX dht_peers_updated;
        ALTER TABLE dht_values RENAME TO dht_values_v1;
        ALTER TABLE dht_peers RENAME TO dht_peers_v1;
        \(layout)
        INSERT INTO dht_values (owner, \(valueNames)) SELECT X'', \(valueNames) FROM dht_values_v1;
        INSERT INTO dht_peers (owner, \(peerNames)) SELECT X'', \(peerNames) FROM dht_peers_v1;
        DROP TABLE dht_values_v1;
        DROP TABLE dht_peers_v1;
        """
}
