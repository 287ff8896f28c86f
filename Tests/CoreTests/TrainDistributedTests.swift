import Core
import Foundation
import Testing
import TestSupport

/// Data parallelism in one process: `ThreadGroup` runs N replicas as threads with MPI's
/// collectives over shared memory, so the whole `TrainingSession` path (sharding, weighted
/// all-reduce of the trainable gradients only, identical optimizer steps) is compared with one
/// process training on the whole batches. The independent reference is the plain
/// single-process loop: it never touches `Distributed`.
@Suite struct TrainDistributedTests {
    static let config = TransformerLayerConfig(dim: 8, numHeads: 2, ffnDim: 16)

    /// A LoRA'd tiny encoder classifier; the same seed gives the same starting weights.
    static func model(dropout: Float = 0) throws -> (TinyEncoderClassifier, [(String, Tensor)]) {
        var c = config
        c.hiddenDropout = dropout
        let m = try TinyEncoderClassifier(vocab: OrderTask.vocab, maxLength: 8, config: c, numLayers: 2, numClasses: 2, store: .random(seed: 9), seed: 5)
        let peft = PeftModel(m)
        var a = AdapterConfig.lora(r: 2, alpha: 4, targets: ["query", "value"])
        a.modulesToSave = ["classifier"]
        try peft.addAdapter(a)
        return (m, peft.trainableParameters())
    }

    /// Global batches of different sizes, the last ones smaller than usual and one smaller than
    /// the number of ranks, so uneven shards and an empty shard are exercised.
    static func batches() -> [(ids: [Int], labels: [Int])] {
        var rng = SplitMix64(seed: 21)
        return [8, 7, 8, 5, 1].map { OrderTask.batch(size: $0, length: 6, using: &rng) }
    }

    /// One optimizer step on `rows` of a batch; returns nothing, updates `params`.
    static func step(_ m: TinyEncoderClassifier, _ params: [(String, Tensor)], _ opt: AdamW, batch: (ids: [Int], labels: [Int]),
                     rows: Range<Int>, session: TrainingSession?) throws {
        let length = 6
        if !rows.isEmpty {
            let ids = Array(batch.ids[(rows.lowerBound * length)..<(rows.upperBound * length)])
            let logits = try m(ids, batch: rows.count, length: length)
            logits.crossEntropyLoss(targets: Array(batch.labels[rows])).backward()
        }
        try session?.averageGradients(localWeight: Double(rows.count))
        clipGradNorm(params, maxNorm: 1.0)
        opt.step(params)
        opt.zeroGrad(params)
    }

    static func relativeDifference(_ a: [(String, Tensor)], _ b: [(String, [Float])]) -> Float {
        var worst: Float = 0
        for ((_, x), (_, y)) in zip(a, b) {
            let scale = max(x.storage.map(abs).max() ?? 0, 1e-12)
            worst = max(worst, (zip(x.storage, y).map { abs($0 - $1) }.max() ?? 0) / scale)
        }
        return worst
    }

    @Test("2 ranks × half batches give the single-process weights (1e-6 relative), identical on both ranks")
    func twoRanksMatchOneProcess() throws {
        let data = Self.batches()
        let (single, singleParams) = try Self.model()
        let singleOpt = AdamW(learningRate: 1e-2, weightDecay: 0.01)
        for b in data { try Self.step(single, singleParams, singleOpt, batch: b, rows: 0..<b.labels.count, session: nil) }

        let results = ResultBox()
        try ThreadGroup.run(ranks: 2) { world in
            let (m, params) = try Self.model()
            let opt = AdamW(learningRate: 1e-2, weightDecay: 0.01)
            let session = try TrainingSession(command: "test", model: m, parameters: params, optimizer: opt, config: [:],
                                              folder: nil, every: 0, world: world)
            for b in data {
                let rows = DataShard.range(count: b.labels.count, rank: world.rank, size: world.size)
                try Self.step(m, params, opt, batch: b, rows: rows, session: session)
            }
            results.set(world.rank, params.map { ($0.0, $0.1.storage) })
        }
        let r0 = try #require(results.get(0)), r1 = try #require(results.get(1))
        #expect(r0.map(\.0) == singleParams.map(\.0))
        #expect(zip(r0, r1).allSatisfy { $0.1 == $1.1 }, "both ranks must hold bit-identical weights")
        let diff = Self.relativeDifference(singleParams, r0)
        #expect(diff <= 1e-6, "max relative difference \(diff)")
        // The run moved the weights far more than the tolerance (the comparison is not vacuous).
        let (fresh, freshParams) = try Self.model()
        _ = fresh
        #expect(Self.relativeDifference(freshParams, r0) > 1e-3)
    }

    @Test("one rank: the all-reduce leaves gradients bit-identical")
    func singleProcessIsIdentity() throws {
        let (m, params) = try Self.model()
        let b = Self.batches()[0]
        try m(b.ids, batch: 8, length: 6).crossEntropyLoss(targets: b.labels).backward()
        let before = params.map { $0.1.gradStorage }
        let reducer = GradientAllReduce(parameters: params)
        let (total, sums) = try reducer.average(localWeight: 8, extras: [2.5], over: SingleProcess())
        #expect(total == 8 && sums == [2.5])
        #expect(zip(before, params).allSatisfy { $0 == $1.1.gradStorage })
        // Frozen weights are not in the message: only trainable elements + flags + weight + extras.
        let trainable = params.reduce(0) { $0 + $1.1.count }
        #expect(reducer.bytesPerStep(extras: 1) == 4 * (trainable + params.count + 2))
        #expect(trainable < m.parameterCounts().total)
    }

    @Test("shards are contiguous, disjoint, cover the batch and differ in size by at most one")
    func shards() {
        for count in 0...9 {
            for size in 1...4 {
                let ranges = (0..<size).map { DataShard.range(count: count, rank: $0, size: size) }
                #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == count)
                #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
                let sizes = ranges.map(\.count)
                #expect(sizes.max()! - sizes.min()! <= 1)
            }
        }
        #expect(DataShard.range(count: 7, rank: 0, size: 2) == 0..<4 && DataShard.range(count: 7, rank: 1, size: 2) == 4..<7)
        #expect(DataShard.slice([10, 11, 12], rank: 1, size: 2) == [12])
    }

    @Test("thread-group collectives: sums in rank order, gathers by rank, identical on every rank")
    func collectives() throws {
        let box = ResultBox()
        try ThreadGroup.run(ranks: 3) { world in
            var v: [Float] = [Float(world.rank + 1), 0.1 * Float(world.rank)]
            try world.allReduceSum(&v)
            let g = try world.allGather([UInt64(world.rank) * 10, 7])
            #expect(g == [[0, 7], [10, 7], [20, 7]])
            try world.barrier()
            box.set(world.rank, [("v", v)])
        }
        let v = try (0..<3).map { try #require(box.get($0))[0].1 }
        #expect(v[0] == [6, (0 + 0.1) + 0.2] && v[1] == v[0] && v[2] == v[0])
    }

    @Test("the environment decides MPI or one process; nothing is loaded without a launcher")
    func worldChoice() throws {
        #expect(!DistributedWorld.wantsMPI([:]))
        #expect(!DistributedWorld.wantsMPI(["OMPI_COMM_WORLD_SIZE": "1"]))
        #expect(DistributedWorld.wantsMPI(["OMPI_COMM_WORLD_SIZE": "2"]))
        #expect(DistributedWorld.wantsMPI(["PMIX_RANK": "0"]))
        #expect(!DistributedWorld.wantsMPI(["OMPI_COMM_WORLD_SIZE": "4", "PEFTKIT_DISTRIBUTED": "single"]))
        if !DistributedWorld.wantsMPI() {
            #expect(try DistributedWorld.current().size == 1)
        }
    }
}

/// Per-rank results collected from threads.
final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Int: [(String, [Float])]] = [:]
    func set(_ rank: Int, _ v: [(String, [Float])]) { lock.lock(); values[rank] = v; lock.unlock() }
    func get(_ rank: Int) -> [(String, [Float])]? { lock.lock(); defer { lock.unlock() }; return values[rank] }
}
