/// Which modules an adapter attaches to, with Hugging Face `peft`'s matching rules
/// (`check_target_module_exists`), so one `adapter_config.json` selects the same layers here
/// and in Python.
///
/// ```swift
/// let spec = TargetSpec(targets: .names(["query", "value"]), layersToTransform: [0, 1])
/// spec.matches("encoder.layer.1.attention.self.query")   // true
/// ```
public enum TargetModules: Equatable, Sendable, CustomStringConvertible {
    /// A key matches when it equals an entry or ends with `"." + entry` (peft's list form).
    case names([String])
    /// A regular expression that must match the whole key (peft's string form).
    case regex(String)
    /// Every `Linear` except output heads (peft's `"all-linear"` shorthand).
    case allLinear

    public var description: String {
        switch self {
        case let .names(n): return "[" + n.joined(separator: ", ") + "]"
        case let .regex(r): return "regex \(r)"
        case .allLinear: return "all-linear"
        }
    }
}

/// Errors from building or applying a target specification.
public enum TargetingError: Error, CustomStringConvertible, Equatable {
    case invalidRegex(field: String, pattern: String)

    public var description: String {
        switch self {
        case let .invalidRegex(field, pattern):
            return "\(field): '\(clippedForMessage(pattern))' is not a valid regular expression; fix the pattern (it must match whole module keys)"
        }
    }
}

/// `target_modules` + `exclude_modules` + `layers_to_transform` / `layers_pattern`, evaluated
/// exactly as peft does it:
/// - exclusion is checked first and wins (same list/regex rules as targets);
/// - a list target matches a key equal to an entry (no layer filter, as in peft) or ending
///   in `"." + entry` (then the layer filter applies);
/// - a regex target must match the whole key; the layer filter does not apply to it (peft);
/// - the layer index is the first numeric path segment that has at least one segment before
///   it (`encoder.layer.3.…` → 3), or the segment after a `layers_pattern` entry.
public struct TargetSpec: Equatable, Sendable {
    public var targets: TargetModules
    public var exclude: TargetModules?
    /// Layer indices to adapt (nil: all).
    public var layersToTransform: [Int]?
    /// Names of the layer-list segment (`"layer"`, `"layers"`, `"h"`), used to find the index.
    public var layersPattern: [String]?
    /// Heads left out by `.allLinear` (peft excludes the output embedding / classifier head).
    public var allLinearExcludes: [String]

    public init(
        targets: TargetModules, exclude: TargetModules? = nil, layersToTransform: [Int]? = nil,
        layersPattern: [String]? = nil, allLinearExcludes: [String] = ["lm_head", "classifier", "score"]
    ) {
        self.targets = targets
        self.exclude = exclude
        self.layersToTransform = layersToTransform
        self.layersPattern = layersPattern
        self.allLinearExcludes = allLinearExcludes
    }

    /// Checks that the regular expressions compile (called before matching starts so the
    /// error names the config field instead of failing per key).
    public func validate() throws {
        if case let .regex(p) = targets, (try? Regex(p)) == nil {
            throw TargetingError.invalidRegex(field: "target_modules", pattern: p)
        }
        if case let .regex(p)? = exclude, (try? Regex(p)) == nil {
            throw TargetingError.invalidRegex(field: "exclude_modules", pattern: p)
        }
    }

    /// Whether the module at `key` is adapted. `isLinear` is needed for `.allLinear` only.
    public func matches(_ key: String, isLinear: Bool = true) -> Bool {
        if let ex = exclude, TargetSpec.listOrRegexMatches(ex, key) { return false }
        switch targets {
        case let .regex(pattern):
            return TargetSpec.fullMatch(pattern, key)
        case .allLinear:
            guard isLinear else { return false }
            let leaf = key.split(separator: ".").last.map(String.init) ?? key
            return !allLinearExcludes.contains(leaf)
        case let .names(names):
            if names.contains(key) { return true }  // exact: peft skips the layer filter here
            guard names.contains(where: { key.hasSuffix("." + $0) }) else { return false }
            guard let wanted = layersToTransform, !wanted.isEmpty else { return true }
            guard let index = layerIndex(of: key) else { return false }
            return wanted.contains(index)
        }
    }

    /// The numeric layer index peft would read from `key`, or nil.
    public func layerIndex(of key: String) -> Int? {
        let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        // peft: `.*?\.<pattern>\.(\d+)\.`, the lazy prefix taking the first possible match;
        // the index segment must be followed by another segment and preceded by two.
        guard parts.count >= 4 else { return nil }
        let patterns = (layersPattern?.isEmpty ?? true) ? nil : layersPattern
        for j in 1..<(parts.count - 1) {
            guard !parts[j].isEmpty, parts[j].utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let index = Int(parts[j]) else { continue }
            if let patterns {
                // `.*?\.` requires at least one segment before the pattern segment.
                if j >= 2, patterns.contains(parts[j - 1]) { return index }
            } else if j >= 2 {
                return index
            }
        }
        return nil
    }

    /// Whether `m` lists a key (equal or dotted suffix) or fully matches it as a regex.
    static func listOrRegexMatches(_ m: TargetModules, _ key: String) -> Bool {
        switch m {
        case let .names(names): return names.contains(key) || names.contains { key.hasSuffix("." + $0) }
        case let .regex(p): return fullMatch(p, key)
        case .allLinear: return true
        }
    }

    static func fullMatch(_ pattern: String, _ key: String) -> Bool {
        guard let r = try? Regex(pattern) else { return false }
        return key.wholeMatch(of: r) != nil
    }

    /// Entries of a list target that matched none of `keys` (peft's "unmatched targets").
    public func unmatchedTargets(among keys: [String]) -> [String] {
        guard case let .names(names) = targets else { return [] }
        return names.filter { n in !keys.contains { $0 == n || $0.hasSuffix("." + n) } }
    }
}

/// The `modules_to_save` rule: a key equal to an entry or ending in `"." + entry`.
func modulesToSaveMatch(_ entries: [String], _ key: String) -> Bool {
    entries.contains { key == $0 || key.hasSuffix("." + $0) }
}
