import Foundation

/// Where a training run is: what has been done, so a resumed run continues with the next batch.
public struct TrainingPosition: Codable, Sendable, Equatable {
    /// Optimizer steps completed (the schedule's position).
    public var step: Int
    /// The epoch (1-based) the next batch belongs to.
    public var epoch: Int
    /// Batches of `epoch` already trained (the data-order position inside the epoch; the
    /// epoch's order itself is rebuilt from the seed).
    public var batchInEpoch: Int
    /// True for the checkpoint written after the last step.
    public var finished: Bool

    public init(step: Int = 0, epoch: Int = 1, batchInEpoch: Int = 0, finished: Bool = false) {
        self.step = step; self.epoch = epoch; self.batchInEpoch = batchInEpoch; self.finished = finished
    }

    /// Whether batch `batch` (0-based) of `epoch` was already trained before this position.
    public func alreadyTrained(epoch e: Int, batch b: Int) -> Bool {
        e < epoch || (e == epoch && b < batchInEpoch)
    }
}

/// Everything needed to continue a training run exactly where it stopped, in one file:
/// `training_checkpoint.safetensors` holds the trainable weights (`param/<name>`), the
/// optimizer state (`optim/<name>.exp_avg` …), caller tensors (`extra/…`, e.g. the best
/// weights so far) as F32, and in its metadata (`peftkit_training_checkpoint`) a JSON header
/// with the position, the random-generator states of every rank, the config, a fingerprint
/// of the base model and the caller's own progress record (loss sums, history, …).
///
/// One file written through `AtomicFile` (temporary file, fsync, rename) means a `kill -9`
/// at any moment, even during the write, leaves either the previous checkpoint or the new
/// one, never a mixture of two steps.
public struct TrainingCheckpoint {
    /// The file name inside a run folder.
    public static let fileName = "training_checkpoint.safetensors"
    /// The metadata key of the JSON header.
    static let metadataKey = "peftkit_training_checkpoint"

    public var command: String
    public var position: TrainingPosition
    /// The run's settings that must not change on resume (`--r`, `--lr`, the data's hash …).
    public var config: [String: String]
    /// `ModelFingerprint` of the model before training (base weights and seeded new layers).
    public var baseModel: String
    /// Random-generator states (`ModelRandomState.capture`) of each rank.
    public var randomStates: [[String: UInt64]]
    public var parameters: [String: Tensor]
    public var optimizer: [String: Tensor]
    public var extraTensors: [String: Tensor]
    /// The caller's own progress record, usually JSON.
    public var progress: String

    public init(command: String, position: TrainingPosition, config: [String: String], baseModel: String,
                randomStates: [[String: UInt64]], parameters: [String: Tensor], optimizer: [String: Tensor],
                extraTensors: [String: Tensor] = [:], progress: String = "") {
        self.command = command; self.position = position; self.config = config; self.baseModel = baseModel
        self.randomStates = randomStates; self.parameters = parameters; self.optimizer = optimizer
        self.extraTensors = extraTensors; self.progress = progress
    }

    /// Ranks that wrote the checkpoint.
    public var ranks: Int { randomStates.count }

    /// The checkpoint file of a run folder; a path that already names a file is kept.
    public static func file(in pathOrFolder: URL) -> URL {
        if pathOrFolder.lastPathComponent == fileName { return pathOrFolder }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: pathOrFolder.path, isDirectory: &isDirectory), !isDirectory.boolValue {
            return pathOrFolder
        }
        return pathOrFolder.appendingPathComponent(fileName)
    }

    /// Whether a run folder holds a checkpoint.
    public static func exists(in folder: URL) -> Bool { FileManager.default.fileExists(atPath: file(in: folder).path) }

    /// The JSON header.
    struct Header: Codable {
        var format: Int
        var command: String
        var position: TrainingPosition
        var config: [String: String]
        var baseModel: String
        /// Per rank, key → state as 16 hex digits (JSON numbers cannot hold all UInt64).
        var randomStates: [[String: String]]
        var progress: String
    }

    /// Writes the checkpoint atomically into `folder` (created if needed).
    public func write(to folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let header = Header(format: 1, command: command, position: position, config: config, baseModel: baseModel,
                            randomStates: randomStates.map { $0.mapValues { String(format: "%016llx", $0) } }, progress: progress)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(header), as: UTF8.self)
        var tensors: [String: Tensor] = [:]
        for (k, t) in parameters { tensors["param/" + k] = t }
        for (k, t) in optimizer { tensors["optim/" + k] = t }
        for (k, t) in extraTensors { tensors["extra/" + k] = t }
        let url = folder.appendingPathComponent(Self.fileName)
        if let stall = ProcessInfo.processInfo.environment["PEFTKIT_FAULT_CHECKPOINT_STALL_MS"].flatMap(Int.init), stall > 0 {
            try Self.writeStalling(tensors, metadata: [Self.metadataKey: json], to: url, milliseconds: stall)
        } else {
            try SafeTensors.write(tensors, metadata: [Self.metadataKey: json], to: url)
        }
    }

    /// Fault injection for tests of a kill *during* a checkpoint write: the same bytes, but
    /// the write pauses halfway (after announcing it on stderr) so a test can kill the process
    /// while the temporary file is half written. Enabled only by
    /// `PEFTKIT_FAULT_CHECKPOINT_STALL_MS`.
    static func writeStalling(_ tensors: [String: Tensor], metadata: [String: String], to url: URL, milliseconds: Int) throws {
        let raw = tensors.mapValues { t in
            SafeTensors.RawTensor(dtype: .f32, shape: t.shape, bytes: t.storage.withUnsafeBytes { Array($0) })
        }
        let bytes = try SafeTensors.serialize(raw: raw, metadata: metadata)
        let half = bytes.count / 2
        try AtomicFile.write(to: url) { sink in
            try sink.write(Array(bytes[..<half]))
            FileHandle.standardError.write(Data("checkpoint write stalled at byte \(half) of \(bytes.count)\n".utf8))
            usleep(UInt32(milliseconds) * 1000)
            try sink.write(Array(bytes[half...]))
        }
    }

    /// Reads a checkpoint from a run folder (or the file itself).
    public static func read(from pathOrFolder: URL) throws -> TrainingCheckpoint {
        let url = file(in: pathOrFolder)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw TrainingCheckpointError.notACheckpoint(file: url.path, detail: "no such file; --resume takes the --out folder of the run to continue")
        }
        let file = try SafeTensorsFile(url)
        guard let json = file.metadata?[metadataKey] else {
            throw TrainingCheckpointError.notACheckpoint(file: url.path, detail: "a safetensors file without PEFTKit's training header (\(metadataKey))")
        }
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: Data(json.utf8))
        } catch {
            throw TrainingCheckpointError.notACheckpoint(file: url.path, detail: "its training header is not valid JSON of format 1")
        }
        guard header.format == 1 else {
            throw TrainingCheckpointError.notACheckpoint(file: url.path, detail: "checkpoint format \(header.format) is newer than this PEFTKit (1)")
        }
        // The trainers loop from these positions (`epoch..<last`, `batchInEpoch..<steps`): a
        // negative or zero value from a damaged file would trap there instead of being refused.
        let p = header.position
        guard p.step >= 0, p.epoch >= 1, p.batchInEpoch >= 0 else {
            throw TrainingCheckpointError.notACheckpoint(file: url.path, detail: "impossible position (step \(p.step), epoch \(p.epoch), batch \(p.batchInEpoch))")
        }
        var states: [[String: UInt64]] = []
        for rank in header.randomStates {
            var s: [String: UInt64] = [:]
            for (k, hex) in rank {
                guard let v = UInt64(hex, radix: 16) else {
                    throw TrainingCheckpointError.notACheckpoint(file: url.path, detail: "random state '\(k)' is not 16 hex digits")
                }
                s[k] = v
            }
            states.append(s)
        }
        var params: [String: Tensor] = [:], optim: [String: Tensor] = [:], extra: [String: Tensor] = [:]
        for key in file.keys {
            let t = try file.tensor(key)
            if key.hasPrefix("param/") { params[String(key.dropFirst(6))] = t }
            else if key.hasPrefix("optim/") { optim[String(key.dropFirst(6))] = t }
            else if key.hasPrefix("extra/") { extra[String(key.dropFirst(6))] = t }
            else { throw TrainingCheckpointError.notACheckpoint(file: url.path, detail: "unexpected tensor '\(key)'") }
        }
        return TrainingCheckpoint(command: header.command, position: header.position, config: header.config, baseModel: header.baseModel,
                                  randomStates: states, parameters: params, optimizer: optim, extraTensors: extra, progress: header.progress)
    }

    /// Throws, naming every difference, unless this checkpoint was written by the same command
    /// with the same config on the same base model. `file` is used in the message.
    public func requireCompatible(command: String, config: [String: String], baseModel: String, file: String) throws {
        var differences: [String] = []
        if command != self.command { differences.append("command: checkpoint '\(self.command)', this run '\(command)'") }
        for key in Set(config.keys).union(self.config.keys).sorted() {
            let saved = self.config[key], now = config[key]
            if saved != now {
                differences.append("\(key): checkpoint \(saved ?? "(not set)"), this run \(now ?? "(not set)")")
            }
        }
        if baseModel != self.baseModel {
            differences.append("base model: checkpoint fingerprint \(self.baseModel), this run \(baseModel) (a different model folder, or different new layers)")
        }
        if !differences.isEmpty { throw TrainingCheckpointError.mismatch(file: file, differences: differences) }
    }
}

/// Errors reading or matching a training checkpoint.
public enum TrainingCheckpointError: Error, CustomStringConvertible, Equatable {
    case notACheckpoint(file: String, detail: String)
    /// The checkpoint belongs to another run; every difference is listed.
    case mismatch(file: String, differences: [String])
    /// The checkpoint's position lies outside the run it is resumed into (`TrainingExtent`).
    case beyondRun(file: String, detail: String)

    public var description: String {
        switch self {
        case let .notACheckpoint(file, detail):
            return "\(file): not a usable training checkpoint: \(detail)"
        case let .mismatch(file, differences):
            return "\(file): refusing to resume, the checkpoint was written by a different run (\(differences.joined(separator: "; "))); resume with the options and model it was saved with, or train into a new --out folder"
        case let .beyondRun(file, detail):
            return "\(file): refusing to resume, the checkpoint's position lies beyond this run (\(detail)); the file is damaged or was edited: resume from an intact checkpoint with the options it was saved with, or train into a new --out folder"
        }
    }
}

/// A 64-bit FNV-1a hash of a model's parameter names, shapes and values, as 16 hex digits.
/// Taken before training, it identifies the base weights together with the seeded new layers.
public enum ModelFingerprint {
    public static func of(_ model: Module) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ v: UInt64) { h = (h ^ v) &* 0x0000_0100_0000_01B3 }
        for (name, p) in model.namedParameters() {
            for b in name.utf8 { mix(UInt64(b)) }
            for d in p.shape { mix(UInt64(d)) }
            p.storage.withUnsafeBufferPointer { s in
                for v in s { mix(UInt64(v.bitPattern)) }
            }
        }
        return String(format: "%016llx", h)
    }

    /// The same hash over any byte strings (data files, token lists).
    public static func of(strings: [String]) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for s in strings {
            for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
            h = (h ^ 0xFF) &* 0x0000_0100_0000_01B3
        }
        return String(format: "%016llx", h)
    }
}
