import Audio
import Core
import Foundation
import Graph

/// Small valid inputs for the targets whose formats have no small file among the fixtures
/// (`PEFTKIT_FUZZ_WRITE_SEEDS=DIR peftkit-fuzz` writes them to DIR/<target>/). Most are made by
/// the project's own writers, so a seed is exactly what PEFTKit itself produces; ONNX and
/// CTranslate2 bytes are assembled by hand from their specifications.
enum SeedWriter {
    static func writeAll(to root: URL) throws {
        func put(_ target: String, _ name: String, _ data: Data) throws {
            let dir = root.appendingPathComponent(target)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try data.write(to: dir.appendingPathComponent(name))
        }
        func text(_ s: String) -> Data { Data(s.utf8) }

        // safetensors: several dtypes, a scalar, an empty tensor, metadata.
        let raw: [String: SafeTensors.RawTensor] = [
            "f32": .init(dtype: .f32, shape: [2, 3], bytes: floatBytes([1, -2, 3.5, 0, 1e-3, -7])),
            "f16": .init(dtype: .f16, shape: [2], bytes: [0x00, 0x3C, 0x00, 0xC0]),
            "bf16": .init(dtype: .bf16, shape: [1], bytes: [0x80, 0x3F]),
            "i64": .init(dtype: .i64, shape: [], bytes: [7, 0, 0, 0, 0, 0, 0, 0]),
            "u8": .init(dtype: .u8, shape: [3], bytes: [1, 2, 255]),
            "empty": .init(dtype: .f32, shape: [0, 4], bytes: []),
        ]
        try put("safetensors", "mixed.safetensors", Data(try SafeTensors.serialize(raw: raw, metadata: ["format": "pt"])))
        try put("safetensors", "one.safetensors", Data(try SafeTensors.serialize(raw: ["w": raw["f32"]!])))

        // PEFT adapter folders (config #~#~# weights) for LoRA, DoRA and IA3 on FuzzNet.
        for (name, configure) in [("lora", { (c: inout AdapterConfig) in }),
                                  ("dora", { (c: inout AdapterConfig) in c.useDoRA = true })] {
            var cfg = AdapterConfig.lora(r: 2, alpha: 4, targets: ["lin0", "lin1"])
            configure(&cfg)
            try put("peft-folder", name, try adapterFolder(cfg))
            try put("adapter-config", name + ".json", try cfg.encodeJSON())
        }
        var ia3 = AdapterConfig(method: .ia3)
        ia3.targetModules = .names(["lin0", "lin1"])
        ia3.feedforwardModules = .names(["lin1"])
        try put("peft-folder", "ia3", try adapterFolder(ia3))
        try put("adapter-config", "ia3.json", try ia3.encodeJSON())

        // ONNX: one initializer, one node with attributes, one input and output.
        try put("onnx", "tiny.onnx", onnxModel())
        // CTranslate2: version 6, two variables (float32 and float16), one alias.
        try put("ctranslate2", "tiny.bin", ctranslate2Model())

        // kg-query model folder written by LinkPredictorFiles.save.
        try put("kg-model", "complex", try kgModelFolder())
        // A query file in QueryFile's format against the fuzz vocabulary.
        let hash = vocabularyFingerprint(entities: fuzzEntities, relations: fuzzRelations)
        try put("query-file", "queries.jsonl", text("""
            {"format":"kg-queries","version":1,"vocab_hash":"\(hash)","seed":1,"source":"fuzz","counts":{"train":1,"valid":0,"test":1}}
            {"split":"train","structure":"1p","query":"r(a)","fol":"?y : r(a, y)","easy":["b"],"hard":[]}
            {"split":"test","structure":"2p","query":"r2(r1(a))","fol":"?y : exists x . r1(a, x) and r2(x, y)","easy":[],"hard":["dog.n.01"]}

            """))

        // Sound: short clips (fast to mutate) in every format AudioFile writes, at several rates.
        let clips: [(String, AudioFileFormat, Int, Int)] = [
            ("pcm16-16k-mono.wav", .wavPCM16, 16_000, 1), ("pcm16-8k-stereo.wav", .wavPCM16, 8_000, 2),
            ("float-44k.wav", .wavFloat32, 44_100, 1), ("flac-16k.flac", .flac16, 16_000, 1), ("vorbis-22k.ogg", .oggVorbis, 22_050, 1),
        ]
        for (name, format, rate, channels) in clips {
            let frames = 400
            let samples = (0..<(frames * channels)).map { i in Float(sin(Double(i) * 0.07)) * 0.5 }
            let url = Fuzz.scratch.appendingPathComponent(name)
            try AudioFile.write(AudioClip(samples: samples, sampleRate: rate, channels: channels), to: url, format: format)
            try put("audio", name, try Data(contentsOf: url))
        }

        // IDX: a 2x3x2 uint8 array and a 1-d label vector.
        try put("idx", "images.idx", Data([0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 2] + Array(0..<12)))
        try put("idx", "labels.idx", Data([0, 0, 0x08, 1, 0, 0, 0, 4, 9, 0, 3, 1]))

        try writeRunStateSeeds(put)
        try writeAdapterFolderSeeds(put)
    }

    /// Seeds of the folder-layout and run-state targets (RunStateTargets.swift).
    static func writeRunStateSeeds(_ put: (String, String, Data) throws -> Void) throws {
        // Folder layouts, one entry per line (FuzzTree): kind byte, then the path.
        try put("image-folder", "flat", FuzzTree.seed(["pcat/a.png", "jcat/b.jpg", "mdog/1.pgm", "pdog/sub/c.PNG", "xdog/notes.txt", "ecat/empty.png",
                                                      "pbird/x.gif", "xstray.png", "d.hidden", "p.hidden/x.png"]))
        try put("image-folder", "splits", FuzzTree.seed(["ptrain/cat/a.png", "ptrain/dog/b.png", "pval/cat/c.png", "pval/fox/d.png",
                                                        "ptest/dog/e.png", "dtest/cat", "lval/dog>../train/dog", "ltrain/loop/x>."]))
        try put("deepfake-folder", "families", FuzzTree.seed(["preal/a.png", "jreal/s1/b.jpg", "pfake/swap/c.png", "pfake/sbi/d.png",
                                                             "pfake/e.png", "xfake/readme.txt", "dfake/empty", "lfake/loop>."]))
        try put("deepfake-folder", "flat", FuzzTree.seed(["mreal/1.pgm", "mfake/2.pgm"]))
        try put("face-folder", "orl", FuzzTree.seed(["ms1/1.pgm", "ms1/2.pgm", "ms2/10.pgm", "ms2/2.pgm", "ms10/1.pgm", "js10/target.jpg",
                                                    "xs3/README", "mstray.pgm", "ms007/1.pgm", "ms99999999999999999999/1.pgm"]))

        // Training checkpoints of the fuzz run (fuzzSession): fresh, after two AdamW steps mid-epoch,
        // and one written by a run with another config (refused with the difference named).
        for (name, steps, position) in [("start", 0, TrainingPosition()), ("mid", 2, TrainingPosition(step: 2, epoch: 1, batchInEpoch: 2)),
                                        ("done", 3, TrainingPosition(step: 3, epoch: 2, finished: true))] {
            let dir = Fuzz.scratch.appendingPathComponent("seed-ckpt-" + name)
            let (session, net) = try fuzzSession(folder: dir)
            let opt = session.optimizer
            for _ in 0..<steps {
                opt.zeroGrad(session.parameters)
                net(Tensor([Float](repeating: 0.5, count: 8), shape: [2, 4])).square().mean().backward()
                opt.step(session.parameters)
            }
            try session.checkpoint(position, progress: "{\"loss\":0.5}", extraTensors: ["best/lin0.weight": net.lin0.weight])
            try put("training-checkpoint", name + ".safetensors", try Data(contentsOf: dir.appendingPathComponent(TrainingCheckpoint.fileName)))
        }
        let other = Fuzz.scratch.appendingPathComponent("seed-ckpt-other")
        let otherNet = try FuzzNet()
        try TrainingSession(command: "fuzz-train", model: otherNet, parameters: otherNet.trainableParameters(), optimizer: AdamW(),
                            config: ["r": "8"], folder: other, every: 0).checkpoint(TrainingPosition(step: 1))
        try put("training-checkpoint", "other-config.safetensors", try Data(contentsOf: other.appendingPathComponent(TrainingCheckpoint.fileName)))

        // Feature-cache entries for fuzzCacheKey: [2, 3] floats, and one that is truncated.
        var entry = Array("PKFEAT1\n".utf8)
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { entry += $0 } }
        u32(fuzzCacheKey.utf8.count); entry += Array(fuzzCacheKey.utf8); u32(2); u32(3)
        entry += floatBytes([0.5, -1, 2, 3e-3, 0, 7])
        try put("feature-cache", "entry.feat", Data(entry))
        try put("feature-cache", "truncated.feat", Data(entry.dropLast(5)))

        try put("label-descriptions", "labels.tsv", Data("# label<TAB>description\npos\ta positive review\r\nneg\ta negative one\n\nvery neutral\tneither\n".utf8))
        try put("label-descriptions", "bad.tsv", Data("émotion\tstrong feeling\nunknown\tnot a label\n".utf8))
    }

    static func floatBytes(_ values: [Float]) -> [UInt8] {
        values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
    }

    /// An adapter saved by PeftModel.save, as one fuzz input.
    static func adapterFolder(_ config: AdapterConfig) throws -> Data {
        let peft = PeftModel(try FuzzNet())
        try peft.addAdapter(config)
        let dir = Fuzz.scratch.appendingPathComponent("seed-adapter")
        try peft.save(to: dir)
        let parts = try ["adapter_config.json", "adapter_model.safetensors"].map { try Data(contentsOf: dir.appendingPathComponent($0)) }
        return Fuzz.join(parts)
    }

    static func kgModelFolder() throws -> Data {
        let ents = Vocabulary(["a", "b", "c"]), rels = Vocabulary(["r"])
        var rng = SplitMix64(seed: 1)
        let rank = 2
        let model = try ComplExModel(
            entityCount: 3, relationCount: 1, rank: rank,
            entity: (0..<(3 * 2 * rank)).map { _ in Float(rng.next() % 1000) / 1000 },
            relation: (0..<(2 * 2 * rank)).map { _ in Float(rng.next() % 1000) / 1000 })
        let dir = Fuzz.scratch.appendingPathComponent("seed-kg")
        try LinkPredictorFiles.save(SavedLinkPredictor(model: model, entities: ents, relations: rels), to: dir)
        let names = [LinkPredictorFiles.configName, LinkPredictorFiles.entitiesName, LinkPredictorFiles.relationsName, LinkPredictorFiles.weightsName]
        return Fuzz.join(try names.map { try Data(contentsOf: dir.appendingPathComponent($0)) })
    }

    // MARK: - Protobuf by hand (ONNX)

    private static func varint(_ v: UInt64) -> [UInt8] {
        var v = v, out: [UInt8] = []
        repeat {
            let byte = UInt8(v & 0x7F)
            v >>= 7
            out.append(v == 0 ? byte : byte | 0x80)
        } while v != 0
        return out
    }
    private static func field(_ number: Int, varint v: UInt64) -> [UInt8] { varint(UInt64(number << 3)) + varint(v) }
    private static func field(_ number: Int, bytes b: [UInt8]) -> [UInt8] { varint(UInt64(number << 3 | 2)) + varint(UInt64(b.count)) + b }
    private static func field(_ number: Int, _ s: String) -> [UInt8] { field(number, bytes: Array(s.utf8)) }

    static func onnxModel() -> Data {
        // TensorProto: dims 1, data_type 2, name 8, raw_data 9.
        let weight = field(1, varint: 2) + field(1, varint: 2) + field(2, varint: 1) + field(8, "w")
            + field(9, bytes: floatBytes([1, 2, 3, 4]))
        let halfBias = field(1, varint: 2) + field(2, varint: 10) + field(8, "b") + field(9, bytes: [0x00, 0x3C, 0x00, 0xC0])
        // AttributeProto: name 1, i 3, ints 8 (packed), type 20.
        let attrInt = field(1, "axis") + field(3, varint: 1) + field(20, varint: 2)
        let attrInts = field(1, "perm") + field(8, bytes: varint(1) + varint(0)) + field(20, varint: 7)
        // NodeProto: input 1, output 2, name 3, op_type 4, attribute 5.
        let node = field(1, "x") + field(1, "w") + field(2, "y") + field(3, "mm") + field(4, "MatMul")
            + field(5, bytes: attrInt) + field(5, bytes: attrInts)
        // GraphProto: node 1, initializer 5, input 11, output 12 (ValueInfoProto name 1).
        let graph = field(1, bytes: node) + field(5, bytes: weight) + field(5, bytes: halfBias)
            + field(11, bytes: field(1, "x")) + field(12, bytes: field(1, "y"))
        // ModelProto: ir_version 1, producer_name 2, graph 7.
        return Data(field(1, varint: 8) + field(2, "peftkit-fuzz") + field(7, bytes: graph))
    }

    // MARK: - CTranslate2 by hand

    static func ctranslate2Model() -> Data {
        var d: [UInt8] = []
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { d += $0 } }
        func str(_ s: String) {
            withUnsafeBytes(of: UInt16(s.utf8.count + 1).littleEndian) { d += $0 }
            d += Array(s.utf8) + [0]
        }
        u32(6); str("WhisperSpec"); u32(3); u32(2)
        // name, rank, dims (u32 each), type id (1 byte), byte count, bytes.
        str("encoder/w"); d.append(2); u32(2); u32(2); d.append(0); u32(16); d += floatBytes([1, 2, 3, 4])
        str("decoder/h"); d.append(1); u32(2); d.append(4); u32(4); d += [0x00, 0x3C, 0x00, 0xC0]
        u32(1); str("decoder/tied"); str("encoder/w")
        return Data(d)
    }
}
