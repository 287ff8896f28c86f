import Core
import Foundation

/// Settings of the WN18RR-style graph built from a WordNet 3.0 database.
public struct WordNetGraphOptions: Sendable {
    /// Folder with `data.noun`, `data.verb`, `data.adj`, `data.adv` and `index.*` (Debian's
    /// `wordnet-base` installs them in /usr/share/wordnet).
    public var wordnetFolder = "/usr/share/wordnet"
    /// Keep only synsets of these lexicographer files (e.g. ["noun.animal"]); nil keeps all.
    public var lexicographerFiles: [String]? = nil
    /// Also keep inverse relations (hyponym, holonym, …) as their own relations, WN18-style.
    /// Off by default: WN18RR keeps one direction so a test fact cannot be read off its inverse.
    public var withInverses = false
    public var validFraction = 0.033
    public var testFraction = 0.033
    public var seed: UInt64 = 0

    public init() {}
}

/// What a build produced.
public struct WordNetGraphReport: Sendable, CustomStringConvertible {
    public var synsetsRead = 0
    public var entities = 0
    public var relationCounts: [(String, Int)] = []
    public var train = 0, valid = 0, test = 0

    public var description: String {
        "\(entities) entities (of \(synsetsRead) synsets read), \(relationCounts.count) relations; "
            + "train \(train), valid \(valid), test \(test)\n"
            + relationCounts.map { "  \($0.0): \($0.1)" }.joined(separator: "\n")
    }
}

/// Builds a WN18RR-style knowledge graph (Dettmers et al. 2018) from the WordNet 3.0 files:
/// synsets are entities, named like NLTK (`dog.n.01`: first lemma, part of speech, sense
/// number from the index file); these pointers become relations:
///
/// | pointer | relation | inverse pointer (stored reversed unless `withInverses`) |
/// |---|---|---|
/// | `@` | hypernym | `~` hyponym |
/// | `@i` | instance_hypernym | `~i` instance_hyponym |
/// | `%m` | member_meronym | `#m` member_holonym |
/// | `%p` | has_part | `#p` part_holonym |
/// | `;c` `;r` `;u` | synset_domain_{topic,region,usage}_of | `-c` `-r` `-u` member_of_domain_{topic,region,usage} |
/// | `&` | similar_to (symmetric) | |
/// | `^` | also_see | |
/// | `$` | verb_group (symmetric) | |
/// | `+` | derivationally_related_form (between the synsets of the two words) | |
///
/// Triples are deduplicated, self-loops dropped, sorted, then split with a seeded shuffle; a
/// triple goes to valid/test only while its head, tail and relation keep another training
/// triple (so every held-out name is in the training vocabulary, as `KGDataset` requires).
///
/// ```swift
/// var o = WordNetGraphOptions(); o.lexicographerFiles = ["noun.animal"]
/// let report = try WordNetGraph.build(o, to: URL(fileURLWithPath: "data/graph/wn18rr-animal"))
/// ```
public enum WordNetGraph {
    /// WordNet's lexicographer files in number order (the `lexnames` list of WordNet 3.0).
    public static let lexicographerFileNames = [
        "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact", "noun.attribute",
        "noun.body", "noun.cognition", "noun.communication", "noun.event", "noun.feeling", "noun.food", "noun.group",
        "noun.location", "noun.motive", "noun.object", "noun.person", "noun.phenomenon", "noun.plant", "noun.possession",
        "noun.process", "noun.quantity", "noun.relation", "noun.shape", "noun.state", "noun.substance", "noun.time",
        "verb.body", "verb.change", "verb.cognition", "verb.communication", "verb.competition", "verb.consumption",
        "verb.contact", "verb.creation", "verb.emotion", "verb.motion", "verb.perception", "verb.possession",
        "verb.social", "verb.stative", "verb.weather", "adj.ppl",
    ]

    /// pointer symbol → (relation, reversed, inverse relation name when kept separately)
    static let pointers: [String: (relation: String, reversed: Bool, inverseName: String?)] = [
        "@": ("hypernym", false, nil), "~": ("hypernym", true, "hyponym"),
        "@i": ("instance_hypernym", false, nil), "~i": ("instance_hypernym", true, "instance_hyponym"),
        "%m": ("member_meronym", false, nil), "#m": ("member_meronym", true, "member_holonym"),
        "%p": ("has_part", false, nil), "#p": ("has_part", true, "part_holonym"),
        ";c": ("synset_domain_topic_of", false, nil), "-c": ("synset_domain_topic_of", true, "member_of_domain_topic"),
        ";r": ("synset_domain_region_of", false, nil), "-r": ("synset_domain_region_of", true, "member_of_domain_region"),
        ";u": ("synset_domain_usage_of", false, nil), "-u": ("synset_domain_usage_of", true, "member_of_domain_usage"),
        "&": ("similar_to", false, nil), "^": ("also_see", false, nil), "$": ("verb_group", false, nil),
        "+": ("derivationally_related_form", false, nil),
    ]

    /// One synset as read from a data file.
    struct Synset {
        let key: String          // "n:02084071"
        let name: String         // "dog.n.01"
        let lexfile: String
        let pointers: [(symbol: String, target: String)]
    }

    /// All (head, relation, tail) name triples, deduplicated and sorted.
    public static func triples(_ o: WordNetGraphOptions) throws -> (triples: [(String, String, String)], synsetsRead: Int) {
        if let files = o.lexicographerFiles {
            for f in files where !lexicographerFileNames.contains(f) {
                throw GraphDataError("unknown WordNet lexicographer file '\(f)'; known: \(lexicographerFileNames.joined(separator: ", "))")
            }
        }
        var synsets: [String: Synset] = [:]
        for (file, pos) in [("noun", "n"), ("verb", "v"), ("adj", "a"), ("adv", "r")] {
            let senses = try readIndex((o.wordnetFolder as NSString).appendingPathComponent("index.\(file)"))
            for s in try readData((o.wordnetFolder as NSString).appendingPathComponent("data.\(file)"), filePOS: pos, senses: senses) {
                synsets[s.key] = s
            }
        }
        let keep = o.lexicographerFiles.map(Set.init)
        var seen = Set<[String]>()
        var out: [(String, String, String)] = []
        for s in synsets.values {
            if let k = keep, !k.contains(s.lexfile) { continue }
            for p in s.pointers {
                guard let spec = pointers[p.symbol], let t = synsets[p.target] else { continue }
                if let k = keep, !k.contains(t.lexfile) { continue }
                guard t.key != s.key else { continue }  // self-loop (a lexical pointer inside one synset)
                let rel = spec.reversed && o.withInverses ? spec.inverseName! : spec.relation
                let (h, tl) = spec.reversed && !o.withInverses ? (t.name, s.name) : (s.name, t.name)
                if seen.insert([h, rel, tl]).inserted { out.append((h, rel, tl)) }
            }
        }
        out.sort { ($0.0, $0.1, $0.2) < ($1.0, $1.1, $1.2) }
        return (out, synsets.count)
    }

    /// Seeded split keeping every held-out name in training.
    public static func split(_ triples: [(String, String, String)], options o: WordNetGraphOptions)
        -> (train: [(String, String, String)], valid: [(String, String, String)], test: [(String, String, String)]) {
        var degree: [String: Int] = [:], relCount: [String: Int] = [:]
        for (h, r, t) in triples { degree[h, default: 0] += 1; degree[t, default: 0] += 1; relCount[r, default: 0] += 1 }
        var order = Array(triples.indices)
        var rng = SplitMix64(seed: o.seed).fork(0x3E7)
        order.shuffle(using: &rng)
        let nValid = Int(Double(triples.count) * o.validFraction), nTest = Int(Double(triples.count) * o.testFraction)
        var role = [UInt8](repeating: 0, count: triples.count)  // 0 train, 1 valid, 2 test
        var valid = 0, test = 0
        for i in order where valid < nValid || test < nTest {
            let (h, r, t) = triples[i]
            guard degree[h]! > 1, degree[t]! > 1, relCount[r]! > 1 else { continue }
            degree[h]! -= 1; degree[t]! -= 1; relCount[r]! -= 1
            if valid < nValid { role[i] = 1; valid += 1 } else { role[i] = 2; test += 1 }
        }
        // Files keep the sorted order within each split (stable diffs between builds).
        let pick = { (k: UInt8) in triples.indices.filter { role[$0] == k }.map { triples[$0] } }
        return (pick(0), pick(1), pick(2))
    }

    /// Builds the graph and writes `train.txt`, `valid.txt`, `test.txt` (tab-separated) into `folder`.
    public static func build(_ o: WordNetGraphOptions, to folder: URL) throws -> WordNetGraphReport {
        guard o.validFraction >= 0, o.testFraction >= 0, o.validFraction + o.testFraction < 1 else {
            throw GraphDataError("valid and test fractions must be ≥ 0 and sum to less than 1")
        }
        let (all, read) = try triples(o)
        guard !all.isEmpty else { throw GraphDataError("no WordNet triples were selected; check --lexfiles") }
        let (tr, va, te) = split(all, options: o)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (name, rows) in [("train.txt", tr), ("valid.txt", va), ("test.txt", te)] {
            try AtomicFile.write(rows.map { "\($0.0)\t\($0.1)\t\($0.2)\n" }.joined(), to: folder.appendingPathComponent(name))
        }
        var report = WordNetGraphReport()
        report.synsetsRead = read
        report.entities = Set(all.flatMap { [$0.0, $0.2] }).count
        var counts: [String: Int] = [:]
        for t in all { counts[t.1, default: 0] += 1 }
        report.relationCounts = counts.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }.map { ($0.key, $0.value) }
        (report.train, report.valid, report.test) = (tr.count, va.count, te.count)
        return report
    }
}
