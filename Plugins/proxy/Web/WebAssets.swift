import CarrierHTTP

/// The browser light node (`GET /v1/client.js`, Web/client.js) and the demo page (`GET /` from a
/// browser, Web/index.html), compiled into the library from those files. `/` answers HTML only to
/// a client that asks for it (`Accept: text/html`): OpenDHT's clients read node info there.
enum WebAssets {
    static let clientScript = String(decoding: PackageResources.client_js, as: UTF8.self)
    static let demoPage = String(decoding: PackageResources.index_html, as: UTF8.self)

    /// The asset `request` asks for (a method other than GET on the script: 405), or nil.
    static func answer(for request: HTTPRequest) -> HTTPAnswer? {
        guard request.method == .GET else {
            return request.path == "/v1/client.js" ? ProxyRoutes.methodNotAllowed(request, allowed: [.GET]) : nil
        }
        switch request.path {
        case "/v1/client.js": return HTTPAnswer(status: .ok, body: clientScript, contentType: "text/javascript; charset=utf-8")
        case "/" where request.accept.contains("text/html"): return HTTPAnswer(status: .ok, body: demoPage, contentType: "text/html; charset=utf-8")
        default: return nil
        }
    }
}
