import Core
import Foundation
import Text

// Targets for the text formats: Hugging Face tokenizer files, CLIP's gzip merges, CoNLL,
// WordNet database lines, DAPT plain text and BERT config.json.

/// A sentence every loaded tokenizer must handle (accents, CJK, an emoji, control bytes).
private let probeText = "Héllo, wörld! 東京 naïve café \u{1F600} tab\there [MASK] end.\u{0}"

let textFuzzTargets: [FuzzTarget] = [
    FuzzTarget(name: "wordpiece-json", summary: "a BERT tokenizer.json, then tokenizing a probe sentence") { data in
        let url = Fuzz.file("tokenizer.json", data)
        Fuzz.attempt(naming: url.path) {
            let t = try WordPieceTokenizer(tokenizerJSON: url.path)
            _ = t.encode(probeText, pair: "second", truncation: .init(maxLength: 16))
            _ = t.tokenize(probeText)
        }
    },
    FuzzTarget(name: "wordpiece-vocab", summary: "a BERT vocab.txt, then tokenizing a probe sentence") { data in
        let url = Fuzz.file("vocab.txt", data)
        Fuzz.attempt(naming: url.path) {
            let t = try WordPieceTokenizer(vocabFile: url.path)
            _ = t.encode(words: probeText.split(separator: " ").map(String.init))
        }
    },
    FuzzTarget(name: "bytebpe-json", summary: "a GPT-2/Whisper byte-level BPE tokenizer.json, then encode and decode") { data in
        let url = Fuzz.file("tokenizer.json", data)
        Fuzz.attempt(naming: url.path) {
            let t = try ByteBPETokenizer(tokenizerJSON: url)
            let ids = t.encode(probeText, addSpecialTokens: true)
            _ = t.decode(ids + [-1, 1 << 40], skipSpecialTokens: false)
        }
    },
    FuzzTarget(name: "clip-merges", summary: "CLIP's bpe_simple_vocab merges (gzip), then tokenizing a probe sentence") { data in
        let url = Fuzz.file("bpe_simple_vocab_16e6.txt.gz", data)
        Fuzz.attempt(naming: url.path) {
            let t = try CLIPTokenizer(mergesFile: url)
            _ = try? t.tokenize(probeText)
            _ = t.decode(t.encode(probeText) + [-3, 1 << 40])
        }
    },
    FuzzTarget(name: "gzip", summary: "gzip / DEFLATE streams through the built-in inflater (4 MB output cap)") { data in
        Fuzz.attempt(naming: "input.gz") { _ = try Gzip.decompress([UInt8](data), source: "input.gz", maxOutputBytes: 1 << 22) }
    },
    FuzzTarget(name: "conll", summary: "a CoNLL NER file with each reader setting, and ner-tune's input reader") { data in
        let url = Fuzz.file("input.conll", data)
        for reader in [CoNLLReader(), CoNLLReader(tagColumn: 1), CoNLLReader(convertToIOB2: false)] {
            Fuzz.attempt(naming: url.path) { _ = try reader.read(path: url.path) }
        }
        Fuzz.attempt(naming: url.path) { _ = try NERInputFile.read(path: url.path) }
    },
    FuzzTarget(name: "wordnet-ner", summary: "WordNet data.noun lines and index.sense lines as the NER builder reads them") { data in
        let url = Fuzz.file("data.noun", data)
        Fuzz.attempt(naming: url.path) { _ = try WordNetReader.read(file: url.path) }
        Fuzz.attempt(naming: url.path) { _ = try WordNetReader.readIndex(file: url.path) }
    },
    FuzzTarget(name: "dapt-text", summary: "DAPT plain-text corpora in UTF-8 and Latin-1") { data in
        let url = Fuzz.file("corpus.txt", data)
        for encoding in DAPTTextEncoding.allCases {
            Fuzz.attempt(naming: url.path) { _ = try DAPTTextReader.read(url.path, encoding: encoding) }
        }
    },
    FuzzTarget(name: "bert-config", summary: "a BERT config.json mapped to BertConfig and validated") { data in
        let url = Fuzz.file("config.json", data)
        Fuzz.attempt(naming: url.path) {
            let c = try BertConfig(contentsOf: url)
            try c.validate(file: url.path)
        }
    },
]
