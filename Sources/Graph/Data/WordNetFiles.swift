import Core
import Foundation

/// Readers for WordNet 3.0's `index.*` and `data.*` files (format: wndb(5WN)). Lines starting
/// with two spaces are the license header and are skipped.
extension WordNetGraph {
    /// `"lemma pos"` → synset offsets in sense order (sense n is element n−1).
    static func readIndex(_ path: String) throws -> [String: [String]] {
        var out: [String: [String]] = [:]
        var lineNo = 0
        for line in try lines(path) {
            lineNo += 1
            if line.hasPrefix("  ") || line.isEmpty { continue }
            let f = line.split(separator: " ")
            // lemma pos synset_cnt p_cnt [ptr_symbol × p_cnt] sense_cnt tagsense_cnt [offset × synset_cnt]
            guard f.count >= 4, let synsets = Int(f[2]), let ptrs = Int(f[3]), f.count >= 6 + ptrs + synsets else {
                throw GraphDataError("\(path):\(lineNo): not a WordNet index line (expected 'lemma pos synset_cnt p_cnt …')")
            }
            let offsets = f[(6 + ptrs)..<(6 + ptrs + synsets)].map(String.init)
            out["\(f[0]) \(f[1])"] = offsets
        }
        return out
    }

    /// Every synset of one data file, named from the index (`senses`).
    static func readData(_ path: String, filePOS: String, senses: [String: [String]]) throws -> [Synset] {
        var out: [Synset] = []
        var lineNo = 0
        for line in try lines(path) {
            lineNo += 1
            if line.hasPrefix("  ") || line.isEmpty { continue }
            let body = line.split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false)[0]
            let f = body.split(separator: " ").map(String.init)
            func bad(_ what: String) -> GraphDataError {
                GraphDataError("\(path):\(lineNo): \(what); is this a WordNet 3.0 data file (wndb format)?")
            }
            // offset lex_filenum ss_type w_cnt(hex) [word lex_id(hex)] × w_cnt p_cnt [symbol offset pos src/tgt] × p_cnt …
            guard f.count >= 4, let lexNo = Int(f[1]), let words = Int(f[3], radix: 16), words >= 1,
                  f.count >= 5 + 2 * words else { throw bad("malformed synset header") }
            guard let pCount = Int(f[4 + 2 * words]), f.count >= 5 + 2 * words + 4 * pCount else {
                throw bad("malformed pointer count")
            }
            guard lexNo >= 0 && lexNo < lexicographerFileNames.count else { throw bad("lexicographer file number \(lexNo) out of range") }
            var lemma = f[4].lowercased()
            if let paren = lemma.firstIndex(of: "(") { lemma = String(lemma[..<paren]) }  // adjective markers: "(a)", "(p)", "(ip)"
            let sense = senses["\(lemma) \(filePOS)"]?.firstIndex(of: f[0]).map { $0 + 1 }
            // A lemma missing from the index would be a broken database; keep the offset as the name then.
            let name = sense.map { "\(lemma).\(f[2]).\(String(format: "%02d", $0))" } ?? "\(lemma).\(f[2]).o\(f[0])"
            var ptrs: [(String, String)] = []
            var i = 5 + 2 * words
            for _ in 0..<pCount {
                let targetPOS = f[i + 2] == "s" ? "a" : f[i + 2]
                ptrs.append((f[i], "\(targetPOS):\(f[i + 1])"))
                i += 4
            }
            out.append(Synset(key: "\(filePOS):\(f[0])", name: name, lexfile: lexicographerFileNames[lexNo], pointers: ptrs))
        }
        return out
    }

    private static func lines(_ path: String) throws -> [Substring] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GraphDataError("\(path): cannot read the WordNet file; install Debian's wordnet-base "
                                 + "(apt-get install wordnet-base) or pass --wordnet DIR")
        }
        // The database is ASCII except a few Latin-1 bytes in glosses; decode leniently.
        let text = String(decoding: data, as: UTF8.self)
        return text.textLines()
    }
}
