import Core
import Foundation
import Testing
import TestSupport
@testable import Text

/// The HTTP/1.1 parser on hand-written messages (RFC 9112 framing).
@Suite struct CrossTuneHTTPParserTests {
    @Test func parsesARequestOnlyWhenComplete() throws {
        let full = Array("POST /embed_all?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello".utf8)
        #expect(try HTTPParser.request(Array(full.prefix(20))) == nil)
        #expect(try HTTPParser.request(Array(full.dropLast())) == nil)
        let (r, used) = try #require(try HTTPParser.request(full + Array("GET".utf8)))
        #expect(r.method == "POST" && r.path == "/embed_all" && r.body == Array("hello".utf8) && r.headers["host"] == "a")
        #expect(used == full.count)
    }

    @Test func decodesChunkedBodies() throws {
        // "Wiki" + "pedia" in two chunks, then the last chunk and an empty trailer.
        let msg = Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n".utf8)
        let (r, _) = try #require(try HTTPParser.response(msg, closed: false, limits: HTTPLimits()))
        #expect(r.status == 200 && r.bodyText == "Wikipedia")
        #expect(try HTTPParser.response(Array(msg.dropLast(2)), closed: false, limits: HTTPLimits()) == nil)
    }

    @Test func refusesBadOrOversizedRequests() {
        func kind(_ s: String, _ limits: HTTPLimits = HTTPLimits()) -> HTTPError.Kind? {
            do { _ = try HTTPParser.request(Array(s.utf8), limits: limits); return nil } catch { return error.kind }
        }
        // A lying Content-Length is refused before any body byte arrives (no allocation).
        #expect(kind("POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n") == .tooLarge)
        #expect(kind("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n") == .malformed)
        #expect(kind("POST / HTTP/1.1\r\nContent-Length: -3\r\n\r\n") == .malformed)
        #expect(kind("hello there\r\n\r\n") == .malformed)
        #expect(kind("GET / HTTP/2.0\r\n\r\n") == .malformed)
        #expect(kind("GET / HTTP/1.1\r\nno colon here\r\n\r\n") == .malformed)
        #expect(kind("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 200), HTTPLimits(maxHeaderBytes: 64)) == .tooLarge)
    }

    @Test func parsesEndpoints() throws {
        let e = try HTTPEndpoint("http://127.0.0.1:8080/v1/")
        #expect(e.host == "127.0.0.1" && e.port == 8080 && e.basePath == "/v1")
        #expect(try HTTPEndpoint("http://[::1]:9/").host == "::1")
        #expect(throws: HTTPError.self) { try HTTPEndpoint("https://api.example.com") }
        #expect(throws: HTTPError.self) { try HTTPEndpoint("127.0.0.1:8080") }
    }

    @Test func embeddingJSONRoundTripsFloatsBitExactly() throws {
        var rng = SplitMix64(seed: 3)
        let values = (0..<64).map { _ in rng.nextNormal() * 3 } + [1e-30, -7.0e20, 0.1, Float.leastNormalMagnitude]
        let f = TokenFeatures(tokens: values.count / 4, dim: 4, values: values)
        let text = TEIJSON.tokenMatrices([f, f])
        let parsed = try TEIJSON.parseNested(Array(text.utf8), depth: 3, what: "t")
        #expect(parsed.width == 4 && parsed.items.count == 2)
        #expect(parsed.items[1].values.map(\.bitPattern) == values.map(\.bitPattern))
        #expect(throws: IOError.self) { try TEIJSON.parseNested(Array("[[[1,2],[3]]]".utf8), depth: 3, what: "t") }
        #expect(throws: IOError.self) { try TEIJSON.parseNested(Array("{\"error\":1}".utf8), depth: 2, what: "t") }
    }
}

/// Real HTTP on loopback: the TEI server around the real all-MiniLM-L6-v2, the client, the cache.
@Suite(.serialized) struct CrossTuneServerTests {
    nonisolated(unsafe) static var shared: LocalTextEncoder?
    static func encoder() throws -> LocalTextEncoder {
        if let e = shared { return e }
        let e = try LocalTextEncoder(folder: try Fixtures.miniLMFolder())
        shared = e
        return e
    }

    static let texts = ["A small domesticated carnivorous mammal with soft fur.",
                        "the act of moving something from one place to another",
                        "Café crème — naïve ünïcode and \"quotes\"\tand a tab",
                        String(repeating: "long text keeps going ", count: 200)]

    @Test func httpAndLocalGiveIdenticalFeatures() throws {
        let encoder = try Self.encoder()
        let server = try TEIServer(encoder: encoder, port: 0, maxClientBatchSize: 8)
        server.start()
        defer { server.stop() }
        #expect(server.server.port > 0)
        let client = try TEIClient(url: server.url)
        #expect(client.modelID == encoder.modelID)
        for kind in FeatureKind.allCases {
            let remote = try client.features(Self.texts, kind: kind)
            let local = try encoder.features(Self.texts, kind: kind)
            #expect(remote == local, "\(kind): HTTP and local features differ")
        }
        // The long text is truncated to the model's 512 positions, ending in [SEP] as TEI does.
        let long = try encoder.features([Self.texts[3]], kind: .tokens)[0]
        #expect(long.tokens == encoder.maxLength)
        #expect(client.apiCalls == 2)
    }

    @Test func teiErrorsAreClearAndNotRetried() throws {
        let server = try TEIServer(encoder: try Self.encoder(), port: 0, maxClientBatchSize: 2)
        server.start()
        defer { server.stop() }
        var options = TEIClientOptions()
        options.batchSize = 3
        let client = try TEIClient(url: server.url, options: options)
        let error = #expect(throws: CrossTuneError.self) { try client.features(["a", "b", "c"], kind: .pooled) }
        #expect(error?.message.contains("413") == true && error?.message.contains("batch size 3") == true)
        #expect(client.apiCalls == 1)
        // A raw malformed request gets 400 with a TEI error body; unknown routes 404.
        let http = HTTPClient(timeout: 5)
        let e = try HTTPEndpoint(server.url)
        #expect(try http.send(method: "POST", endpoint: e, path: "/embed", body: Array("{\"inputs\": 3}".utf8)).status == 422)
        #expect(try http.send(method: "POST", endpoint: e, path: "/embed", body: Array("not json".utf8)).status == 422)
        #expect(try http.send(method: "GET", endpoint: e, path: "/nope").status == 404)
        #expect(try http.send(method: "GET", endpoint: e, path: "/embed").status == 405)
    }

    @Test func retriesServerErrorsWithBackoffThenSucceeds() throws {
        // A fake TEI that fails twice with 503, then answers a fixed 2-wide vector per input.
        let calls = Counter()
        let server = try HTTPServer(port: 0) { request in
            if calls.increment() <= 2 { return HTTPServer.errorResponse(503, "busy") }
            // Anything but the pooled route with normalize=true is refused (and would not be retried).
            guard request.path == "/embed", String(decoding: request.body, as: UTF8.self).contains("\"normalize\":true") else {
                return HTTPServer.errorResponse(400, "unexpected request")
            }
            return .json(200, "[[0.5,-1.25]]")
        }
        server.start()
        defer { server.stop() }
        let client = try TEIClient(url: server.url, modelID: "fake")
        var delays: [Double] = []
        client.sleep = { delays.append($0) }
        let f = try client.features(["x"], kind: .pooled)
        #expect(f == [TokenFeatures(tokens: 1, dim: 2, values: [0.5, -1.25])])
        #expect(delays == [0.5, 1.0] && client.retries == 2 && client.apiCalls == 3)
    }

    /// LeakSanitizer (fifth session) reported every test server as leaked: the server kept its
    /// accept thread, whose closure kept the server. Once stopped and out of scope it must be freed
    /// (the thread lets go of it a moment after `stop()` returns, so wait up to 2 s).
    @Test func stoppedServerIsFreed() throws {
        weak var seen: HTTPServer?
        try {
            let server = try HTTPServer(port: 0) { _ in .json(200, "{}") }
            server.start()
            seen = server
            server.stop()
        }()
        let deadline = Date().addingTimeInterval(2)
        while seen != nil && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        #expect(seen == nil, "the stopped server outlived its last owner")
    }

    @Test func wrongShapeAndDownEndpointAreErrors() throws {
        let server = try HTTPServer(port: 0) { _ in .json(200, "[[1,2],[3,4]]") }
        server.start()
        let client = try TEIClient(url: server.url, modelID: "fake")
        let e = #expect(throws: CrossTuneError.self) { try client.features(["only one"], kind: .pooled) }
        #expect(e?.message.contains("2 embeddings for 1 inputs") == true)
        #expect(throws: IOError.self) { try client.features(["x"], kind: .tokens) }  // depth 2 where 3 is due
        let url = server.url
        server.stop()
        // Nothing listens on the port any more: every attempt is refused, then one clear error.
        let down = try TEIClient(url: url, modelID: "fake")
        down.sleep = { _ in }
        let d = #expect(throws: CrossTuneError.self) { try down.features(["x"], kind: .pooled) }
        #expect(d?.message.contains(url.replacingOccurrences(of: "http://", with: "")) == true)
        #expect(d?.message.contains("4 attempts") == true && down.apiCalls == 4)
    }

    @Test func cacheSendsEachTextOnceAndSurvivesDamage() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("crosstune-cache-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        defer { try? FileManager.default.removeItem(at: dir) }
        let encoder = try Self.encoder()
        let before = encoder.apiCalls
        let first = CachedFeatureSource(encoder, directory: dir)
        let a = try first.features(["one text", "two text", "one text"], kind: .tokens)
        #expect(encoder.apiCalls == before + 1 && first.misses == 2)
        let second = CachedFeatureSource(encoder, directory: dir)
        let b = try second.features(["two text", "one text"], kind: .tokens)
        #expect(encoder.apiCalls == before + 1 && second.hits == 2 && b == [a[1], a[0]])
        // A damaged entry is a miss and is rewritten, never wrong features.
        let url = try #require(second.entryURL(second.cacheKey("one text", kind: .tokens)))
        try Data([1, 2, 3]).write(to: url)
        let third = CachedFeatureSource(encoder, directory: dir)
        #expect(try third.features(["one text"], kind: .tokens) == [a[0]])
        #expect(third.misses == 1 && encoder.apiCalls == before + 2)
    }
}

/// A thread-safe request counter for fake servers.
final class Counter: @unchecked Sendable {
    private var n = 0
    private let lock = NSLock()
    func increment() -> Int { lock.lock(); defer { lock.unlock() }; n += 1; return n }
}
