import Core
import Foundation

/// Settings of the HTTP client for a text-embeddings-inference (TEI) server.
public struct TEIClientOptions: Sendable, Equatable {
    /// Texts per request (TEI's default `max_client_batch_size` is 32).
    public var batchSize = 32
    /// Seconds to wait for a connection and for each read.
    public var timeout: Double = 60
    /// Attempts per request on connection errors, timeouts, 429 and 5xx (4xx other than 429 is
    /// the caller's mistake and is not retried).
    public var maxAttempts = 4
    /// First back-off delay; it doubles after each failed attempt.
    public var initialBackoff: Double = 0.5
    /// At most this many requests per second (0 = unlimited).
    public var requestsPerSecond: Double = 0
    /// Ask the server to truncate over-long texts (TEI `truncate`).
    public var truncate = true
    public init() {}
}

/// The black box reached over HTTP: TEI's `POST /embed_all` (per-token hidden states) and
/// `POST /embed` (pooled, normalised vectors), with batching, retries with exponential
/// back-off, a timeout and a request-rate limit. Every response is checked: one entry per input,
/// the same width everywhere, finite numbers.
///
/// ```swift
/// let client = try TEIClient(url: "http://127.0.0.1:8080")
/// let feats = try client.features(["a text"], kind: .tokens)   // [TokenFeatures]
/// ```
public final class TEIClient: TextFeatureSource {
    public let endpoint: HTTPEndpoint
    public let options: TEIClientOptions
    public let modelID: String
    public var endpointID: String { endpoint.description }
    public private(set) var apiCalls = 0
    /// Requests that failed and were retried.
    public private(set) var retries = 0
    private let http: HTTPClient
    private var lastRequest: Date?
    /// Sleeps between attempts and for rate limiting (replaceable in tests).
    var sleep: (Double) -> Void = { Thread.sleep(forTimeInterval: $0) }

    /// Connects to `url`. The model id comes from `GET /info` unless given; a server without
    /// `/info` is accepted and named by its URL.
    public init(url: String, options: TEIClientOptions = TEIClientOptions(), modelID: String? = nil) throws {
        guard options.batchSize >= 1, options.maxAttempts >= 1, options.timeout > 0 else {
            throw CrossTuneError("TEI client: batch size, attempts and timeout must be positive")
        }
        endpoint = try HTTPEndpoint(url)
        self.options = options
        http = HTTPClient(timeout: options.timeout)
        if let modelID {
            self.modelID = modelID
        } else {
            let info = try? http.send(method: "GET", endpoint: endpoint, path: "/info", headers: [])
            var id = endpoint.description
            if let info, info.status == 200, let cfg = try? JSONConfig(parsing: info.bodyText, file: "\(endpoint)/info"),
               let m = try? cfg.optionalString("model_id") { id = m }
            self.modelID = id
        }
    }

    public func features(_ texts: [String], kind: FeatureKind) throws -> [TokenFeatures] {
        var out: [TokenFeatures] = []
        out.reserveCapacity(texts.count)
        var start = 0
        while start < texts.count {
            let batch = Array(texts[start..<min(start + options.batchSize, texts.count)])
            out += try request(batch, kind: kind)
            start += batch.count
        }
        return out
    }

    /// One batch, with retries.
    func request(_ texts: [String], kind: FeatureKind) throws -> [TokenFeatures] {
        let path = kind == .tokens ? "/embed_all" : "/embed"
        let body = TEIJSON.embedRequest(texts, truncate: options.truncate, normalize: kind == .pooled ? true : nil)
        var delay = options.initialBackoff
        var lastProblem = ""
        for attempt in 1...options.maxAttempts {
            if attempt > 1 {
                retries += 1
                sleep(delay)
                delay *= 2
            }
            throttle()
            apiCalls += 1
            let response: HTTPResponse
            do {
                response = try http.send(method: "POST", endpoint: endpoint, path: path, body: body)
            } catch {
                if error.kind == .badURL || error.kind == .tooLarge { throw error }
                lastProblem = error.message
                continue
            }
            if response.status == 200 { return try decode(response.body, count: texts.count, kind: kind, path: path) }
            let detail = Self.errorDetail(response)
            lastProblem = "HTTP \(response.status)\(detail.isEmpty ? "" : ": " + detail)"
            if response.status != 429 && response.status < 500 {
                throw CrossTuneError("\(endpoint)\(path): \(lastProblem); the request was refused, so it is not retried")
            }
        }
        throw CrossTuneError("\(endpoint)\(path): failed after \(options.maxAttempts) attempts; last: \(lastProblem). Features already fetched stay in the cache; rerun when the endpoint is up")
    }

    /// Waits so that requests are at least `1 / requestsPerSecond` apart.
    private func throttle() {
        guard options.requestsPerSecond > 0 else { return }
        let gap = 1 / options.requestsPerSecond
        if let last = lastRequest {
            let wait = gap - Date().timeIntervalSince(last)
            if wait > 0 { sleep(wait) }
        }
        lastRequest = Date()
    }

    /// TEI's `{"error": …}` message, else the start of the body.
    static func errorDetail(_ r: HTTPResponse) -> String {
        if let cfg = try? JSONConfig(parsing: r.bodyText, file: "response"), let e = try? cfg.optionalString("error") { return e }
        return String(r.bodyText.prefix(200))
    }

    func decode(_ body: [UInt8], count: Int, kind: FeatureKind, path: String) throws -> [TokenFeatures] {
        let what = "\(endpoint)\(path)"
        let parsed = try TEIJSON.parseNested(body, depth: kind == .tokens ? 3 : 2, what: what)
        guard parsed.items.count == count else {
            throw CrossTuneError("\(what): answered \(parsed.items.count) embeddings for \(count) inputs; is this a text-embeddings-inference server?")
        }
        guard parsed.width > 0 else { throw CrossTuneError("\(what): answered empty vectors") }
        return try parsed.items.enumerated().map { (i, item) in
            guard item.rows > 0 else { throw CrossTuneError("\(what): input \(i) came back with no token vectors") }
            return TokenFeatures(tokens: item.rows, dim: parsed.width, values: item.values)
        }
    }
}
