import Core
import Foundation

/// Builds the data set named honestly **"synthetic face manipulations of real photos"**: every
/// real face image (ORL by default) is kept as a real sample and, for each manipulation family,
/// turned into one fake. Identities are split into a training and a test part *before* any
/// manipulation, and a donor (swap, splice) is always another identity of the same part, so a
/// real image and every fake made from it — or with its face — sit in one split (GenD's
/// pairing point: no test face leaks into training through a fake).
///
/// Layout written (all PNG, lossless, so only the manipulation itself differs):
///
///     out/train/real/s1_1.png            out/test/real/s31_1.png
///     out/train/fake/<family>/s1_1.png   out/test/fake/<family>/s31_1.png
///     out/manifest.json                  out/README.txt
///
/// A fake keeps its source image's name, so `--group-by '^(s[0-9]+)_'` groups by identity.
public enum SyntheticManipulationSet {
    public struct Options: Codable, Sendable, Equatable {
        public var seed: UInt64 = 7
        public var families: [ManipulationFamily] = ManipulationFamily.allCases
        /// The first `trainIdentities` identities (natural order) train, the rest test.
        public var trainIdentities = 30
        /// Images per identity (nil: all).
        public var perIdentity: Int?
        public init() {}
    }

    /// One fake: where it is and what made it.
    public struct Entry: Codable, Sendable, Equatable {
        public var split: String
        public var family: String
        public var file: String
        public var source: String
        public var donor: String?
    }

    public struct Manifest: Codable, Sendable {
        public var name = "synthetic face manipulations of real photos"
        public var credit: String
        public var options: Options
        public var families: [String: String]
        public var realCounts: [String: Int]
        public var fakes: [Entry]
    }

    /// Writes the data set under `out` from `faces`. `log` receives progress lines.
    @discardableResult
    public static func build(faces: FaceDataset, out: URL, options: Options, credit: String = FaceDataset.orlCredit,
                             log: (String) -> Void = { _ in }) throws -> Manifest {
        let ids = faces.identities
        guard !options.families.isEmpty else { throw DatasetError("no manipulation family chosen") }
        guard options.trainIdentities >= 2, ids.count - options.trainIdentities >= 2 else {
            throw DatasetError("\(faces.root.path): \(ids.count) identities cannot be split into ≥2 training and ≥2 test identities with --train-identities \(options.trainIdentities) (donors must be another person of the same split)")
        }
        if let k = options.perIdentity, k < 1 { throw DatasetError("--per-identity must be at least 1") }
        let fm = FileManager.default
        var manifest = Manifest(credit: credit, options: options,
                                families: Dictionary(uniqueKeysWithValues: options.families.map { ($0.rawValue, $0.summary) }),
                                realCounts: [:], fakes: [])
        let root = SplitMix64(seed: options.seed)
        for (splitIndex, split) in ["train", "test"].enumerated() {
            let part = splitIndex == 0 ? Array(ids[..<options.trainIdentities]) : Array(ids[options.trainIdentities...])
            let dir = out.appendingPathComponent(split)
            try fm.createDirectory(at: dir.appendingPathComponent("real"), withIntermediateDirectories: true)
            for f in options.families { try fm.createDirectory(at: dir.appendingPathComponent("fake/\(f.rawValue)"), withIntermediateDirectories: true) }
            // Decode the split once: every image is a target and may be a donor.
            var images: [[Image]] = []
            for person in part {
                let files = options.perIdentity.map { Array(person.images.prefix($0)) } ?? person.images
                images.append(try files.map { try ImageDecoder.decode(contentsOf: $0) })
            }
            let names = part.map { sanitized($0.name) }
            var realCount = 0
            for (p, person) in images.enumerated() {
                for (k, image) in person.enumerated() {
                    let stem = "\(names[p])_\(k + 1)"
                    try PNGCodec.write(image, to: dir.appendingPathComponent("real/\(stem).png"))
                    realCount += 1
                    for family in options.families {
                        // One generator per (split, person, image, family): results do not depend on the family list order.
                        var rng = root.fork(UInt64(splitIndex) << 48 | UInt64(p) << 32 | UInt64(k) << 8 | UInt64(familyCode(family)))
                        var donorName: String?
                        var donor: Image?
                        if family == .swap || family == .splice {
                            var q = randomIndex(below: images.count - 1, using: &rng)
                            if q >= p { q += 1 }   // another person
                            let j = randomIndex(below: images[q].count, using: &rng)
                            donor = images[q][j]
                            donorName = "\(names[q])_\(j + 1)"
                        }
                        let fake = try FaceManipulations.apply(family, to: image, donor: donor, using: &rng)
                        let file = "\(split)/fake/\(family.rawValue)/\(stem).png"
                        try PNGCodec.write(fake, to: out.appendingPathComponent(file))
                        manifest.fakes.append(Entry(split: split, family: family.rawValue, file: file, source: "\(split)/real/\(stem).png", donor: donorName))
                    }
                }
            }
            manifest.realCounts[split] = realCount
            log("\(split): \(part.count) identities, \(realCount) real images, \(realCount * options.families.count) fakes")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(manifest), to: out.appendingPathComponent("manifest.json"))
        try AtomicFile.write(Data(readme(manifest).utf8), to: out.appendingPathComponent("README.txt"))
        return manifest
    }

    static func familyCode(_ f: ManipulationFamily) -> Int { ManipulationFamily.allCases.firstIndex(of: f) ?? 0 }

    static func sanitized(_ name: String) -> String {
        String(name.map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "-" })
    }

    static func readme(_ m: Manifest) -> String {
        var s = """
            \(m.name)
            Made by `deepfake-detect build-data` (PEFTKit). NOT a deepfake data set: no generative model
            was involved. Real photos: \(m.credit). Every fake comes from one real image of the same
            split (identities split before manipulating; donors come from the same split).
            seed \(m.options.seed); first \(m.options.trainIdentities) identities = train, the rest = test.
            Families:

            """
        for (k, v) in m.families.sorted(by: { $0.key < $1.key }) { s += "  \(k): \(v)\n" }
        return s
    }
}
