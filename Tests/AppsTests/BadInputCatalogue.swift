import Foundation

/// The rows of the bad-input table, per app. `problem` is the part of the message that says
/// what is wrong (checked case-insensitively); `names` is the path the message must name.
extension BadInputCase {
    static let catalogue: [BadInputCase] = nerTune + peftInspect + kgQuery + audioAdapt + visionAdapt + avsrTune + demo
        + changeDetect + gecCL + crossTune + dataFolders

    static let nerTune: [BadInputCase] = [
        row("ner-tune", .empty, "training CoNLL", problem: "no token lines", names: { $0.path("empty.conll") }) { f, o in
            ["train", "--train", f.path("empty.conll"), "--dev", f.path("empty.conll"), "--out", o + "/run"] },
        row("ner-tune", .wrongEncoding, "training CoNLL in Latin-1", problem: "not UTF-8", names: { $0.path("latin1.conll") }) { f, o in
            ["train", "--train", f.path("latin1.conll"), "--dev", f.path("latin1.conll"), "--out", o + "/run"] },
        row("ner-tune", .wrongFormat, "PNG given as CoNLL", problem: "not UTF-8", names: { $0.path("png.conll") }) { f, o in
            ["train", "--train", f.path("png.conll"), "--dev", f.path("png.conll"), "--out", o + "/run"] },
        row("ner-tune", .malformed, "CoNLL with a changing column count", problem: "found 3 column(s) but line 1 has 2", names: { $0.path("ragged.conll") }) { f, o in
            ["train", "--train", f.path("ragged.conll"), "--dev", f.path("ragged.conll"), "--out", o + "/run"] },
        row("ner-tune", .missing, "training file", problem: "doesn’t exist", names: { $0.path("nope.conll") }) { f, o in
            ["train", "--train", f.path("nope.conll"), "--out", o + "/run"] },
        row("ner-tune", .permissionDenied, "training file", problem: "permission", names: { $0.path("unreadable.conll") }) { f, o in
            ["train", "--train", f.path("unreadable.conll"), "--out", o + "/run"] },
        row("ner-tune", .hugeDimensions, "model weights claiming 10^12 floats", problem: "needs 4000000000000 bytes", names: { $0.path("bert-huge") }) { f, o in
            ["train", "--model", f.path("bert-huge"), "--out", o + "/run"] },
        row("ner-tune", .truncated, "model weights", problem: "larger than the file", names: { $0.path("bert-truncated") }) { f, o in
            ["train", "--model", f.path("bert-truncated"), "--out", o + "/run"] },
        row("ner-tune", .malformed, "config.json with a string size", problem: "expected an integer", names: { $0.path("bert-badconfig") }) { f, o in
            ["train", "--model", f.path("bert-badconfig"), "--out", o + "/run"] },
        row("ner-tune", .missing, "adapter folder for predict", problem: "no label_map.json", names: { $0.path("no-adapter") }) { f, o in
            ["predict", "--adapter", f.path("no-adapter"), "--input", "data/text/test.conll", "--output", o + "/pred.conll"] },
        row("ner-tune", .malformed, "adapter folder with broken JSON", problem: "no label_map.json", names: { $0.path("adapter-badjson") }) { f, o in
            ["eval", "--adapter", f.path("adapter-badjson"), "--data", "data/text/test.conll", "--json", o + "/r.json"] },
    ]

    static let peftInspect: [BadInputCase] = [
        row("peft-inspect", .empty, "checkpoint", problem: "file is 0 bytes", names: { $0.path("empty.safetensors") }) { f, _ in [f.path("empty.safetensors")] },
        row("peft-inspect", .truncated, "checkpoint", problem: "run past the data section", names: { $0.path("truncated.safetensors") }) { f, _ in [f.path("truncated.safetensors")] },
        row("peft-inspect", .wrongFormat, "PNG given as a checkpoint", problem: "larger than the file", names: { $0.path("png.safetensors") }) { f, _ in [f.path("png.safetensors")] },
        row("peft-inspect", .hugeDimensions, "header claiming 10^12 floats", problem: "needs 4000000000000 bytes", names: { $0.path("huge.safetensors") }) { f, _ in [f.path("huge.safetensors")] },
        row("peft-inspect", .hugeDimensions, "header length prefix of 2^63", problem: "larger than the file", names: { $0.path("lyingprefix.safetensors") }) { f, _ in [f.path("lyingprefix.safetensors")] },
        row("peft-inspect", .missing, "checkpoint", problem: "no such file", names: { $0.path("nope.safetensors") }) { f, _ in [f.path("nope.safetensors")] },
        row("peft-inspect", .permissionDenied, "checkpoint", problem: "permission", names: { $0.path("unreadable.safetensors") }) { f, _ in [f.path("unreadable.safetensors")] },
    ]

    static let kgQuery: [BadInputCase] = [
        row("kg-query", .empty, "train.txt", problem: "no triples", names: { $0.path("kg-empty/train.txt") }) { f, o in
            ["train", "--data", f.path("kg-empty"), "--out", o + "/model", "--quiet"] },
        row("kg-query", .malformed, "triples with two columns", problem: "expected 3 non-empty fields", names: { $0.path("kg-twocolumns/train.txt") }) { f, o in
            ["train", "--data", f.path("kg-twocolumns"), "--out", o + "/model", "--quiet"] },
        row("kg-query", .wrongEncoding, "triples in Latin-1", problem: "not UTF-8", names: { $0.path("kg-latin1/train.txt") }) { f, o in
            ["train", "--data", f.path("kg-latin1"), "--out", o + "/model", "--quiet"] },
        row("kg-query", .missing, "data folder", problem: "not a folder", names: { $0.path("no-kg") }) { f, o in
            ["queries", "--data", f.path("no-kg"), "--out", o + "/q.jsonl"] },
        row("kg-query", .truncated, "model config.json", problem: "invalid JSON", names: { $0.path("kg-model-truncated/config.json") }) { f, o in
            ["answer", "--model", f.path("kg-model-truncated"), "r(a)"] },
    ]

    static let audioAdapt: [BadInputCase] = [
        row("audio-adapt", .malformed, "adapter manifest JSON", problem: "not a valid adapter manifest", names: { $0.path("adapter-badjson/adapter.json") }) { f, _ in
            ["predict", "--adapter", f.path("adapter-badjson"), f.path("empty.wav")] },
        row("audio-adapt", .missing, "adapter folder", problem: "missing or unreadable", names: { $0.path("no-adapter") }) { f, _ in
            ["predict", "--adapter", f.path("no-adapter"), f.path("truncated.wav")] },
        row("audio-adapt", .malformed, "CSV manifest", problem: "expected path,label[,fold]", names: { $0.path("manifest-bad.csv") }) { f, o in
            ["train", "--data", f.path("manifest-bad.csv"), "--method", "linear", "--out", o + "/a"] },
    ]

    static let visionAdapt: [BadInputCase] = [
        row("vision-adapt", .empty, "image in the data folder", problem: "empty file", names: { $0.path("images-empty") }) { f, o in
            ["train", "--data", f.path("images-empty"), "--shots", "1", "--out", o + "/a", "--strict"] },
        row("vision-adapt", .truncated, "PNG in the support set", problem: "unexpected end of data", names: { $0.path("images-truncated/train/cat/a.png") }) { f, o in
            ["train", "--data", f.path("images-truncated"), "--shots", "1", "--out", o + "/a", "--strict"] },
        row("vision-adapt", .missing, "adapter folder", problem: "not found", names: { $0.path("no-adapter") }) { f, _ in
            ["predict", "--adapter", f.path("no-adapter"), f.path("truncated.png")] },
        row("vision-adapt", .malformed, "adapter manifest JSON", problem: "cannot be read", names: { $0.path("adapter-badjson/vision_adapt.json") }) { f, _ in
            ["predict", "--adapter", f.path("adapter-badjson"), f.path("huge.png")] },
    ]

    static let avsrTune: [BadInputCase] = [
        row("avsr-tune", .truncated, "WAV to transcribe", problem: "truncated WAV", names: { $0.path("truncated.wav") }) { f, _ in
            ["transcribe", f.path("truncated.wav")] },
        row("avsr-tune", .wrongFormat, "PNG given as sound", problem: "not a readable sound file", names: { $0.path("png.wav") }) { f, _ in
            ["transcribe", f.path("png.wav")] },
        row("avsr-tune", .malformed, "speech manifest", problem: "expected path<TAB>transcript", names: { $0.path("speech-bad.tsv") }) { f, _ in
            ["eval", "--data", f.path("speech-bad.tsv")] },
        row("avsr-tune", .missing, "model folder", problem: "no such file or folder", names: { $0.path("no-model") }) { f, _ in
            ["transcribe", "--model", f.path("no-model"), f.path("truncated.wav")] },
    ]

    static let demo: [BadInputCase] = [
        row("peftkit-demo", .malformed, "--steps value", problem: "is not an integer", names: { _ in "steps" }) { _, _ in ["toy", "--steps", "many"] },
    ]

    // Parsers that landed later: change-detect's TIFF/GeoTIFF scenes, gec-cl's M2/TSV/JSON lines,
    // crosstune's CSV/TSV/JSON-lines inputs. Each reads its data before loading a model.
    static let changeDetect: [BadInputCase] = [
        row("change-detect", .empty, "scene TIFF", problem: "empty", names: { $0.path("empty.tif") }) { f, o in
            ["make-data", "--scene", f.path("empty.tif"), "--out", o + "/data"] },
        row("change-detect", .truncated, "scene TIFF", problem: "truncated", names: { $0.path("truncated.tif") }) { f, o in
            ["make-data", "--scene", f.path("truncated.tif"), "--out", o + "/data"] },
        row("change-detect", .hugeDimensions, "TIFF claiming 100000 x 100000 float32 pixels", problem: "refusing to allocate", names: { $0.path("huge.tif") }) { f, o in
            ["make-data", "--scene", f.path("huge.tif"), "--out", o + "/data"] },
        row("change-detect", .missing, "scene", problem: "not found", names: { $0.path("nope.tif") }) { f, o in
            ["make-data", "--scene", f.path("nope.tif"), "--out", o + "/data"] },
    ]

    static let gecCL: [BadInputCase] = [
        row("gec-cl", .malformed, "M2 with a span outside the sentence", problem: "span", names: { $0.path("bad.m2") }) { f, _ in
            ["score", "--hyp", f.path("bad.m2"), "--ref", f.path("bad.m2")] },
        row("gec-cl", .wrongEncoding, "training TSV in Latin-1", problem: "not UTF-8", names: { $0.path("gec-latin1/train.tsv") }) { f, o in
            ["run", "--data", f.path("gec-latin1"), "--out", o + "/run"] },
        row("gec-cl", .malformed, "training JSON lines that are not JSON", problem: "not a JSON object", names: { $0.path("gec-badjson/train.jsonl") }) { f, o in
            ["run", "--data", f.path("gec-badjson"), "--out", o + "/run"] },
        row("gec-cl", .malformed, "TSV line without a tab", problem: "no tab", names: { $0.path("gec-notab/train.tsv") }) { f, o in
            ["run", "--data", f.path("gec-notab"), "--out", o + "/run"] },
        row("gec-cl", .missing, "data folder", problem: "no train.jsonl", names: { $0.path("no-gec") }) { f, o in
            ["run", "--data", f.path("no-gec"), "--out", o + "/run"] },
    ]

    static let crossTune: [BadInputCase] = [
        row("crosstune", .empty, "training CSV", problem: "the file is empty", names: { $0.path("ct-empty.csv") }) { f, o in
            ["train", "--endpoint", "local", "--train", f.path("ct-empty.csv"), "--test", f.path("ct-empty.csv"), "--out", o + "/ct"] },
        row("crosstune", .wrongEncoding, "training TSV in Latin-1", problem: "not valid UTF-8", names: { $0.path("ct-latin1.tsv") }) { f, o in
            ["train", "--endpoint", "local", "--train", f.path("ct-latin1.tsv"), "--test", f.path("ct-latin1.tsv"), "--out", o + "/ct"] },
        row("crosstune", .malformed, "CSV with an unclosed quote", problem: "never closed", names: { $0.path("ct-quote.csv") }) { f, o in
            ["train", "--endpoint", "local", "--train", f.path("ct-quote.csv"), "--test", f.path("ct-quote.csv"), "--out", o + "/ct"] },
        row("crosstune", .malformed, "JSON lines without a label", problem: "no string or integer 'label'", names: { $0.path("ct-nolabel.jsonl") }) { f, o in
            ["train", "--endpoint", "local", "--train", f.path("ct-nolabel.jsonl"), "--test", f.path("ct-nolabel.jsonl"), "--out", o + "/ct"] },
        row("crosstune", .missing, "test file", problem: "cannot read the file", names: { $0.path("ct-nope.tsv") }) { f, o in
            ["train", "--endpoint", "local", "--train", "data/text/topics/train.tsv", "--test", f.path("ct-nope.tsv"), "--out", o + "/ct"] },
    ]

    // The folder layouts and side files the fuzz targets image-folder, deepfake-folder,
    // face-folder and label-descriptions reach (read before any model is loaded).
    static let dataFolders: [BadInputCase] = [
        row("deepfake-detect", .missing, "fake/ folder of --data", problem: "the fake image folder does not exist", names: { $0.path("df-nofake/fake") }) { f, o in
            ["train", "--data", f.path("df-nofake"), "--out", o + "/gend"] },
        row("deepfake-detect", .malformed, "fake family folders holding no image", problem: "no fake images", names: { $0.path("df-nofakes/fake") }) { f, o in
            ["train", "--data", f.path("df-nofakes"), "--out", o + "/gend"] },
        row("face-adapt", .malformed, "face folder whose identities hold no image", problem: "no identity folder holds an image", names: { $0.path("faces-none") }) { f, o in
            ["train", "--data", f.path("faces-none"), "--out", o + "/face"] },
        row("crosstune", .malformed, "label descriptions naming a label the data lacks", problem: "never occurs in the data", names: { $0.path("ct-labels.tsv") }) { f, o in
            ["train", "--endpoint", "local", "--train", "data/text/topics/train.tsv", "--test", "data/text/topics/test.tsv", "--labels", f.path("ct-labels.tsv"),
             "--out", o + "/ct"] },
    ]
}
