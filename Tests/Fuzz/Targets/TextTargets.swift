import Core
import Foundation
import Text

// Targets for the text formats: Hugging Face tokenizer files, CLIP's gzip merges, CoNLL,
// WordNet database lines, DAPT plain text and BERT config.json.

/// A sentence every loaded tokenizer must handle (accents, CJK, an emoji, control bytes).
private let probeText = "Héllo, wörld! 東京 naïve café \u{1F600} tab\there [MASK] end.\u{0}"

let textFuzzTargets: [FuzzTarget] = [
    FuzzTarget(name: "wordpiece-json", summary: "a BERT tokenizer.json, then tokenizing a probe sentence") { data in
        Fuzz.attempt(naming: "tokenizer.json") {
            let t = try WordPieceTokenizer(tokenizerJSON: data, source: "tokenizer.json")
            _ = t.encode(probeText, pair: "second", truncation: .init(maxLength: 16))
            _ = t.tokenize(probeText)
        }
    },
    FuzzTarget(name: "wordpiece-vocab", summary: "a BERT vocab.txt, then tokenizing a probe sentence") { data in
        Fuzz.attempt(naming: "vocab.txt") {
            let t = try WordPieceTokenizer(vocabData: data, source: "vocab.txt")
            _ = t.encode(words: probeText.split(separator: " ").map(String.init))
        }
    },
    FuzzTarget(name: "bytebpe-json", summary: "a GPT-2/Whisper byte-level BPE tokenizer.json, then encode and decode") { data in
        Fuzz.attempt(naming: "tokenizer.json") {
            let t = try ByteBPETokenizer(tokenizerJSON: data, source: "tokenizer.json")
            let ids = t.encode(probeText, addSpecialTokens: true)
            _ = t.decode(ids + [-1, 1 << 40], skipSpecialTokens: false)
        }
    },
    FuzzTarget(name: "clip-merges", summary: "CLIP's bpe_simple_vocab merges (gzip), then tokenizing a probe sentence", maxLength: 16_384) { data in
        if Fuzz.alsoThroughFile(data) {
            let url = Fuzz.file("bpe_simple_vocab_16e6.txt.gz", data)
            Fuzz.attempt(naming: url.path) { _ = try CLIPTokenizer(mergesFile: url) }
        }
        Fuzz.attempt(naming: "merges.txt.gz") {
            let t = try CLIPTokenizer(mergesData: [UInt8](data), source: "merges.txt.gz", gzipped: true)
            _ = try? t.tokenize(probeText)
            _ = t.decode(t.encode(probeText) + [-3, 1 << 40])
        }
    },
    FuzzTarget(name: "gzip", summary: "gzip / DEFLATE streams through the built-in inflater (4 MB output cap)") { data in
        Fuzz.attempt(naming: "input.gz") { _ = try Gzip.decompress([UInt8](data), source: "input.gz", maxOutputBytes: 1 << 22) }
    },
    FuzzTarget(name: "conll", summary: "a CoNLL NER file with each reader setting, and ner-tune's input reader", maxLength: 8192) { data in
        if Fuzz.alsoThroughFile(data) {
            let url = Fuzz.file("input.conll", data)
            Fuzz.attempt(naming: url.path) { _ = try CoNLLReader().read(path: url.path) }
            Fuzz.attempt(naming: url.path) { _ = try NERInputFile.read(path: url.path) }
        }
        // What read(path:) does after reading the bytes: UTF-8 or the notUTF8 error.
        guard let text = String(data: data, encoding: .utf8) else { return }
        for reader in [CoNLLReader(), CoNLLReader(tagColumn: 1), CoNLLReader(convertToIOB2: false)] {
            Fuzz.attempt(naming: "input.conll") { _ = try reader.parse(text, path: "input.conll") }
        }
        Fuzz.attempt(naming: "input.conll") { _ = try NERInputFile.parse(text, path: "input.conll") }
    },
    FuzzTarget(name: "wordnet-ner", summary: "WordNet data.noun lines and index.sense lines as the NER builder reads them", maxLength: 8192) { data in
        guard let text = String(data: data, encoding: .utf8) else { return }  // read(file:) refuses non-UTF-8 first
        Fuzz.attempt(naming: "data.noun") { _ = try WordNetReader.parse(text, path: "data.noun") }
        Fuzz.attempt(naming: "index.noun") { _ = try WordNetReader.parseIndex(text, path: "index.noun") }
    },
    FuzzTarget(name: "dapt-text", summary: "DAPT plain-text corpora in UTF-8 and Latin-1, and JSON lines", maxLength: 8192) { data in
        for encoding in DAPTTextEncoding.allCases {
            Fuzz.attempt(naming: "corpus.txt") { _ = try DAPTTextReader.read(data: data, path: "corpus.txt", encoding: encoding) }
        }
        Fuzz.attempt(naming: "corpus.jsonl") { _ = try DAPTTextReader.read(data: data, path: "corpus.jsonl") }
    },
    FuzzTarget(name: "bert-config", summary: "a BERT config.json mapped to BertConfig and validated") { data in
        Fuzz.attempt(naming: "config.json") {
            let c = try data.withUnsafeBytes { try BertConfig(json: try JSONConfig(parsing: $0, file: "config.json")) }
            try c.validate(file: "config.json")
        }
    },
]
