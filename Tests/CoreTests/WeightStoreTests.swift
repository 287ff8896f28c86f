import Foundation
import Testing
import Core
import TestSupport

/// Loading checkpoints into a `WeightStore`: the tiny BERT fixture (numbers read independently
/// with python3 + json + struct, see below), sharded directories and their failure modes.
@Suite struct WeightStoreTests {
    static let bertDir = TestPaths.fixture("tiny/bert_tokencls")

    /// Expected numbers from:
    /// ```python
    /// b = open('model.safetensors','rb').read(); n = struct.unpack('<Q', b[:8])[0]
    /// h = json.loads(b[8:8+n]); s, e = h[key]['data_offsets']
    /// struct.unpack('<%df' % ((e-s)//4), b[8+n+s:8+n+e])
    /// ```
    @Test func loadsTinyBertDirectory() throws {
        let store = try WeightStore.load(directory: Self.bertDir)
        #expect(store.tensors.count == 39)
        let q = try store.root.pp("bert.encoder.layer.0.attention.self.query").get([32, 32], "weight")
        #expect(!q.requiresGrad)
        #expect(q.storage[0] == 0.016921592876315117 && q.storage[1] == 0.0022704885341227055)
        #expect(q.storage[33] == 0.007968121208250523 && q.storage[1023] == 0.0012544060591608286)
        // python: sum(...) = 0.6317802849098371 (float64 sum of the float32 values)
        #expect(abs(q.storage.reduce(0.0) { $0 + Double($1) } - 0.6317802849098371) < 1e-12)
        let words = try #require(store.tensors["bert.embeddings.word_embeddings.weight"])
        #expect(words.shape == [100, 32] && words.storage[0] == 0 && words.storage[3199] == 0.010602233931422234)
        #expect(store.tensors["bert.embeddings.position_embeddings.weight"]?.shape == [64, 32])
        #expect(store.tensors["bert.encoder.layer.1.output.dense.weight"]?.shape == [32, 64])
        #expect(store.tensors["classifier.weight"]?.shape == [9, 32])
        #expect(store.tensors["classifier.bias"]?.storage == [Float](repeating: 0, count: 9))
        #expect(store.tensors["bert.embeddings.LayerNorm.weight"]?.storage == [Float](repeating: 1, count: 32))
        // The header lists the same keys as the store, and says the format is PyTorch's.
        let header = try SafeTensors.header(of: Self.bertDir.appendingPathComponent("model.safetensors"))
        #expect(Set(header.keys) == Set(store.tensors.keys) && header.metadata == ["format": "pt"])
        #expect(header.tensors["classifier.weight"]?.dataOffsets == 89892..<91044)
    }

    /// Two shards plus an index, written by our writer.
    static func shardedDirectory(index: String? = nil) throws -> URL {
        let dir = try TestPaths.temporaryDirectory()
        try SafeTensors.write(["a.weight": Tensor([1, 2, 3, 4], shape: [2, 2]), "a.bias": Tensor([5, 6])],
                              to: dir.appendingPathComponent("model-00001-of-00002.safetensors"))
        try SafeTensors.write(["b.weight": Tensor([7, 8], shape: [1, 2])], metadata: ["format": "pt"],
                              to: dir.appendingPathComponent("model-00002-of-00002.safetensors"))
        let text = index ?? #"""
            {"metadata": {"total_size": 40}, "weight_map": {
              "a.weight": "model-00001-of-00002.safetensors", "a.bias": "model-00001-of-00002.safetensors",
              "b.weight": "model-00002-of-00002.safetensors"}}
            """#
        try AtomicFile.write(text, to: dir.appendingPathComponent("model.safetensors.index.json"))
        return dir
    }

    @Test func loadsShardedDirectory() throws {
        let store = try WeightStore.load(directory: Self.shardedDirectory())
        #expect(store.tensors.keys.sorted() == ["a.bias", "a.weight", "b.weight"])
        #expect(try store.root.pp("a").get([2, 2], "weight").storage == [1, 2, 3, 4])
        #expect(try store.root.pp("b").get([1, 2], "weight").storage == [7, 8])
        #expect(store.unusedKeys == ["a.bias"])
    }

    @Test func shardedFailuresAreClear() throws {
        let wrongShard = #"{"weight_map": {"b.weight": "model-00001-of-00002.safetensors"}}"#
        let e1 = #expect(throws: IOError.self) { try WeightStore.load(directory: Self.shardedDirectory(index: wrongShard)) }
        #expect(e1?.kind == .missingKey && e1?.description.contains("weight_map 'b.weight'") == true)
        let missingShard = #"{"weight_map": {"a.weight": "model-00003-of-00003.safetensors"}}"#
        let e2 = #expect(throws: IOError.self) { try WeightStore.load(directory: Self.shardedDirectory(index: missingShard)) }
        #expect(e2?.kind == .fileNotFound && e2?.description.contains("model-00003-of-00003.safetensors") == true)
        let escaping = #"{"weight_map": {"a.weight": "../model-00001-of-00002.safetensors"}}"#
        let e3 = #expect(throws: IOError.self) { try WeightStore.load(directory: Self.shardedDirectory(index: escaping)) }
        #expect(e3?.kind == .invalidEntry)
        let noMap = #"{"metadata": {}}"#
        let e4 = #expect(throws: IOError.self) { try WeightStore.load(directory: Self.shardedDirectory(index: noMap)) }
        #expect(e4?.description.contains("key 'weight_map': missing (expected an object of strings)") == true)
    }

    @Test func filesAndDirectoryErrors() throws {
        let dir = try Self.shardedDirectory()
        let shard1 = dir.appendingPathComponent("model-00001-of-00002.safetensors")
        let dup = #expect(throws: IOError.self) { try WeightStore(safetensorsFiles: [shard1, shard1]) }
        #expect(dup?.kind == .duplicateKey && dup?.description.contains("also present in") == true)
        let both = try WeightStore(safetensorsFiles: [shard1, dir.appendingPathComponent("model-00002-of-00002.safetensors")])
        #expect(both.tensors.count == 3)
        let empty = try TestPaths.temporaryDirectory()
        try AtomicFile.write("x", to: empty.appendingPathComponent("pytorch_model.bin"))
        let e = #expect(throws: IOError.self) { try WeightStore.load(directory: empty) }
        #expect(e?.description.contains("found: pytorch_model.bin") == true && e?.description.contains("convert") == true)
        #expect(throws: IOError.self) { try WeightStore.load(directory: empty.appendingPathComponent("nope")) }
    }
}
