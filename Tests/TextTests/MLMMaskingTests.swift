import Core
import Foundation
import Testing
import TestSupport
@testable import Text

/// BERT masking (`DataCollatorForLanguageModeling` semantics) checked by its statistics and its
/// invariants, on synthetic id sequences.
@Suite struct MLMMaskingTests {
    // ids 0…4 special ([PAD] [UNK] [CLS] [SEP] [MASK]); 100…199 words; 200…209 "##" pieces.
    let masking = MLMMasking(maskID: 4, padID: 0, vocabularySize: 1000, specialIDs: [0, 1, 2, 3, 4],
                             continuationIDs: Set(200..<210), seed: 11)

    @Test func pickedShareAndEightyTenTen() {
        var picked = 0, masked = 0, random = 0, kept = 0, candidates = 0
        let seq = [2] + (0..<200).map { 100 + $0 % 100 } + [3]
        for stream in 0..<200 {
            let (out, positions) = masking.mask(seq, stream: UInt64(stream))
            candidates += 200
            picked += positions.count
            #expect(!positions.contains(0) && !positions.contains(seq.count - 1), "[CLS]/[SEP] are never picked")
            for p in positions {
                if out[p] == 4 { masked += 1 } else if out[p] == seq[p] { kept += 1 } else { random += 1 }
            }
            // Positions that are not picked are never changed.
            for i in seq.indices where !positions.contains(i) { #expect(out[i] == seq[i]) }
        }
        // 40 000 candidates: the binomial standard deviation of the 15% share is 0.18 points;
        // of the ~6000 picked, the 80/10/10 shares have σ ≈ 0.5 / 0.4 points. Bounds are ≥ 4σ.
        let share = Double(picked) / Double(candidates)
        #expect(abs(share - 0.15) < 0.008, "picked share \(share)")
        let m = Double(masked) / Double(picked), r = Double(random) / Double(picked), k = Double(kept) / Double(picked)
        #expect(abs(m - 0.8) < 0.025, "[MASK] share \(m)")
        // A random replacement can draw the original token (1 in 1000), counted as kept here.
        #expect(abs(r - 0.1) < 0.02, "random share \(r)")
        #expect(abs(k - 0.1) < 0.02, "kept share \(k)")
    }

    @Test func seededAndStreamDependent() {
        let seq = [2] + Array(100..<160) + [3]
        #expect(masking.mask(seq, stream: 5) == masking.mask(seq, stream: 5))
        #expect(masking.mask(seq, stream: 5) != masking.mask(seq, stream: 6))
        var other = masking
        other.seed = 12
        #expect(other.mask(seq, stream: 5) != masking.mask(seq, stream: 5))
    }

    @Test func wholeWordPicksEveryPieceOfAWord() {
        var ww = masking
        ww.wholeWord = true
        // Words: 100 ##200 ##201 | 101 | 102 ##202 …
        var seq = [2]
        for w in 0..<60 { seq += [100 + w] + (w % 3 == 0 ? [200, 201] : w % 3 == 1 ? [] : [202]) }
        seq.append(3)
        var words: [[Int]] = []
        for i in 1..<(seq.count - 1) {
            if (200..<210).contains(seq[i]) { words[words.count - 1].append(i) } else { words.append([i]) }
        }
        var anyPicked = false
        for stream in 0..<50 {
            let picked = Set(ww.mask(seq, stream: UInt64(stream)).picked)
            for w in words {
                let n = w.filter { picked.contains($0) }.count
                #expect(n == 0 || n == w.count, "word at \(w) partly picked")
                anyPicked = anyPicked || n > 0
            }
        }
        #expect(anyPicked)
    }

    @Test func batchPadsAndFlattensPositions() throws {
        let a = [2] + Array(100..<130) + [3], b = [2] + Array(140..<150) + [3]
        let batch = try masking.batch([a, b], streams: [1, 2])
        #expect(batch.input.batch == 2 && batch.input.length == a.count)
        #expect(Array(batch.input.attentionMask[a.count...]) == [Int](repeating: 1, count: b.count) + [Int](repeating: 0, count: a.count - b.count))
        let (_, pa) = masking.mask(a, stream: 1), (_, pb) = masking.mask(b, stream: 2)
        #expect(batch.positions == pa + pb.map { a.count + $0 })
        #expect(batch.targets == pa.map { a[$0] } + pb.map { b[$0] })
        let labels = batch.labels
        #expect(labels.filter { $0 != -100 }.count == batch.positions.count)
    }

    /// The real tokenizer: [MASK] found, specials and `##` pieces classified from the vocabulary.
    @Test func fromMiniLMTokenizer() throws {
        let tok = try WordPieceTokenizer(folder: try Fixtures.miniLMFolder())
        let m = try MLMMasking(tokenizer: tok, seed: 1)
        #expect(m.maskID == 103 && m.vocabularySize == 30522)  // bert-base-uncased vocab: [MASK] = 103
        #expect(m.specialIDs.isSuperset(of: [0, 100, 101, 102, 103]))
        #expect(m.continuationIDs.contains(tok.vocabulary.id(of: "##ing")!))
        #expect(!m.continuationIDs.contains(tok.vocabulary.id(of: "the")!))
    }
}
