import Foundation
import TestSupport
import Text

/// Locations of shared fixtures and the installed MiniLM model for the Text tests.
enum Fixtures {
    /// `TestPaths.fixtures` (`shared/fixtures` beside the package or above it, or `$PEFTKIT_FIXTURES`).
    static let root: String = TestPaths.fixtures.path

    static func path(_ relative: String) -> String { (root as NSString).appendingPathComponent(relative) }

    static func json(_ relative: String) throws -> Any {
        let data = try Data(contentsOf: URL(fileURLWithPath: path(relative)))
        return try JSONSerialization.jsonObject(with: data)
    }

    static func text(_ relative: String) throws -> String {
        try String(contentsOfFile: path(relative), encoding: .utf8)
    }

    /// The MiniLM folder under `TestPaths.models` (`$PEFTKIT_MODELS` or `<package root>/models`);
    /// throws a message saying to run `make models` when it is not installed.
    static func miniLMFolder() throws -> String {
        try DefaultModels.miniLM(packageRoot: TestPaths.packageRoot.path)
    }
}

/// A fixture-tagged string list from JSON (`[Any]` → `[String]`).
func strings(_ any: Any?) -> [String] { (any as? [Any])?.compactMap { $0 as? String } ?? [] }
/// A JSON int list, with JSON null as nil.
func optionalInts(_ any: Any?) -> [Int?] { (any as? [Any])?.map { ($0 as? NSNumber)?.intValue } ?? [] }
func ints(_ any: Any?) -> [Int] { (any as? [Any])?.compactMap { ($0 as? NSNumber)?.intValue } ?? [] }
