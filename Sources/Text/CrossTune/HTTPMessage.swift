import Core
import Foundation

/// Why an HTTP exchange failed: a malformed or over-long message, a network error, or a timeout.
/// Messages name the peer or the part of the message that was wrong.
public struct HTTPError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The bytes are not an HTTP/1.1 message (the server answers 400).
        case malformed
        /// A header block or body larger than the configured limit (413 / 431 on the server).
        case tooLarge
        /// Connecting, sending or receiving failed (refused, reset, unknown host).
        case network
        /// No byte arrived within the timeout.
        case timeout
        /// The URL is not one this client speaks (`http://host[:port]/path`).
        case badURL
    }
    public let kind: Kind
    public let message: String
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        // Messages quote bytes from the peer: a CR or LF among them would split the log line
        // (or forge one), so control characters are escaped.
        self.message = oneLineMessage(message)
    }
    public var description: String { message }
}

/// One parsed HTTP/1.1 request. Header names are lower-cased (HTTP names are case-insensitive).
public struct HTTPRequest: Sendable, Equatable {
    public var method: String
    /// The request target without the query string (`/embed_all`).
    public var path: String
    public var headers: [String: String]
    public var body: [UInt8]

    public init(method: String, path: String, headers: [String: String] = [:], body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
    }

    /// Whether the client asked to close the connection after this exchange.
    public var wantsClose: Bool { headers["connection"]?.lowercased() == "close" }
}

/// One HTTP response as the server sends it or the client receives it.
public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON response (`Content-Type: application/json`).
    public static func json(_ status: Int, _ text: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")], body: Array(text.utf8))
    }

    /// The first header called `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.0.lowercased() == lower }?.1
    }

    /// The body as UTF-8 text (invalid bytes replaced), for error messages.
    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    public static func == (a: HTTPResponse, b: HTTPResponse) -> Bool {
        a.status == b.status && a.body == b.body && a.headers.map { $0.0 + ":" + $0.1 } == b.headers.map { $0.0 + ":" + $0.1 }
    }

    /// Wire bytes: status line, the given headers plus `Content-Length` (and `Connection: close`
    /// when `close`), a blank line, the body.
    public func serialized(close: Bool) -> [UInt8] {
        var head = "HTTP/1.1 \(status) \(Self.reason(status))\r\n"
        for (k, v) in headers where k.lowercased() != "content-length" { head += "\(k): \(v)\r\n" }
        head += "Content-Length: \(body.count)\r\n"
        if close { head += "Connection: close\r\n" }
        head += "\r\n"
        return Array(head.utf8) + body
    }

    /// Standard reason phrases for the statuses this package uses.
    public static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 411: "Length Required"
        case 413: "Payload Too Large"
        case 422: "Unprocessable Entity"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        default: "Status \(status)"
        }
    }
}

/// Size limits for parsing messages from the network. A peer that announces more than this is
/// refused before anything is allocated, so a lying `Content-Length` cannot exhaust memory.
public struct HTTPLimits: Sendable, Equatable {
    /// Request line / status line plus headers.
    public var maxHeaderBytes: Int
    public var maxBodyBytes: Int
    public init(maxHeaderBytes: Int = 16 * 1024, maxBodyBytes: Int = 8 * 1024 * 1024) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
    }
}

/// Incremental parser of HTTP/1.1 messages over a byte buffer: call it after each read; it
/// returns nil while the message is incomplete and throws as soon as the bytes cannot become a
/// valid message within the limits. Bodies are framed by `Content-Length` or (responses only
/// need it, requests accept it too) `Transfer-Encoding: chunked`.
public enum HTTPParser {
    /// The header block of a message: first line split in three, headers lower-cased.
    struct Head {
        var first: (String, String, String)
        var headers: [String: String]
        var length: Int  // bytes including the blank line
    }

    static func crlfcrlf(_ b: [UInt8], limit: Int) -> Int? {
        let n = min(b.count, limit + 4)
        guard n >= 4 else { return nil }
        for i in 0...(n - 4) where b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { return i }
        return nil
    }

    static func head(_ b: [UInt8], limits: HTTPLimits, what: String) throws(HTTPError) -> Head? {
        guard let end = crlfcrlf(b, limit: limits.maxHeaderBytes) else {
            if b.count > limits.maxHeaderBytes {
                throw HTTPError(.tooLarge, "\(what): header block longer than \(limits.maxHeaderBytes) bytes")
            }
            return nil
        }
        guard let text = String(bytes: b[0..<end], encoding: .utf8) else {
            throw HTTPError(.malformed, "\(what): header block is not UTF-8 text")
        }
        var lines = text.components(separatedBy: "\r\n")
        let firstLine = lines.removeFirst()
        let parts = firstLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3 || (parts.count == 2 && parts[0].hasPrefix("HTTP/")) else {
            throw HTTPError(.malformed, "\(what): first line '\(firstLine.prefix(80))' is not 'METHOD /path HTTP/1.1' or 'HTTP/1.1 STATUS REASON'")
        }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else {
                throw HTTPError(.malformed, "\(what): header line '\(line.prefix(80))' has no 'Name: value' form")
            }
            let name = line[..<colon].lowercased()
            guard !name.contains(" ") else { throw HTTPError(.malformed, "\(what): header name '\(name.prefix(40))' contains a space") }
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            // A repeated Content-Length with different values is a request-smuggling vector: refuse it.
            if name == "content-length", let old = headers[name], old != value {
                throw HTTPError(.malformed, "\(what): two different Content-Length headers (\(old), \(value))")
            }
            headers[name] = headers[name].map { $0 + ", " + value } ?? value
        }
        return Head(first: (parts[0], parts[1], parts.count > 2 ? parts[2] : ""), headers: headers, length: end + 4)
    }

    /// The body that starts at `start`: nil when more bytes are needed, else the body and the
    /// index just past it. `untilClose` reads everything (a response with no framing).
    static func body(_ b: [UInt8], from start: Int, headers: [String: String], limits: HTTPLimits, what: String,
                     untilClose: Bool, closed: Bool) throws(HTTPError) -> ([UInt8], Int)? {
        if let te = headers["transfer-encoding"] {
            guard te.lowercased() == "chunked" else {
                throw HTTPError(.malformed, "\(what): Transfer-Encoding '\(te)' is not supported (only chunked)")
            }
            return try chunked(b, from: start, limits: limits, what: what)
        }
        if let cl = headers["content-length"] {
            guard let n = Int(cl), n >= 0 else { throw HTTPError(.malformed, "\(what): Content-Length '\(cl.prefix(40))' is not a byte count") }
            guard n <= limits.maxBodyBytes else {
                throw HTTPError(.tooLarge, "\(what): body of \(n) bytes exceeds the limit of \(limits.maxBodyBytes)")
            }
            guard b.count - start >= n else { return nil }
            return (Array(b[start..<(start + n)]), start + n)
        }
        if untilClose {
            guard b.count - start <= limits.maxBodyBytes else {
                throw HTTPError(.tooLarge, "\(what): body exceeds the limit of \(limits.maxBodyBytes) bytes")
            }
            return closed ? (Array(b[start...]), b.count) : nil
        }
        return ([], start)
    }

    /// Decodes a chunked body (`size-hex CRLF data CRLF … 0 CRLF CRLF`), trailers ignored.
    static func chunked(_ b: [UInt8], from start: Int, limits: HTTPLimits, what: String) throws(HTTPError) -> ([UInt8], Int)? {
        var out: [UInt8] = []
        var i = start
        while true {
            var j = i
            while j + 1 < b.count, !(b[j] == 13 && b[j + 1] == 10) {
                j += 1
                if j - i > 64 { throw HTTPError(.malformed, "\(what): chunk size line longer than 64 bytes") }
            }
            guard j + 1 < b.count else { return nil }
            let line = String(decoding: b[i..<j], as: UTF8.self)
            let hex = line.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            guard let size = Int(hex, radix: 16), size >= 0 else {
                throw HTTPError(.malformed, "\(what): chunk size '\(line.prefix(20))' is not hexadecimal")
            }
            guard out.count + size <= limits.maxBodyBytes else {
                throw HTTPError(.tooLarge, "\(what): chunked body exceeds the limit of \(limits.maxBodyBytes) bytes")
            }
            i = j + 2
            if size == 0 {
                // Trailer lines until an empty line.
                while true {
                    var k = i
                    while k + 1 < b.count, !(b[k] == 13 && b[k + 1] == 10) { k += 1 }
                    guard k + 1 < b.count else { return nil }
                    if k == i { return (out, k + 2) }
                    i = k + 2
                }
            }
            guard b.count >= i + size + 2 else { return nil }
            out.append(contentsOf: b[i..<(i + size)])
            guard b[i + size] == 13, b[i + size + 1] == 10 else {
                throw HTTPError(.malformed, "\(what): chunk of \(size) bytes is not followed by CRLF")
            }
            i += size + 2
        }
    }

    /// Parses one request from the front of `bytes`: nil when incomplete, else the request and
    /// how many bytes it used.
    public static func request(_ bytes: [UInt8], limits: HTTPLimits = HTTPLimits()) throws(HTTPError) -> (HTTPRequest, Int)? {
        guard let h = try head(bytes, limits: limits, what: "request") else { return nil }
        let (method, target, version) = h.first
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else {
            throw HTTPError(.malformed, "request: version '\(version.prefix(20))' is not HTTP/1.1 or HTTP/1.0")
        }
        guard method.allSatisfy({ $0.isUppercase }), !method.isEmpty else {
            throw HTTPError(.malformed, "request: method '\(method.prefix(20))' is not an HTTP method")
        }
        guard target.hasPrefix("/") else { throw HTTPError(.malformed, "request: target '\(target.prefix(80))' does not start with /") }
        guard let (body, end) = try Self.body(bytes, from: h.length, headers: h.headers, limits: limits, what: "request",
                                              untilClose: false, closed: false) else { return nil }
        let path = String(target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0])
        return (HTTPRequest(method: method, path: path, headers: h.headers, body: body), end)
    }

    /// Parses one response from the front of `bytes`; `closed` says the peer has closed the
    /// connection (which ends a body with no length).
    public static func response(_ bytes: [UInt8], closed: Bool, limits: HTTPLimits) throws(HTTPError) -> (HTTPResponse, Int)? {
        guard let h = try head(bytes, limits: limits, what: "response") else { return nil }
        guard h.first.0.hasPrefix("HTTP/1."), let status = Int(h.first.1), (100...599).contains(status) else {
            throw HTTPError(.malformed, "response: status line '\(h.first.0) \(h.first.1)' is not 'HTTP/1.x NNN'")
        }
        let noBody = status == 204 || status == 304 || (100...199).contains(status)
        let parsed = noBody ? ([], h.length) : try body(bytes, from: h.length, headers: h.headers, limits: limits,
                                                        what: "response", untilClose: true, closed: closed)
        guard let (body, end) = parsed else { return nil }
        let headers = h.headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        return (HTTPResponse(status: status, headers: headers, body: body), end)
    }
}
