/// The label set of a token-classification head over IOB2 tags: `O`, then `B-T`, `I-T` for each
/// entity type `T` in sorted order (so `O` is always id 0 and the ids are deterministic).
///
/// Inferred from the training data by entity type rather than by exact tag, so a type seen only
/// as `B-MISC` in training still accepts `I-MISC` in dev/test; a type never seen in training is
/// an error (the head could never predict it, and the metrics would be silently wrong).
public struct NERLabels: Sendable, Equatable {
    /// Entity types in sorted order.
    public let entityTypes: [String]
    /// All labels, indexed by id.
    public let labels: [String]
    private let ids: [String: Int]

    /// Label set for the given entity types (deduplicated and sorted by code point).
    public init(entityTypes: some Sequence<String>) {
        let types = Array(Set(entityTypes)).sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
        var labels = ["O"]
        for t in types { labels += ["B-" + t, "I-" + t] }
        self.entityTypes = types
        self.labels = labels
        var ids: [String: Int] = [:]
        for (i, l) in labels.enumerated() { ids[l] = i }
        self.ids = ids
    }

    /// Infers the types from IOB2-converted training sentences.
    public init(inferredFrom file: CoNLLFile) {
        self.init(entityTypes: file.sentences.flatMap { s in
            s.tags.compactMap { tag in ParsedTag(tag).flatMap { $0.prefix == nil ? nil : $0.type } }
        })
    }

    /// Number of labels (the classifier's output size).
    public var count: Int { labels.count }

    /// Id of an IOB2 label, nil when unknown.
    public func id(of label: String) -> Int? { ids[label] }

    /// Label of an id (`O` for an out-of-range id, so a bad prediction can never crash a writer).
    public func label(of id: Int) -> String { labels.indices.contains(id) ? labels[id] : "O" }

    /// Label ids of one IOB2 sentence, nil if any tag is unknown.
    public func ids(of tags: [String]) -> [Int]? {
        var out: [Int] = []
        out.reserveCapacity(tags.count)
        for t in tags {
            guard let i = ids[t] else { return nil }
            out.append(i)
        }
        return out
    }

    /// Checks that every tag of `file` (dev/test) is in this set, naming the first that is not.
    public func validate(_ file: CoNLLFile, trainingPath: String) throws {
        for s in file.sentences {
            for (i, tag) in s.tags.enumerated() where ids[tag] == nil {
                throw CoNLLError.unknownLabel(path: file.path, line: s.lines[i], label: tag, trainingPath: trainingPath, known: entityTypes)
            }
        }
    }
}
