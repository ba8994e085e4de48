import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Talks to a running supernode's admin endpoint (`carrier plugins list`, `reload`).
struct AdminClient {
    let endpoint: String

    /// The body of `method path`; throws a one-line failure when the supernode cannot be reached
    /// or answers with an error.
    func request(_ method: String, _ path: String) async throws -> Data {
        guard let url = URL(string: "http://\(endpoint)\(path)") else { throw CommandFailure("--admin \(endpoint): expected HOST:PORT") }
        var request = URLRequest(url: url, timeoutInterval: 10)
        request.httpMethod = method
        let (data, response): (Data, URLResponse)
        do {
            (data, response) = try await URLSession.shared.data(for: request)
        } catch {
            throw CommandFailure("cannot reach the admin endpoint at \(endpoint) (is `carrier run --manifests` running?): \(error.localizedDescription)")
        }
        guard let status = (response as? HTTPURLResponse)?.statusCode, status == 200 else {
            let message = (try? JSONDecoder().decode([String: String].self, from: data))?["error"] ?? String(decoding: data, as: UTF8.self)
            throw CommandFailure("the supernode refused \(method) \(path): \(message)")
        }
        return data
    }
}
