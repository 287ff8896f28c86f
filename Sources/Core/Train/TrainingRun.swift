import Foundation

/// How one training run checkpoints, resumes and splits its batches over ranks (see
/// docs/distributed.md): what every trainer's `run:` parameter carries. The default is a
/// single process that never checkpoints and starts fresh, which is what the trainers did
/// before resume and MPI existed, so existing callers are unchanged.
///
/// The domains give it their own names (`AudioTrainingRun`, `GraphTrainingRun`,
/// `CrossTuneRun`, `ChangeTrainingRun`) and add, in extensions, the configuration fingerprint
/// a resume must match.
public struct TrainingRun {
    /// Folder the training checkpoint is written to; nil: never.
    public var checkpointFolder: URL?
    /// A checkpoint every this many optimizer steps and at the end (0: only at the end).
    public var checkpointEvery = 0
    /// The folder (or checkpoint file) of an interrupted run to continue.
    public var resumeFrom: URL?
    /// The ranks the batches are split over.
    public var world: any Distributed = SingleProcess()

    public init(checkpointFolder: URL? = nil, checkpointEvery: Int = 0, resumeFrom: URL? = nil, world: any Distributed = SingleProcess()) {
        self.checkpointFolder = checkpointFolder
        self.checkpointEvery = checkpointEvery
        self.resumeFrom = resumeFrom
        self.world = world
    }

    /// Whether a checkpoint is due after `step` optimizer steps.
    public func isDue(step: Int) -> Bool { checkpointEvery > 0 && step > 0 && step % checkpointEvery == 0 }
}

/// FNV-1a, 64-bit: the cheap, stable fingerprint the checkpoint configs use for data sets,
/// features and weights (a resume on other inputs is refused because the hash differs). Not a
/// cryptographic hash: it guards against mistakes, not against an adversary.
public struct FNV1a64 {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    public mutating func mix(_ v: UInt64) { value = (value ^ v) &* 0x0000_0100_0000_01b3 }
    /// A string's UTF-8 bytes followed by a separator byte (so "ab","c" ≠ "a","bc").
    public mutating func mix(_ s: String) { for b in s.utf8 { mix(UInt64(b)) }; mix(0xFF) }
    /// Every value's Float bit pattern, in order.
    public mutating func mix(_ values: [Float]) { values.withUnsafeBufferPointer { for v in $0 { mix(UInt64(v.bitPattern)) } } }
    /// The hash as 16 lower-case hex digits.
    public var hex: String { String(format: "%016llx", value) }
}

extension TrainingRun {
    /// The run's options as checkpoint config entries, `option.<field>` → the field's JSON, one
    /// key per stored property so a refused resume names the option that differs; `extra`
    /// entries (data fingerprints, counts) are added as given.
    public static func optionConfig<T: Encodable>(_ options: T, encoder: JSONEncoder = JSONEncoder(),
                                                  extra: [String: String] = [:]) throws -> [String: String] {
        var config = extra
        if let fields = try JSONSerialization.jsonObject(with: try encoder.encode(options)) as? [String: Any] {
            for (key, value) in fields {
                config["option." + key] = (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]))
                    .map { String(decoding: $0, as: UTF8.self) } ?? "\(value)"
            }
        }
        return config
    }
}
