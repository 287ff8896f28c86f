import Core
import Foundation

/// Problems with DAPT input text or options. Each is one line naming the file and place.
public struct DAPTError: Error, CustomStringConvertible, Equatable, LocalizedError {
    public let description: String
    public init(_ description: String) { self.description = description }
    public var errorDescription: String? { description }
}

/// How to decode the bytes of a text file.
public enum DAPTTextEncoding: String, Sendable, CaseIterable {
    /// Strict UTF-8: an invalid byte is an error naming the file and byte offset.
    case utf8
    /// ISO-8859-1: every byte is the code point of the same value (never fails).
    case latin1
}

/// Unlabelled text for domain-adaptive pre-training: one document or sentence per line in a
/// `.txt` file, or one JSON object per line with a `text` string field in a `.jsonl` file.
/// Blank lines are skipped; a file with no text at all is an error (it is almost always a wrong
/// path or a failed export).
public enum DAPTTextReader {
    /// Reads every file, in order, to a list of non-empty lines (trimmed of surrounding whitespace).
    public static func read(_ paths: [String], encoding: DAPTTextEncoding = .utf8) throws -> [String] {
        guard !paths.isEmpty else { throw DAPTError("no text file given; pass --text FILE… (.txt one document per line, or .jsonl with a \"text\" field)") }
        var out: [String] = []
        for path in paths { out += try read(path, encoding: encoding) }
        return out
    }

    /// The lines of one file.
    public static func read(_ path: String, encoding: DAPTTextEncoding = .utf8) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DAPTError("\(path): cannot read the text file; check the path")
        }
        return try read(data: data, path: path, encoding: encoding)
    }

    /// The lines of one file's bytes; `path` names it in messages and its `.jsonl` extension
    /// selects the JSON-lines layout.
    public static func read(data: Data, path: String, encoding: DAPTTextEncoding = .utf8) throws -> [String] {
        let text = try decode(Array(data), path: path, encoding: encoding)
        let lines = text.split(omittingEmptySubsequences: true) { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }
        var out: [String] = []
        if path.lowercased().hasSuffix(".jsonl") {
            var number = 0
            for raw in text.textLines() {
                number += 1
                let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
                if line.isEmpty { continue }
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                    throw DAPTError("\(path):\(number): not a JSON object; a .jsonl file needs one {\"text\": \"…\"} object per line")
                }
                guard let value = object["text"] as? String else {
                    throw DAPTError("\(path):\(number): no string field \"text\" (fields: \(object.keys.sorted().joined(separator: ", "))); put each document in \"text\"")
                }
                let t = value.trimmingCharacters(in: .whitespacesAndNewlines)
                if !t.isEmpty { out.append(t) }
            }
        } else {
            for l in lines {
                let t = l.trimmingCharacters(in: .whitespacesAndNewlines)
                if !t.isEmpty { out.append(t) }
            }
        }
        guard !out.isEmpty else {
            throw DAPTError("\(path): the file has no text (\(data.count) bytes, no non-blank line); give a file with one document or sentence per line")
        }
        return out
    }

    /// Decodes `bytes`; with `.utf8` the first invalid sequence is an error with its byte offset.
    static func decode(_ bytes: [UInt8], path: String, encoding: DAPTTextEncoding) throws -> String {
        switch encoding {
        case .latin1:
            return String(decoding: bytes.map { UInt16($0) }, as: UTF16.self)
        case .utf8:
            var offset = 0
            var parser = Unicode.UTF8.ForwardParser()
            var it = bytes.makeIterator()
            loop: while true {
                switch parser.parseScalar(from: &it) {
                case let .valid(scalar): offset += scalar.count
                case .emptyInput: break loop
                case .error:
                    let b = String(format: "0x%02X", bytes[offset])
                    throw DAPTError("\(path): byte offset \(offset) (\(b)) is not valid UTF-8; convert the file to UTF-8 or pass --encoding latin1")
                }
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    }
}

/// Token sequences packed from text for masked-LM training, as `run_mlm.py`'s `group_texts`:
/// the lines' tokens are concatenated (a `[SEP]` between documents) and cut into pieces of
/// `maxLength − 2` tokens, each wrapped in `[CLS] … [SEP]`. Nothing is dropped: a line longer
/// than one sequence continues in the next (counted in `splitLines`), the last piece is short.
public struct PackedSequences: Sendable {
    /// Each sequence's ids, `[CLS]` and `[SEP]` included.
    public var sequences: [[Int]]
    /// Lines whose tokens did not fit in one sequence and were split across sequences.
    public var splitLines: Int
    /// Text tokens (without the added `[CLS]`/`[SEP]`).
    public var tokenCount: Int

    /// Packs `lines` with `tokenizer` into sequences of at most `maxLength` positions.
    public init(lines: [String], tokenizer: WordPieceTokenizer, maxLength: Int) throws {
        guard maxLength >= 8 else { throw DAPTError("--max-len must be at least 8 (got \(maxLength))") }
        let room = maxLength - 2
        var stream: [Int] = []
        var split = 0
        for line in lines {
            let ids = Array(tokenizer.wordPieces(line).joined())
            if ids.isEmpty { continue }
            if ids.count > room { split += 1 }
            if !stream.isEmpty { stream.append(tokenizer.sepID) }
            stream += ids
        }
        var out: [[Int]] = []
        var start = 0
        while start < stream.count {
            let end = min(start + room, stream.count)
            var piece = Array(stream[start..<end])
            // A document separator at a cut would only give an empty-looking `[SEP] [SEP]`.
            if piece.first == tokenizer.sepID { piece.removeFirst() }
            if !piece.isEmpty { out.append([tokenizer.clsID] + piece + [tokenizer.sepID]) }
            start = end
        }
        sequences = out
        splitLines = split
        tokenCount = stream.count
    }
}

/// The fixed split of DAPT text into training and held-out lines: a seeded shuffle of the line
/// indices, the first `fraction` (at least one line, at most `maxLines`) held out. The same
/// lines and seed always give the same split, so perplexities of runs are comparable.
public struct DAPTSplit: Sendable {
    public var train: [String]
    public var heldOut: [String]

    public init(lines: [String], fraction: Double, maxLines: Int, seed: UInt64) throws {
        guard lines.count >= 2 else {
            throw DAPTError("DAPT needs at least 2 lines of text (one to train on, one held out for perplexity); got \(lines.count)")
        }
        guard fraction > 0 && fraction < 1 else { throw DAPTError("held-out fraction must be in (0, 1) (got \(fraction))") }
        var order = Array(lines.indices)
        var rng = SplitMix64(seed: seed)
        WordNetNERBuilder.shuffle(&order, &rng)
        let n = max(1, min(maxLines, Int((Double(lines.count) * fraction).rounded()), lines.count - 1))
        let held = Set(order.prefix(n))
        // Keep file order within each part (reading order matters for packing).
        heldOut = lines.indices.filter { held.contains($0) }.map { lines[$0] }
        train = lines.indices.filter { !held.contains($0) }.map { lines[$0] }
    }
}
