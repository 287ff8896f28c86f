import Foundation
import Testing
@testable import Core
import TestSupport

/// AUROC / AP against scikit-learn's values in `fixtures/metrics/roc_ap.json`; EER and TPR@FPR
/// against hand-worked curves.
@Suite struct ROCTests {
    struct Case { let name: String; let labels: [Bool]; let scores: [Double]; let auroc: Double?; let ap: Double }

    static func cases() throws -> [Case] {
        let url = TestPaths.fixture("metrics/roc_ap.json")
        let root = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        return (root["sets"] as! [[String: Any]]).map { s in
            Case(name: s["name"] as! String,
                 labels: (s["y_true"] as! [Int]).map { $0 == 1 },
                 scores: (s["y_score"] as! [NSNumber]).map(\.doubleValue),
                 auroc: (s["roc_auc"] as? NSNumber)?.doubleValue,   // "nan" (a string) when undefined
                 ap: (s["average_precision"] as! NSNumber).doubleValue)
        }
    }

    @Test func aurocAndAveragePrecisionEqualScikitLearn() throws {
        let all = try Self.cases()
        #expect(all.count == 7)
        for c in all {
            let roc = BinaryROC(labels: c.labels, scores: c.scores)
            if let expected = c.auroc {
                let got = try #require(roc.auroc, "\(c.name)")
                #expect(abs(got - expected) < 1e-12, "\(c.name): AUROC \(got) vs sklearn \(expected)")
            } else {
                #expect(roc.auroc == nil, "\(c.name): one class present, AUROC must be undefined")
            }
            #expect(abs(roc.averagePrecision - c.ap) < 1e-12, "\(c.name): AP \(roc.averagePrecision) vs sklearn \(c.ap)")
        }
    }

    @Test func equalErrorRateAndTPRAtFPRByHand() throws {
        // no_ties: scores sorted high→low are P P P N N P N N (4 each), so the ROC points are
        // (0,0) (0,.25) (0,.5) (0,.75) (.25,.75) (.5,.75) (.5,1) (.75,1) (1,1). FNR = FPR = 0.25
        // exactly at (.25,.75): EER 0.25. TPR@FPR: 0.75 up to FPR 0.25 (and at 0), 1 from 0.5.
        let c = try #require(try Self.cases().first { $0.name == "no_ties" })
        let roc = BinaryROC(labels: c.labels, scores: c.scores)
        #expect(roc.points.count == 9)
        #expect(abs(try #require(roc.equalErrorRate) - 0.25) < 1e-12)
        #expect(roc.truePositiveRate(atFalsePositiveRate: 0) == 0.75)
        #expect(roc.truePositiveRate(atFalsePositiveRate: 0.25) == 0.75)
        #expect(roc.truePositiveRate(atFalsePositiveRate: 0.49) == 0.75)
        #expect(roc.truePositiveRate(atFalsePositiveRate: 0.5) == 1.0)

        // Interpolated EER: labels P N P N with scores 4 3 2 1 → points (0,0) (0,.5) (.5,.5)
        // (.5,1) (1,1). FNR − FPR is .5 at (0,.5) and 0 at (.5,.5): EER = 0.5. With P N N P
        // (scores 4 3 2 1): (0,.5) → (.5,.5) → (1,.5) → (1,1); FNR − FPR = .5, 0 → EER 0.5.
        // A case that needs interpolation: P N (tied) at one score, then P: points (0,0)
        // (.., ..) — scores [2, 2, 1], labels [P, N, P]: (0,0) → (1, .5) → (1, 1). FNR − FPR
        // goes 1 → −.5; u = 1/1.5 = 2/3 along the segment, so EER = 2/3.
        let tied = BinaryROC(labels: [true, false, true], scores: [2, 2, 1] as [Double])
        #expect(abs(try #require(tied.equalErrorRate) - 2.0 / 3.0) < 1e-12)
        #expect(tied.truePositiveRate(atFalsePositiveRate: 0.5) == 0)

        let oneClass = BinaryROC(labels: [false, false], scores: [0.1, 0.2] as [Double])
        #expect(oneClass.equalErrorRate == nil && oneClass.truePositiveRate(atFalsePositiveRate: 0.1) == nil)
    }
}
