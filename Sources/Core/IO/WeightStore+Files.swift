import Foundation

/// Building a `WeightStore` from safetensors checkpoints: one file, several files, or a
/// Hugging Face model directory (`model.safetensors`, or shards listed in
/// `model.safetensors.index.json`). Every tensor is decoded to Float32 and stored frozen.
///
/// ```swift
/// let store = try WeightStore.load(directory: modelDir)
/// let model = try BertModel(config, at: store.root.pp("bert"))
/// try store.verifyAllUsed()
/// ```
extension WeightStore {
    /// Name of a single-file checkpoint inside a model directory.
    public static let singleFileName = "model.safetensors"
    /// Name of the shard index inside a model directory.
    public static let shardIndexName = "model.safetensors.index.json"

    /// A store holding every tensor of `files` (decoded to Float32). A key present in two files
    /// is an error naming both.
    public convenience init(safetensorsFiles files: [URL], randomSeed: UInt64? = nil) throws {
        var tensors: [String: Tensor] = [:]
        var source: [String: URL] = [:]
        for url in files {
            let file = try SafeTensors.open(url)
            for key in file.keys {
                if let first = source[key] {
                    throw IOError(.duplicateKey, file: url, place: "tensor '\(key)'", "also present in \(first.path)",
                                  advice: "pass each checkpoint file once, or remove the duplicate tensor")
                }
                source[key] = url
                tensors[key] = try file.tensor(key)
            }
        }
        self.init(tensors: tensors, randomSeed: randomSeed)
    }

    /// A store holding the checkpoint in `directory`: `model.safetensors` if present, otherwise
    /// the shards named by `model.safetensors.index.json` (each mapped key must be in its shard).
    public static func load(directory: URL, randomSeed: UInt64? = nil) throws -> WeightStore {
        let files = try safetensorsFiles(in: directory)
        let store = try WeightStore(safetensorsFiles: files.files, randomSeed: randomSeed)
        if let index = files.index {
            for (key, shard) in index.weightMap.sorted(by: { $0.key < $1.key }) where store.tensors[key] == nil {
                throw IOError(.missingKey, file: index.url, place: "weight_map '\(key)'",
                              "maps to \(shard), which does not contain that tensor",
                              advice: "the index and the shards are from different exports; re-download the model")
            }
        }
        return store
    }

    /// The checkpoint files of a model directory and, when sharded, the parsed index.
    public static func safetensorsFiles(in directory: URL) throws -> (files: [URL], index: ShardIndex?) {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw IOError(.fileNotFound, file: directory, "no such directory", advice: "check the model path")
        }
        let single = directory.appendingPathComponent(singleFileName)
        if fm.fileExists(atPath: single.path) { return ([single], nil) }
        let indexURL = directory.appendingPathComponent(shardIndexName)
        if fm.fileExists(atPath: indexURL.path) {
            let index = try ShardIndex(contentsOf: indexURL)
            return (index.shards.map { directory.appendingPathComponent($0) }, index)
        }
        let present = ((try? fm.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()
        let hint = present.contains { $0.hasSuffix(".bin") || $0.hasSuffix(".pt") || $0.hasSuffix(".pth") }
            ? "convert the PyTorch checkpoint to safetensors first"
            : "download the model's safetensors weights into this directory"
        throw IOError(.fileNotFound, file: directory,
                      "has neither \(singleFileName) nor \(shardIndexName) (found: \(present.isEmpty ? "nothing" : present.prefix(12).joined(separator: ", ")))",
                      advice: hint)
    }

    /// `model.safetensors.index.json`: which shard file holds each tensor.
    public struct ShardIndex: Sendable {
        public let url: URL
        /// Tensor key → shard file name (relative to the index's directory).
        public let weightMap: [String: String]
        /// Distinct shard names, sorted.
        public var shards: [String] { Array(Set(weightMap.values)).sorted() }

        public init(contentsOf url: URL) throws {
            self.url = url
            let config = try JSONConfig(contentsOf: url)
            let map = try config.stringMap("weight_map")
            if map.isEmpty {
                throw IOError(.invalidEntry, file: url, place: "key 'weight_map'", "is empty", advice: "re-download the model")
            }
            for (key, shard) in map {
                // Shards must sit beside the index: refuse paths that could reach elsewhere.
                guard !shard.isEmpty, !shard.contains("/"), !shard.contains("\\"), shard != ".", shard != ".." else {
                    throw IOError(.invalidEntry, file: url, place: "weight_map '\(key)'",
                                  "shard name \"\(shard)\" is not a plain file name",
                                  advice: "shards must be files in the same directory as the index")
                }
            }
            weightMap = map
        }
    }
}
