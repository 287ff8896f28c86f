import Core
import Foundation
import Vision

/// `face-adapt table`: issue 12's evaluation table — every method on both protocols, each
/// trained with several seeds, evaluated at full size and the probe sizes, averaged over the
/// seeds, with the no-forgetting line. Every run is saved under `out/<protocol>/<method>-s<seed>`
/// with its `metrics.json`; a run whose metrics exist is read back instead of retrained, so an
/// interrupted table continues where it stopped. `--validation` runs the same schedule on the
/// validation split inside the training part (open: training identities 1–20 train, 21–30
/// validate; closed: images 1–4 train, image 5 validates), for choosing settings without
/// touching the test identities or images.
enum FaceAdaptTableRun {
    static func log(_ line: String) { FaceAdaptCommand.log(line) }

    struct Schedule: Codable {
        var epochs: Int
        var fullEpochs: Int
        var learningRate: Double
        var fullLearningRate: Double
        var trainSizes: [Int]
        var seeds: [UInt64]
        var batchSize: Int
        var validation: Bool
        var warmupEpochs: Int? = nil
        var classifierInit: FaceClassifierInit? = nil
    }

    struct Table: Codable {
        var schedule: Schedule
        var note: String
        /// Mean over the seeds, per protocol and method.
        var mean: [FaceEvalReport]
        /// Every run, per protocol and method and seed.
        var runs: [FaceEvalReport]
        var seedsOfRun: [UInt64?]
    }

    static func run(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: ["data", "protocols", "methods", "seeds", "epochs", "full-epochs", "lr", "full-lr", "train-sizes",
                                              "probe-sizes", "out", "model", "warmup", "classifier-init"], flags: ["validation"])
        let data = FaceAdaptCommand.dataFolder(a)
        let out = URL(fileURLWithPath: a.string("out", default: a.has("validation") ? "runs/face-table-validation" : "runs/face-table"))
        let methods = try a.list("methods", default: ["frozen", "head", "lora", "full", "petal"]).map { name in
            guard let m = FaceAdaptMethod(rawValue: name) else { throw ArgumentError.badValue("methods", name, expected: "frozen, head, lora, full, petal") }
            return m
        }
        let protocols = try a.list("protocols", default: ["open", "closed"]).map { name in
            guard let p = FaceProtocol(rawValue: name) else { throw ArgumentError.badValue("protocols", name, expected: "open or closed") }
            return p
        }
        let seeds = try a.list("seeds", default: ["19", "20"]).map { s in
            guard let v = UInt64(s) else { throw ArgumentError.badValue("seeds", s, expected: "comma-separated integers") }
            return v
        }
        var schedule = Schedule(epochs: try a.int("epochs", default: 6), fullEpochs: try a.int("full-epochs", default: 3),
                                learningRate: try FaceAdaptCommand.double(a, "lr", default: 5e-4),
                                fullLearningRate: try FaceAdaptCommand.double(a, "full-lr", default: 5e-5),
                                trainSizes: try FaceAdaptCommand.sizes(a, "train-sizes", default: [0, 32, 24, 16, 12, 8]), seeds: seeds,
                                batchSize: 16, validation: a.has("validation"))
        schedule.batchSize = FaceAdaptOptions().batchSize
        schedule.warmupEpochs = try a.int("warmup", default: FaceAdaptOptions().warmupEpochs)
        let ci = a.string("classifier-init", default: FaceAdaptOptions().classifierStart.rawValue)
        guard let start = FaceClassifierInit(rawValue: ci) else { throw ArgumentError.badValue("classifier-init", ci, expected: "means or random") }
        schedule.classifierInit = start
        let probeSizes = try FaceAdaptCommand.sizes(a, "probe-sizes", default: [0, 32, 16, 12, 8])
        let modelURL = FaceAdaptCommand.modelFile(a)
        let dataset = try FaceAdaptCommand.dataset(data)
        log("face-adapt table on \(data.path) (\(FaceDataset.orlCredit)); \(schedule.validation ? "VALIDATION split inside the training part" : "held-out test split"); "
            + "head/lora/petal \(schedule.epochs) epochs lr \(schedule.learningRate), full \(schedule.fullEpochs) epochs lr \(schedule.fullLearningRate); "
            + "warmup \(schedule.warmupEpochs ?? 1) epoch(s), classifier start \(start.rawValue); "
            + "training sizes \(schedule.trainSizes) (0 = full) drawn per image and epoch; seeds \(seeds)")
        var mean: [FaceEvalReport] = [], runs: [FaceEvalReport] = [], seedsOfRun: [UInt64?] = []
        for kind in protocols {
            let split = schedule.validation ? try dataset.validationSplit(kind) : try FaceSplit.make(dataset, protocol: kind)
            for method in methods {
                var reports: [FaceEvalReport] = []
                for seed in method == .frozen ? [seeds[0]] : seeds {
                    let dir = out.appendingPathComponent(kind.rawValue).appendingPathComponent(method == .frozen ? "frozen" : "\(method.rawValue)-s\(seed)")
                    let metrics = dir.appendingPathComponent("metrics.json")
                    if let saved = try? JSONDecoder.faceAdapt.decode(FaceEvalReport.self, from: Data(contentsOf: metrics)) {
                        log("== \(kind.rawValue) \(method.rawValue) seed \(seed): read \(metrics.path)")
                        reports.append(saved)
                        continue
                    }
                    log("== \(kind.rawValue) \(method.rawValue) seed \(seed)")
                    let report: FaceEvalReport
                    if method == .frozen {
                        let frozen = try FaceAdapter(model: try FaceAdaptCommand.loadModel(modelURL), method: .frozen)
                        report = try FaceAdaptEvaluation.evaluate(frozen, split: split, probeSizes: probeSizes.map { $0 == 0 ? nil : $0 }, log: log)
                        try FaceAdaptStore.write(report, to: metrics)
                    } else {
                        var o = FaceAdaptOptions(method: method)
                        o.seed = seed
                        o.trainSizes = schedule.trainSizes
                        o.warmupEpochs = schedule.warmupEpochs ?? o.warmupEpochs
                        o.classifierInit = start
                        o.epochs = method == .full ? schedule.fullEpochs : schedule.epochs
                        o.learningRate = method == .full ? schedule.fullLearningRate : schedule.learningRate
                        guard let r = try FaceAdaptCommand.trainOnSplit(split, data: data, modelURL: modelURL, options: o, trainIdentities: nil,
                                                                        trainImages: nil, out: dir, probeSizes: probeSizes, evaluate: true).1 else { continue }
                        report = r
                    }
                    reports.append(report)
                }
                runs += reports
                seedsOfRun += method == .frozen ? [nil] : seeds.prefix(reports.count).map { $0 }
                if let m = FaceAdaptEvaluation.mean(reports, note: "mean of \(reports.count) seed(s)") { mean.append(m) }
            }
            let table = Table(schedule: schedule, note: FaceAdaptEvaluation.protocolNote, mean: mean, runs: runs, seedsOfRun: seedsOfRun)
            try FaceAdaptStore.write(table, to: out.appendingPathComponent("table.json"))
        }
        for kind in protocols {
            print(FaceAdaptTable.render(mean.filter { $0.protocolName == kind.rawValue }))
            print("")
        }
        print("mean over seeds \(seeds) (frozen: deterministic, one run); runs and table.json under \(out.path)")
        return 0
    }
}

extension JSONDecoder {
    /// Reads what `FaceAdaptStore.write` wrote (snake-case keys, non-finite numbers as strings).
    static var faceAdapt: JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }
}
