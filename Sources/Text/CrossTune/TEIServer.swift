import Core
import Foundation

/// Serves a `LocalTextEncoder` with the HTTP API of Hugging Face text-embeddings-inference, so
/// the black-box pipeline runs offline and talks real HTTP:
///
/// - `POST /embed_all` `{"inputs": "…" | ["…", …], "truncate": false}` → `[[[f32]]]` (per text,
///   per token including [CLS]/[SEP], the last hidden state);
/// - `POST /embed` `{"inputs": …, "normalize": true, "truncate": false}` → `[[f32]]` (masked
///   mean, L2-normalised unless `normalize` is false… the encoder only offers normalised);
/// - `GET /info` → `{"model_id": …, "max_client_batch_size": …, "max_input_length": …}`;
/// - `GET /health` → 200.
///
/// Errors use TEI's body `{"error": …, "error_type": …}`: 413 for a batch larger than
/// `maxClientBatchSize`, 422 for an empty or malformed request or a too-long text without
/// `truncate`, 404/405 for other routes.
public final class TEIServer: @unchecked Sendable {
    public let server: HTTPServer
    public let encoder: LocalTextEncoder
    public let maxClientBatchSize: Int
    /// Requests answered (any status).
    public private(set) var requests = 0
    private let counter = NSLock()

    /// Binds 127.0.0.1:`port` (0 = ephemeral) around `encoder`; call `start()` or `run()`.
    public init(encoder: LocalTextEncoder, port: Int, maxClientBatchSize: Int = 32) throws {
        self.encoder = encoder
        self.maxClientBatchSize = maxClientBatchSize
        let box = RouterBox()
        server = try HTTPServer(port: port) { request in box.router?.handle(request) ?? HTTPServer.errorResponse(503, "starting") }
        box.router = self
    }

    public var url: String { server.url }
    public func start() { server.start() }
    public func run() { server.run() }
    public func stop() { server.stop() }

    /// Routes one request (also callable without sockets).
    public func handle(_ r: HTTPRequest) -> HTTPResponse {
        counter.lock(); requests += 1; counter.unlock()
        switch (r.method, r.path) {
        case ("GET", "/health"): return HTTPResponse(status: 200)
        case ("GET", "/info"):
            return .json(200, "{\"model_id\":\(TEIJSON.quoted(encoder.modelID)),\"model_type\":{\"embedding\":{\"pooling\":\"mean\"}},"
                         + "\"max_client_batch_size\":\(maxClientBatchSize),\"max_input_length\":\(encoder.maxLength),"
                         + "\"version\":\"peftkit-crosstune\"}")
        case ("POST", "/embed_all"): return embed(r, kind: .tokens)
        case ("POST", "/embed"): return embed(r, kind: .pooled)
        case (_, "/embed_all"), (_, "/embed"), (_, "/info"), (_, "/health"):
            return HTTPServer.errorResponse(405, "method \(r.method) is not allowed on \(r.path)")
        default:
            return HTTPServer.errorResponse(404, "no route \(r.path); this server offers /embed, /embed_all, /info, /health")
        }
    }

    private func embed(_ r: HTTPRequest, kind: FeatureKind) -> HTTPResponse {
        let cfg: JSONConfig
        do {
            cfg = try r.body.withUnsafeBytes { try JSONConfig(parsing: $0, file: "request body") }
        } catch {
            return HTTPServer.errorResponse(422, "\(error)")
        }
        var texts: [String]
        switch cfg.value("inputs") {
        case .string(let s)?: texts = [s]
        case .array(let items)?:
            texts = []
            for (i, item) in items.enumerated() {
                guard case .string(let s) = item else {
                    return HTTPServer.errorResponse(422, "inputs[\(i)] is \(item.kindName); send strings (token ids are not supported)")
                }
                texts.append(s)
            }
        case let other?: return HTTPServer.errorResponse(422, "'inputs' is \(other.kindName); send a string or an array of strings")
        case nil: return HTTPServer.errorResponse(422, "missing 'inputs'")
        }
        guard !texts.isEmpty else { return HTTPServer.errorResponse(422, "batch is empty") }
        guard texts.count <= maxClientBatchSize else {
            return HTTPServer.errorResponse(413, "batch size \(texts.count) > maximum allowed batch size \(maxClientBatchSize)")
        }
        let truncate: Bool
        do {
            truncate = try cfg.bool("truncate", default: false)
            if kind == .pooled, try !cfg.bool("normalize", default: true) {
                return HTTPServer.errorResponse(422, "normalize=false is not offered by this server; the pooled embedding is always L2-normalised")
            }
        } catch {
            return HTTPServer.errorResponse(422, "\(error)")
        }
        do {
            let features = try encoder.features(texts, kind: kind, truncate: truncate)
            if kind == .tokens { return .json(200, TEIJSON.tokenMatrices(features)) }
            return .json(200, TEIJSON.vectors(features.map(\.values)))
        } catch let e as CrossTuneError {
            return HTTPServer.errorResponse(422, e.message)
        } catch {
            return HTTPServer.errorResponse(500, "\(error)")
        }
    }
}

/// Lets the handler closure reach the server object created after it.
private final class RouterBox: @unchecked Sendable {
    weak var router: TEIServer?
}
