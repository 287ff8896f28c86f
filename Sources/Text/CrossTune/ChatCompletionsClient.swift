import Core
import Foundation

/// Something that writes new labelled examples for data augmentation.
public protocol TextGenerator: AnyObject {
    /// Identifies the generator in logs and results (`http://…` or `offline-eda`).
    var generatorID: String { get }
    /// Requests made to a remote model so far (0 for offline generators).
    var apiCalls: Int { get }
    /// Up to `count` new texts of class `label` (described by `description`), written after the
    /// class's few-shot `examples`; none repeats an example. `seed` makes the choice repeatable.
    func generate(label: String, description: String, examples: [String], count: Int, seed: UInt64) throws -> [String]
}

/// Settings of the chat-completions client.
public struct ChatGeneratorOptions: Sendable, Equatable {
    /// The `model` field of the request (llama.cpp's server ignores it; hosted APIs need it).
    public var model = "default"
    /// Sent as `Authorization: Bearer …` when set.
    public var apiKey: String?
    public var temperature = 0.9
    public var maxTokens = 512
    /// Seconds to wait for a connection and for each read (generation is slow).
    public var timeout: Double = 120
    /// Attempts per request on connection errors, timeouts, 429 and 5xx.
    public var maxAttempts = 4
    /// First back-off delay; it doubles after each failed attempt.
    public var initialBackoff: Double = 0.5
    /// Rounds of requests per class before giving up on reaching `count` new texts.
    public var maxRounds = 3
    public init() {}
}

/// A client of the OpenAI-compatible `POST /v1/chat/completions` API (what llama.cpp's server,
/// vLLM, Ollama and hosted services speak), prompted with a class's few-shot examples as
/// demonstrations and asked for new examples of the same class, one per line.
///
/// ```swift
/// let g = try ChatCompletionsClient(url: "http://127.0.0.1:8081/v1")
/// let more = try g.generate(label: "food", description: "foods and drinks", examples: shots, count: 8, seed: 1)
/// ```
public final class ChatCompletionsClient: TextGenerator {
    public let endpoint: HTTPEndpoint
    public let options: ChatGeneratorOptions
    public var generatorID: String { endpoint.description }
    public private(set) var apiCalls = 0
    public private(set) var retries = 0
    /// The request path below the endpoint: the base URL may or may not end in `/v1`.
    public let path: String
    private let http: HTTPClient
    /// Sleeps between attempts (replaceable in tests).
    var sleep: (Double) -> Void = { Thread.sleep(forTimeInterval: $0) }

    public init(url: String, options: ChatGeneratorOptions = ChatGeneratorOptions()) throws {
        guard options.maxAttempts >= 1, options.timeout > 0, options.maxTokens >= 1, options.maxRounds >= 1 else {
            throw CrossTuneError("generator client: attempts, timeout, max tokens and rounds must be positive")
        }
        endpoint = try HTTPEndpoint(url)
        self.options = options
        path = endpoint.basePath.hasSuffix("/v1") ? "/chat/completions" : "/v1/chat/completions"
        http = HTTPClient(timeout: options.timeout)
    }

    /// The two chat messages that ask for `count` new examples of one class.
    public static func prompt(label: String, description: String, examples: [String], count: Int) -> [(role: String, content: String)] {
        let system = "You write training data for a text classifier. Answer with the requested texts only, one per line, "
            + "without numbering, quotes or commentary."
        var user = "Class: \(label)" + (description == label ? "" : " (\(description))") + "\nExamples of this class:\n"
        for e in examples { user += "- \(e.split(whereSeparator: \.isNewline).joined(separator: " "))\n" }
        user += "Write \(count) new, different texts of the same class and in the same style, one per line."
        return [("system", system), ("user", user)]
    }

    /// The request body (`seed` is honoured by llama.cpp, vLLM and OpenAI).
    public func requestBody(_ messages: [(role: String, content: String)], seed: UInt64) -> [UInt8] {
        let msgs = messages.map { "{\"role\":\(TEIJSON.quoted($0.role)),\"content\":\(TEIJSON.quoted($0.content))}" }
        let s = "{\"model\":\(TEIJSON.quoted(options.model)),\"messages\":[\(msgs.joined(separator: ","))],"
            + "\"temperature\":\(options.temperature),\"max_tokens\":\(options.maxTokens),\"seed\":\(seed % (1 << 31)),\"n\":1,\"stream\":false}"
        return Array(s.utf8)
    }

    /// One completion (the first choice's message content), with retries.
    public func complete(_ messages: [(role: String, content: String)], seed: UInt64) throws -> String {
        let body = requestBody(messages, seed: seed)
        var headers = [("Content-Type", "application/json")]
        if let key = options.apiKey { headers.append(("Authorization", "Bearer \(key)")) }
        let url = endpoint.description + path
        var delay = options.initialBackoff
        var lastProblem = ""
        for attempt in 1...options.maxAttempts {
            if attempt > 1 {
                retries += 1
                sleep(delay)
                delay *= 2
            }
            apiCalls += 1
            let response: HTTPResponse
            do {
                response = try http.send(method: "POST", endpoint: endpoint, path: path, body: body, headers: headers)
            } catch {
                if error.kind == .badURL || error.kind == .tooLarge { throw error }
                lastProblem = error.message
                continue
            }
            if response.status == 200 { return try Self.content(of: response, url: url) }
            lastProblem = "HTTP \(response.status): \(Self.errorDetail(response))"
            if response.status != 429 && response.status < 500 {
                throw CrossTuneError("generator \(url): \(lastProblem); the request was refused, so it is not retried (check --generator-model and the key)")
            }
        }
        throw CrossTuneError("generator \(url): failed after \(options.maxAttempts) attempts; last: \(lastProblem). Start the server or drop --generator to use the offline generator")
    }

    public func generate(label: String, description: String, examples: [String], count: Int, seed: UInt64) throws -> [String] {
        guard count > 0 else { return [] }
        var seen = Set(examples.map(Self.normalised))
        var out: [String] = []
        for round in 0..<options.maxRounds where out.count < count {
            let reply = try complete(Self.prompt(label: label, description: description, examples: examples, count: count - out.count),
                                     seed: seed &+ UInt64(round))
            for text in Self.lines(reply) where out.count < count && seen.insert(Self.normalised(text)).inserted {
                out.append(text)
            }
        }
        return out
    }

    /// The texts of a reply: one per non-empty line, with list markers ("1.", "2)", "-", "*",
    /// "•") and surrounding quotes removed, since models add them despite being asked not to.
    public static func lines(_ reply: String) -> [String] {
        reply.split(whereSeparator: \.isNewline).compactMap { raw in
            var s = Substring(raw.trimmingCharacters(in: .whitespaces))
            let digits = s.prefix(while: \.isNumber)
            if !digits.isEmpty, digits.count <= 3, let next = s.dropFirst(digits.count).first, next == "." || next == ")" {
                s = s.dropFirst(digits.count + 1)
            } else if let first = s.first, "-*•".contains(first) {
                s = s.dropFirst()
            }
            var t = s.trimmingCharacters(in: .whitespaces)
            if t.count >= 2, let f = t.first, let l = t.last, (f == "\"" && l == "\"") || (f == "“" && l == "”") {
                t = String(t.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
            }
            return t.isEmpty ? nil : t
        }
    }

    static func normalised(_ s: String) -> String {
        s.lowercased().split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    /// `choices[0].message.content`, or an error naming what is missing.
    static func content(of response: HTTPResponse, url: String) throws -> String {
        let cfg: JSONConfig
        do { cfg = try JSONConfig(parsing: response.bodyText, file: url) } catch {
            throw CrossTuneError("generator \(url): the answer is not JSON (\(error)); is this an OpenAI-compatible server?")
        }
        guard case .array(let choices)? = cfg.value("choices"), case .object(let first)? = choices.first,
              case .object(let message)? = first["message"], case .string(let content)? = message["content"] else {
            throw CrossTuneError("generator \(url): the answer has no choices[0].message.content string; is this an OpenAI-compatible chat-completions server?")
        }
        return content
    }

    /// OpenAI's `{"error": {"message": …}}` or TEI-style `{"error": "…"}`, else the body's start.
    static func errorDetail(_ r: HTTPResponse) -> String {
        if let cfg = try? JSONConfig(parsing: r.bodyText, file: "response") {
            if case .object(let e)? = cfg.value("error"), case .string(let m)? = e["message"] { return m }
            if case .string(let m)? = cfg.value("error") { return m }
        }
        return String(r.bodyText.prefix(200))
    }
}
