import Foundation

/// Where an HTTP service lives: `http://host[:port][/base]`. Only plain HTTP is spoken; put a
/// TLS-terminating proxy in front of an `https://` service.
public struct HTTPEndpoint: Sendable, Equatable, CustomStringConvertible {
    public let host: String
    public let port: Int
    /// Path prefix without a trailing slash ("" or "/v1").
    public let basePath: String

    /// Parses `url`; errors say what form is expected.
    public init(_ url: String) throws(HTTPError) {
        var rest = Substring(url.trimmingCharacters(in: .whitespaces))
        if rest.hasPrefix("https://") {
            throw HTTPError(.badURL, "\(url): https is not supported by the built-in client; run a local TLS proxy and pass its http:// URL")
        }
        guard rest.hasPrefix("http://") else {
            throw HTTPError(.badURL, "\(url): expected an endpoint like http://127.0.0.1:8080 (or 'local' for the in-process encoder)")
        }
        rest = rest.dropFirst("http://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        var path = String(rest[slash...])
        while path.hasSuffix("/") { path.removeLast() }
        var host = String(authority), port = 80
        if authority.hasPrefix("[") {  // [::1]:8080
            guard let close = authority.firstIndex(of: "]") else { throw HTTPError(.badURL, "\(url): unclosed [ in the IPv6 host") }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()) else { throw HTTPError(.badURL, "\(url): port is not a number") }
                port = p
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            guard let p = Int(authority[authority.index(after: colon)...]) else { throw HTTPError(.badURL, "\(url): port is not a number") }
            port = p
        }
        guard !host.isEmpty, (1...65535).contains(port) else { throw HTTPError(.badURL, "\(url): missing host or port outside 1…65535") }
        self.host = host
        self.port = port
        basePath = path
    }

    public var description: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "http://\(h):\(port)\(basePath)"
    }
}

/// A minimal blocking HTTP/1.1 client: one connection per request (`Connection: close`), a
/// timeout on connecting and on every read, and response size limits.
///
/// ```swift
/// let client = HTTPClient(timeout: 30)
/// let response = try client.send(method: "POST", endpoint: e, path: "/embed", body: bytes)
/// ```
public struct HTTPClient: Sendable {
    public var timeout: Double
    public var limits: HTTPLimits

    public init(timeout: Double = 30, limits: HTTPLimits = HTTPLimits(maxHeaderBytes: 64 * 1024, maxBodyBytes: 512 * 1024 * 1024)) {
        self.timeout = timeout
        self.limits = limits
    }

    /// Sends one request and reads the whole response.
    public func send(method: String, endpoint: HTTPEndpoint, path: String, body: [UInt8] = [],
                     headers: [(String, String)] = [("Content-Type", "application/json")]) throws(HTTPError) -> HTTPResponse {
        let socket = try HTTPSocket.connect(host: endpoint.host, port: endpoint.port, timeout: timeout)
        defer { socket.close() }
        let hostHeader = endpoint.host.contains(":") ? "[\(endpoint.host)]:\(endpoint.port)" : "\(endpoint.host):\(endpoint.port)"
        var head = "\(method) \(endpoint.basePath)\(path) HTTP/1.1\r\nHost: \(hostHeader)\r\nConnection: close\r\n"
        head += "Accept: application/json\r\nUser-Agent: PEFTKit-crosstune\r\n"
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        head += "Content-Length: \(body.count)\r\n\r\n"
        try socket.send(Array(head.utf8) + body)
        var buffer: [UInt8] = []
        let started = Date()
        var closed = false
        while true {
            if let (response, _) = try HTTPParser.response(buffer, closed: closed, limits: limits) { return response }
            if closed {
                throw HTTPError(.network, "\(endpoint): connection closed after \(buffer.count) bytes, before a complete response")
            }
            // SO_RCVTIMEO bounds each read; this bounds a server that trickles bytes forever.
            if Date().timeIntervalSince(started) > timeout * 4 {
                throw HTTPError(.timeout, "\(endpoint): response still incomplete after \(Int(timeout * 4)) s")
            }
            closed = try !socket.receive(into: &buffer)
        }
    }
}
