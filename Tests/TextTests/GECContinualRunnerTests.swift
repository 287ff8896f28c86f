import Core
import Foundation
import Testing
import TestSupport
@testable import Text

/// The continual runner on the real MiniLM with a tiny two-domain sequence: every method runs
/// and fills a 2×2 matrix, and replay with an empty buffer is exactly sequential LoRA.
@Suite("GEC continual runner on MiniLM")
struct GECContinualRunnerTests {
    static let domains: [GECDomainData.Domain] = {
        func ex(_ s: String, _ r: String, _ c: String) -> GECExample { GECExample(source: s, references: [r], category: c) }
        let a = [ex("the the cat sat .", "the cat sat .", "a"), ex("a dog ran ran .", "a dog ran .", "a"),
                 ex("birds sing sing .", "birds sing .", "a"), ex("fish swim .", "fish swim .", "a")]
        let b = [ex("he go home .", "he goes home .", "b"), ex("she go out .", "she goes out .", "b"),
                 ex("it go away .", "it goes away .", "b"), ex("we go home .", "we go home .", "b")]
        return [.init(name: "a", train: Array(a.prefix(2)), dev: [], test: Array(a.prefix(1))),
                .init(name: "b", train: Array(b.prefix(2)), dev: [], test: Array(b.prefix(1)))]
    }()

    static func options(_ m: GECContinualMethod) -> GECContinualOptions {
        var o = GECContinualOptions()
        o.method = m
        o.epochs = 1
        o.batchSize = 2
        o.correction.iterations = 1
        o.model.maxLength = 16
        o.memoryPerDomain = 1
        o.fisherSamples = 2
        o.ogdSamplesPerDomain = 2
        o.replayPerBatch = 1
        o.seed = 5
        return o
    }

    @Test func everyMethodFillsTheMatrix() throws {
        let folder = try Fixtures.miniLMFolder()
        // seq-lora and replay are covered by the equivalence test below; seq-ft is plain full
        // fine-tuning (the slowest step, no extra machinery).
        for m in [GECContinualMethod.ewc, .gem, .agem, .ogd, .olora] {
            let runner = GECContinualRunner(options: Self.options(m))
            let r = try runner.run(modelFolder: folder, domains: Self.domains)
            #expect(r.matrix.count == 2 && r.matrix.allSatisfy { $0.count == 2 } && r.baseline.count == 2, "\(m)")
            #expect(r.matrix.joined().allSatisfy { (0...1).contains($0) }, "\(m)")
            let metrics = try ContinualMetrics(matrix: r.matrix, baseline: r.baseline)
            #expect(r.averagePerformance == metrics.averagePerformance && r.backwardTransfer == metrics.backwardTransfer)
            if m == .olora { #expect(runner.tagger?.encoderAdapters == ["task0", "task1"]) }
            if m == .gem || m == .agem { #expect(r.gemProjections >= 0) }
        }
    }

    /// Replay whose buffer holds nothing mixes nothing in: same weights as sequential LoRA.
    @Test func emptyReplayEqualsSequential() throws {
        let folder = try Fixtures.miniLMFolder()
        var replay = Self.options(.replay)
        replay.replayCapacity = 0
        let a = GECContinualRunner(options: Self.options(.seqLoRA)), b = GECContinualRunner(options: replay)
        let ra = try a.run(modelFolder: folder, domains: Self.domains), rb = try b.run(modelFolder: folder, domains: Self.domains)
        #expect(ra.matrix == rb.matrix)
        let wa = ParameterVector.values(a.tagger!.trainableParameters()), wb = ParameterVector.values(b.tagger!.trainableParameters())
        #expect(wa == wb)
    }
}
