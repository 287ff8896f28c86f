import Core
import Foundation
import TestSupport

/// The bad files of the bad-input table, built once in a temporary folder: each kind of damage
/// a stranger's file can have (empty, truncated, wrong format, wrong encoding, a header that
/// claims huge dimensions, missing, unreadable), in each format the apps read.
struct BadInputFiles: Sendable {
    let root: String

    static let shared: BadInputFiles = {
        do { return try BadInputFiles() } catch { fatalError("cannot build the bad-input files: \(error)") }
    }()

    func path(_ name: String) -> String { (root as NSString).appendingPathComponent(name) }

    /// A fresh folder for one case's outputs (so "nothing written" can be checked).
    func outputFolder(_ name: String) -> String {
        let p = path("out-\(name)-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        return p
    }

    private init() throws {
        root = try TestPaths.temporaryDirectory().path
        func put(_ name: String, _ bytes: [UInt8]) throws {
            let url = URL(fileURLWithPath: path(name))
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(bytes).write(to: url)
        }
        func put(_ name: String, _ text: String) throws { try put(name, Array(text.utf8)) }
        let png = try [UInt8](Data(contentsOf: TestPaths.fixture("png/rgb8.png")))
        let wav = try [UInt8](Data(contentsOf: TestPaths.fixture("audio/allison_digit1_16k.wav")))
        let goodTensors = try [UInt8](Data(contentsOf: TestPaths.fixture("tiny/bert_tokencls/io.safetensors")))

        // Text formats.
        try put("empty.conll", [])
        try put("latin1.conll", [0x63, 0x61, 0x66, 0xE9, 0x20, 0x4F, 0x0A])            // "café O" in Latin-1
        try put("png.conll", png)                                                       // wrong format
        try put("ragged.conll", "EU B-ORG\nrejects O extra\n\n")                        // column count changes
        // safetensors.
        try put("empty.safetensors", [])
        try put("truncated.safetensors", Array(goodTensors.prefix(goodTensors.count / 2)))
        try put("png.safetensors", png)
        try put("huge.safetensors", Self.safetensors(#"{"w":{"dtype":"F32","shape":[1000000,1000000],"data_offsets":[0,16]}}"#, data: 16))
        try put("lyingprefix.safetensors", [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F] + Array("{}".utf8))
        // A BERT folder whose weights are damaged (config and tokenizer from the tiny fixture).
        let tiny = TestPaths.fixture("tiny/bert_tokencls")
        for name in ["config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"] {
            let src = tiny.appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: src.path) {
                try put("bert-huge/\(name)", [UInt8](Data(contentsOf: src)))
                try put("bert-truncated/\(name)", [UInt8](Data(contentsOf: src)))
            }
        }
        try put("bert-huge/model.safetensors", Self.safetensors(#"{"w":{"dtype":"F32","shape":[1000000,1000000],"data_offsets":[0,16]}}"#, data: 16))
        try put("bert-truncated/model.safetensors", Array(goodTensors.prefix(100)))
        try put("bert-badconfig/config.json", #"{"hidden_size": "wide", "num_hidden_layers": 2}"#)
        try put("bert-badconfig/model.safetensors", goodTensors)
        // Knowledge-graph triples.
        try put("kg-empty/train.txt", [])
        try put("kg-twocolumns/train.txt", "a\tr\nb\tr\n")
        try put("kg-latin1/train.txt", [0x61, 0x09, 0x72, 0x09, 0xE9, 0x0A])
        try put("kg-model-truncated/config.json", #"{"model_type": "complex", "rank": 2,"#)
        // Sound.
        try put("empty.wav", [])
        try put("truncated.wav", Array(wav.prefix(2000)))
        try put("png.wav", png)
        try put("manifest-bad.csv", "only-one-field\n")
        try put("speech-bad.tsv", "clip-without-transcript.wav\n")
        // Images.
        try put("images-empty/train/cat/empty.png", [])
        // A support set whose images are cut short, with an intact test split.
        try put("images-truncated/train/cat/a.png", Array(png.prefix(60)))
        try put("images-truncated/train/dog/b.png", Array(png.prefix(60)))
        try put("images-truncated/test/cat/c.png", png)
        try put("images-truncated/test/dog/d.png", png)
        try put("truncated.png", Array(png.prefix(60)))
        try put("huge.png", [UInt8](Data(contentsOf: TestPaths.fixture("png/corrupt/huge_dims.png"))))
        try put("adapter-badjson/vision_adapt.json", "{ not json")
        try put("adapter-badjson/adapter.json", "{ not json")
        try put("adapter-badjson/adapter_config.json", "{ not json")
        // TIFF scenes (change-detect): empty, cut short, and a 100000 x 100000 float32 header on 264 bytes.
        let tiff = try [UInt8](Data(contentsOf: TestPaths.packageRoot.appendingPathComponent("Tests/VisionTests/Resources/tiff/lzw_rgb8.tif")))
        try put("empty.tif", [])
        try put("truncated.tif", Array(tiff.prefix(tiff.count / 3)))
        try put("huge.tif", Self.hugeTIFF())
        // GEC data (gec-cl).
        try put("bad.m2", "S He go home .\nA 7 8|||R:VERB|||goes|||REQUIRED|||-NONE-|||0\n\n")
        try put("gec-latin1/train.tsv", [0x63, 0x61, 0x66, 0xE9, 0x09, 0x63, 0x61, 0x66, 0xE9, 0x0A])
        try put("gec-badjson/train.jsonl", "{ not json\n")
        try put("gec-notab/train.tsv", "She go .\tShe goes .\nno tab here\n")
        // Labelled texts (crosstune).
        try put("ct-empty.csv", [])
        try put("ct-latin1.tsv", [0x74, 0x65, 0x78, 0x74, 0x09, 0x6C, 0x61, 0x62, 0x65, 0x6C, 0x0A, 0x63, 0x61, 0x66, 0xE9, 0x09, 0x61, 0x0A])
        try put("ct-quote.csv", "text,label\n\"never closed,a\n")
        try put("ct-nolabel.jsonl", "{\"text\": \"hello\"}\n")
        // Data folders: deepfake-detect without fake/, with empty families; face-adapt without images;
        // crosstune label descriptions for a label the topics data does not have.
        try put("df-nofake/real/a.png", png)
        try put("df-nofakes/real/a.png", png)
        try put("df-nofakes/fake/swap/readme.txt", "no images here\n")
        try put("faces-none/s1/notes.txt", "no images here\n")
        try put("ct-labels.tsv", "no-such-topic\tsomething else\n")
        // Unreadable (only meaningful when not running as root: root reads everything).
        try put("unreadable.conll", "EU B-ORG\n")
        chmod(path("unreadable.conll"), 0)
        try put("unreadable.safetensors", goodTensors)
        chmod(path("unreadable.safetensors"), 0)
    }

    /// A little-endian baseline TIFF whose one strip claims 100000 x 100000 float32 pixels, on
    /// far fewer bytes: the reader must refuse it before allocating.
    static func hugeTIFF() -> [UInt8] {
        var b: [UInt8] = [0x49, 0x49, 42, 0, 8, 0, 0, 0]
        func u16(_ v: Int) { b += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
        func u32(_ v: Int) { b += (0..<4).map { UInt8(v >> (8 * $0) & 0xFF) } }
        // (tag, type, count, value): type 3 = SHORT, 4 = LONG.
        let entries: [(Int, Int, Int, Int)] = [
            (256, 4, 1, 100_000), (257, 4, 1, 100_000), (258, 3, 1, 32), (259, 3, 1, 1), (262, 3, 1, 1),
            (273, 4, 1, 200), (277, 3, 1, 1), (278, 4, 1, 100_000), (279, 4, 1, 64), (339, 3, 1, 3),
        ]
        u16(entries.count)
        for (tag, type, count, value) in entries {
            u16(tag); u16(type); u32(count)
            if type == 3 { u16(value); u16(0) } else { u32(value) }
        }
        u32(0)
        while b.count < 264 { b.append(0) }
        return b
    }

    /// A safetensors file with `header` and `data` zero bytes of tensor data.
    static func safetensors(_ header: String, data: Int) -> [UInt8] {
        let json = Array(header.utf8)
        return withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) } + json + [UInt8](repeating: 0, count: data)
    }
}
