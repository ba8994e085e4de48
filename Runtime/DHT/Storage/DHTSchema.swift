import CarrierCore

/// The DHT store's layout and its versions (`PRAGMA user_version`, see `SQLiteSchema`). Version 1
/// is the layout written before the store carried a version, now stamped.
enum DHTSchema {
    static let schema = SQLiteSchema(name: "DHT store", version: 1, layout: layout, unversioned: layout, migrations: [:])

    private static let layout = """
            CREATE TABLE dht_values (
                id BLOB PRIMARY KEY, public_key BLOB, recipient BLOB, nonce BLOB, seq INTEGER NOT NULL,
                signature BLOB, data BLOB NOT NULL, persistent INTEGER NOT NULL,
                created INTEGER NOT NULL, updated INTEGER NOT NULL, announced INTEGER NOT NULL);
            CREATE INDEX dht_values_updated ON dht_values(updated);
            CREATE TABLE dht_peers (
                id BLOB NOT NULL, fingerprint INTEGER NOT NULL, node_id BLOB, node_signature BLOB,
                seq INTEGER NOT NULL, endpoint TEXT NOT NULL, extra BLOB, signature BLOB NOT NULL,
                persistent INTEGER NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL,
                announced INTEGER NOT NULL, PRIMARY KEY (id, fingerprint));
            CREATE INDEX dht_peers_updated ON dht_peers(updated);
        """
}
