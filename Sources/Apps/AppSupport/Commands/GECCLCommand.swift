import Core
import Foundation
import Text
import Vision

/// `gec-cl`: grammatical error correction by edit tagging on a BERT-family encoder, trained
/// through a sequence of domains with a continual-learning method; ERRANT-compatible scoring.
/// The work is done by `Text`'s GEC task and `Core/Continual`; this file parses arguments.
public enum GECCLCommand: Command {
    public static let name = "gec-cl"
    /// `run` splits its batches over MPI ranks; the other subcommands refuse mpirun.
    public static let supportsDistributed = true
    public static let usage = """
        usage: gec-cl <command> [options]

        commands:
          run        train through a domain sequence; writes the accuracy matrix a[t][i] (F0.5 on
                     domain i after domain t), AP/BWT/FWT, heat map and the final adapter
            --data DIR       train/dev/test.jsonl with a "category" per line, or one folder per
                             domain with train/dev/test (.jsonl|.tsv|.m2)   (default data/text/gec)
            --order LIST     domains in training order (default: all, in file order)
            --method M       \(GECContinualMethod.names) (default seq-lora)
            --seeds LIST     one run per seed (default 42)      --out DIR (default runs/gec-<method>)
            --model DIR      BERT-family folder (default: the installed all-MiniLM-L6-v2)
            --adapter-type lora|dora (lora)  --r N (8) --alpha X (16) --target LIST (query,key,value,dense)
            --epochs N (5) --batch B (16) --lr X (seq-ft 1e-4, others 5e-3) --max-tags N (500)
            --max-train N --max-dev N --max-test N (per domain)  --max-length N (128)
            --min-tag-count N (2: drop rarer tags)  --head-lr-scale X (4: head lr / adapter lr)
            --transforms (suffix $SUFFIX_-x+y and case $CASE_… tags instead of REPLACE_w)
            --dev-select (keep the best dev F0.5 epoch per domain instead of the last; off by default: the embedded dev splits are too small)
            --patience N (0: stop a domain after N epochs without a better dev F0.5; 0 never)
            --iterations N (3) --keep-bias X (0) --min-confidence X (0): GECToR's knobs; by default both are
                             re-chosen on each domain's dev split after it (--no-tune-correction: keep these)
            --keep-share X (1: share of $KEEP tokens counted in the loss)
            --keep-weight X (1: loss weight of $KEEP tokens against edit tags, GECToR-style)
            --head-warmup N (0: epochs before the first domain in which only the head trains)
            --replay-size N (200) --replay-per-batch N (8)   --ewc-lambda X (5000) --fisher-samples N (32)
            --memory N (16, GEM/A-GEM examples per domain) --ogd-samples N (20) --ogd-basis N (200)
            --olora-lambda X (0.5)
            --checkpoint-every N (200: a checkpoint every N optimizer steps, after each domain and at
                             the end, in the run's --out folder; 0 = at the end only)
            --resume DIR     continue the run whose --out is DIR (each seed from its checkpoint)
            --threads N      threads of this process (each MPI rank)
            under `mpirun -np R gec-cl run …` the ranks split each --batch; rank 0 alone writes
          compare    the same order, seeds and epochs for several methods; compare.md/json/png (AP
                     mean ± std, BWT, FWT, trainable parameters, time, memory, merged correction time)
                     and a computed recommendation
            --methods LIST (default seq-lora,replay,ogd): continual methods, or adapter methods
                             (dora, randlora, lokr, …) run with the --method strategy
            --budget N | Nmin (trainable parameters or minutes) and every run option
          correct    correct sentences (one per line, whitespace-tokenised) from stdin or a file
            --adapter DIR (a run's adapter/ folder) [--input F] [--output F] [--m2 F]
            [--model DIR] [--iterations N] [--keep-bias X] [--min-confidence X]
          score      errant_compare on M2 files, or on text files (edits extracted as
                     errant_parallel -lev -merge all-merge); with text hypotheses also the M2
                     scorer (MaxMatch) result
            --hyp F.m2 --ref F.m2 | --hyp F.txt --ref F.m2 | --source F --hyp F --ref F[,F2…]
            [--mode cs|ds|dt] [--beta B]
          build-data rebuild the embedded benchmark from WordNet 3.0 and codespell's dictionary
            --misspellings F (codespell_lib/data/dictionary.txt) --wordnet DIR (/usr/share/wordnet)
            --out DIR (data/text/gec) --per-domain N (300) --clean-share X (0.2) --seed S (2025)
        """

    public static func run(_ args: [String]) throws -> Int32 {
        guard let sub = args.first else { print(usage); return 2 }
        let rest = Array(args.dropFirst())
        if sub != "run" && DistributedWorld.wantsMPI() {
            throw GECError.badOption("gec-cl \(sub) does not support mpirun yet (only run does)")
        }
        switch sub {
        case "run": return try runCommand(rest, compare: false)
        case "compare": return try runCommand(rest, compare: true)
        case "correct": return try correct(rest)
        case "score": return try score(rest)
        case "build-data": return try buildData(rest)
        default: throw ArgumentError.badValue("command", sub, expected: "one of run, compare, correct, score, build-data")
        }
    }

    static func noPositional(_ p: Arguments, _ sub: String) throws {
        if let extra = p.positional.first {
            throw GECError.badOption("unexpected argument '\(extra)' after '\(sub)'; options are written --name value (see gec-cl --help)")
        }
    }

    static func double(_ p: Arguments, _ key: String) throws -> Double? {
        guard let s = p.string(key) else { return nil }
        guard let v = Double(s), v.isFinite else { throw ArgumentError.badValue(key, s, expected: "a number") }
        return v
    }

    // MARK: - run / compare

    static let runOptions: Set<String> = [
        "data", "order", "method", "methods", "seeds", "out", "model", "adapter-type", "r", "alpha", "target", "epochs", "batch",
        "lr", "max-tags", "max-train", "max-test", "max-length", "iterations", "keep-bias", "min-confidence", "replay-size",
        "replay-per-batch", "keep-share", "ewc-lambda", "fisher-samples", "memory", "ogd-samples", "ogd-basis", "olora-lambda", "log-every",
        "max-dev", "patience", "checkpoint-every", "resume", ThreadsOption.key, "min-tag-count", "head-lr-scale",
        "keep-weight", "head-warmup",
    ]

    static func method(_ s: String) throws -> GECContinualMethod {
        guard let m = GECContinualMethod(rawValue: s) else {
            throw GECError.badOption("unknown method '\(s)'; use one of \(GECContinualMethod.names)")
        }
        return m
    }

    /// Parses the training options shared by `run` and `compare`.
    static func options(_ p: Arguments) throws -> GECContinualOptions {
        var o = GECContinualOptions()
        if let m = p.string("method") { o.method = try method(m) }
        if let t = p.string("adapter-type") {
            guard let m = GECMethod(rawValue: t), m == .lora || m == .dora else { throw ArgumentError.badValue("adapter-type", t, expected: "lora or dora") }
            o.model.method = m
        }
        o.model.rank = try p.int("r", default: o.model.rank)
        o.model.alpha = try p.float("alpha", default: o.model.alpha)
        o.model.targets = p.list("target", default: o.model.targets)
        o.model.maxLength = try p.int("max-length", default: o.model.maxLength)
        o.epochs = try p.int("epochs", default: o.epochs)
        o.batchSize = try p.int("batch", default: o.batchSize)
        o.learningRate = try double(p, "lr")
        o.maxTags = try p.int("max-tags", default: o.maxTags)
        o.minTagCount = try p.int("min-tag-count", default: o.minTagCount)
        o.headLearningRateScale = try double(p, "head-lr-scale") ?? o.headLearningRateScale
        o.keepLossWeight = try double(p, "keep-weight") ?? o.keepLossWeight
        o.headWarmupEpochs = try p.int("head-warmup", default: o.headWarmupEpochs)
        if p.string("max-train") != nil { o.maxTrain = try p.int("max-train", default: 0) }
        if p.string("max-test") != nil { o.maxTest = try p.int("max-test", default: 0) }
        if p.string("max-dev") != nil { o.maxDev = try p.int("max-dev", default: 0) }
        o.selectOnDev = p.has("dev-select")
        o.transforms = p.has("transforms")
        if p.has("tune-correction") && p.has("no-tune-correction") {
            throw GECError.badOption("--tune-correction and --no-tune-correction contradict each other; give one")
        }
        o.tuneCorrection = !p.has("no-tune-correction")
        o.patience = try p.int("patience", default: o.patience)
        o.correction.iterations = try p.int("iterations", default: o.correction.iterations)
        o.correction.keepBias = try p.float("keep-bias", default: o.correction.keepBias)
        o.correction.minConfidence = try p.float("min-confidence", default: o.correction.minConfidence)
        o.keepLabelShare = try double(p, "keep-share") ?? o.keepLabelShare
        o.replayCapacity = try p.int("replay-size", default: o.replayCapacity)
        o.replayPerBatch = try p.int("replay-per-batch", default: o.replayPerBatch)
        o.ewcLambda = try p.float("ewc-lambda", default: o.ewcLambda)
        o.fisherSamples = try p.int("fisher-samples", default: o.fisherSamples)
        o.memoryPerDomain = try p.int("memory", default: o.memoryPerDomain)
        o.ogdSamplesPerDomain = try p.int("ogd-samples", default: o.ogdSamplesPerDomain)
        o.ogdMaxBasis = try p.int("ogd-basis", default: o.ogdMaxBasis)
        o.oloraLambda = try p.float("olora-lambda", default: o.oloraLambda)
        o.logEvery = try p.int("log-every", default: o.logEvery)
        try o.validate()
        return o
    }

    static func seeds(_ p: Arguments) throws -> [UInt64] {
        let list = p.list("seeds", default: ["42"])
        return try list.map { s in
            guard let v = UInt64(s) else { throw ArgumentError.badValue("seeds", s, expected: "a comma-separated list of non-negative integers") }
            return v
        }
    }

    static func runCommand(_ args: [String], compare: Bool) throws -> Int32 {
        let p = try Arguments(args, options: compare ? runOptions.union(["budget"]) : runOptions, flags: ["dev-select", "transforms", "tune-correction", "no-tune-correction"])
        try noPositional(p, compare ? "compare" : "run")
        let base = try options(p)
        if compare { return try compareCommand(p, base: base) }
        let methods = compare ? try p.list("methods", default: ["seq-lora", "replay", "ogd"]).map(method) : [base.method]
        let seedList = try seeds(p)
        // Data first: a bad file or order is reported before the model loads.
        let data = try GECDomainData.read(folder: p.string("data", default: "data/text/gec"))
        let domains = try data.ordered(p.string("order").map { _ in p.list("order", default: []) })
        let model = try p.string("model") ?? DefaultModels.miniLM()
        let out = URL(fileURLWithPath: p.string("out", default: compare ? "runs/gec-compare" : "runs/gec-\(base.method.rawValue)"))
        try ThreadsOption.apply(p)
        let every = try p.int("checkpoint-every", default: 200)
        guard every >= 0 else { throw ArgumentError.badValue("checkpoint-every", "\(every)", expected: "a number of steps ≥ 0") }
        let resume = p.string("resume").map { URL(fileURLWithPath: $0) }
        let world = try DistributedWorld.current()
        let leader = world.isLeader
        var rows: [(method: String, results: [GECContinualResult])] = []
        for m in methods {
            var results: [GECContinualResult] = []
            for seed in seedList {
                var o = base
                o.method = m
                o.seed = seed
                o.model.seed = seed
                var dir = out
                if compare { dir = dir.appendingPathComponent(m.rawValue) }
                if seedList.count > 1 { dir = dir.appendingPathComponent("seed-\(seed)") }
                let runner = GECContinualRunner(options: o, log: printError)
                // With several seeds, a resume continues the seeds that have a checkpoint and starts the others.
                var from = resume
                if let r = resume, seedList.count > 1 {
                    let seedDir = r.appendingPathComponent("seed-\(seed)")
                    from = TrainingCheckpoint.exists(in: seedDir) ? seedDir : nil
                }
                runner.training = TrainingRun(checkpointFolder: dir, checkpointEvery: every, resumeFrom: from, world: world)
                let r = try runner.run(modelFolder: model, domains: domains)
                results.append(r)
                guard leader else { continue }
                try r.write(to: dir)
                try HeatMap.write(r.matrix, to: dir.appendingPathComponent("heatmap.png"))
                if let tagger = runner.tagger { try saveAdapter(tagger, to: dir.appendingPathComponent("adapter")) }
                if !compare { print(r.table, terminator: "") }
                print("wrote \(dir.path)/{results.json, matrix.txt, heatmap.png, adapter/, \(TrainingCheckpoint.fileName)}")
            }
            rows.append((m.rawValue, results))
        }
        DistributedWorld.markCompleted()
        guard leader else { return 0 }
        let table = summaryTable(rows)
        print(table, terminator: "")
        if compare { try AtomicFile.write(table, to: out.appendingPathComponent("compare.txt"), createDirectories: true) }
        return 0
    }

    /// Writes the tagger's adapter folder whole: staged beside it as `.adapter.tmp-<pid>` (the
    /// name `AtomicFile`'s cleanup knows), then swapped in. A kill during the write leaves the
    /// previous folder or the new one, never a mix or a half-written temporary file inside it,
    /// so a resume from the finished checkpoint rewrites exactly the uninterrupted run's files.
    static func saveAdapter(_ tagger: GECTagger, to folder: URL) throws {
        let fm = FileManager.default
        let staged = folder.deletingLastPathComponent().appendingPathComponent(".\(folder.lastPathComponent).tmp-\(getpid())")
        try? fm.removeItem(at: staged)
        do {
            try tagger.save(to: staged)
            try AtomicFile.replaceDirectory(folder, with: staged)
        } catch {
            try? fm.removeItem(at: staged)
            throw error
        }
    }

    /// `compare`: the shared comparison over `GECCompareTask` (`--epochs` is the training length).
    static func compareCommand(_ p: Arguments, base: GECContinualOptions) throws -> Int32 {
        let data = try GECDomainData.read(folder: p.string("data", default: "data/text/gec"))
        let domains = try data.ordered(p.string("order").map { _ in p.list("order", default: []) })
        let model = try p.string("model") ?? DefaultModels.miniLM()
        var defaults = CompareOptions(methods: [])
        defaults.seeds = try seeds(p)
        defaults.steps = base.epochs
        defaults.rank = base.model.rank
        defaults.out = "runs/gec-compare"
        let task = GECCompareTask(base: base, domains: domains, modelFolder: model, out: URL(fileURLWithPath: p.string("out", default: defaults.out)),
                                  multipleSeeds: defaults.seeds.count > 1, log: printError)
        let o = try CompareOptions.parse(p, defaultMethods: task.defaultMethods, stepsKey: "epochs", defaults: defaults)
        try Compare.runAndWrite(task, o, app: "gec-cl")
        return 0
    }

    /// One line per method: mean (and spread over seeds) of AP, BWT, FWT; trainable parameters; time.
    static func summaryTable(_ rows: [(method: String, results: [GECContinualResult])]) -> String {
        func stat(_ xs: [Double]) -> String {
            guard !xs.isEmpty else { return "n/a" }
            let m = xs.reduce(0, +) / Double(xs.count)
            guard xs.count > 1 else { return String(format: "%+.4f", m) }
            let sd = (xs.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(xs.count - 1)).squareRoot()
            return String(format: "%+.4f±%.4f", m, sd)
        }
        var lines = ["method       AP              BWT             FWT             trainable    train s"]
        for (m, rs) in rows {
            let cells = [stat(rs.map(\.averagePerformance)), stat(rs.compactMap(\.backwardTransfer)), stat(rs.compactMap(\.forwardTransfer))]
            let params = rs.first.map { String($0.trainableParameters) } ?? "-"
            let secs = String(format: "%.0f", rs.map(\.trainSeconds).reduce(0, +) / Double(max(rs.count, 1)))
            lines.append(m.padding(toLength: 12, withPad: " ", startingAt: 0) + " " + cells.map { $0.padding(toLength: 15, withPad: " ", startingAt: 0) }.joined(separator: " ")
                         + " " + params.padding(toLength: 12, withPad: " ", startingAt: 0) + " " + secs)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: - correct

    static func correct(_ args: [String]) throws -> Int32 {
        let p = try Arguments(args, options: ["adapter", "input", "output", "m2", "model", "iterations", "keep-bias", "min-confidence", "batch"], flags: [])
        try noPositional(p, "correct")
        guard let adapter = p.string("adapter") else { throw ArgumentError.missingRequired("adapter") }
        var c = GECCorrectionOptions()
        c.iterations = try p.int("iterations", default: c.iterations)
        c.keepBias = try p.float("keep-bias", default: c.keepBias)
        c.minConfidence = try p.float("min-confidence", default: c.minConfidence)
        guard c.iterations >= 1 else { throw GECError.badOption("--iterations must be at least 1") }
        let text: String
        if let input = p.string("input") {
            guard let data = FileManager.default.contents(atPath: input), let s = String(data: data, encoding: .utf8) else {
                throw GECError.unusable("\(input): cannot read the input as UTF-8 text")
            }
            text = s
        } else {
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        let tagger = try GECTagger.load(adapter: adapter, model: p.string("model"))
        tagger.batchSize = try p.int("batch", default: tagger.batchSize)
        let tokens = lines.map(GECTokens.split)
        let fixed = try tagger.correct(tokens, options: c)
        // Empty lines stay empty (nothing to correct).
        let outLines = zip(tokens, fixed).map { $0.isEmpty ? "" : $1.joined(separator: " ") }
        let outText = outLines.map { $0 + "\n" }.joined()
        if let output = p.string("output") {
            try AtomicFile.write(outText, to: URL(fileURLWithPath: output), createDirectories: true)
        } else {
            print(outText, terminator: "")
        }
        if let m2 = p.string("m2") {
            let blocks = zip(lines, outLines).filter { !GECTokens.split($0.0).isEmpty }.map { M2Sentence(source: $0.0, corrections: [$0.1]) }
            try M2File.write(blocks, to: m2)
        }
        let changed = zip(tokens, fixed).filter { $0 != $1 }.count
        printError("gec-cl: corrected \(changed) of \(lines.count) sentences")
        return 0
    }

    // MARK: - score

    static func score(_ args: [String]) throws -> Int32 {
        let p = try Arguments(args, options: ["hyp", "ref", "source", "mode", "beta"], flags: [])
        try noPositional(p, "score")
        let modeName = p.string("mode", default: "cs")
        guard let mode = ERRANTMode(rawValue: modeName) else { throw ArgumentError.badValue("mode", modeName, expected: "cs, ds or dt") }
        let beta = try double(p, "beta") ?? 0.5
        guard let hyp = p.string("hyp") else { throw ArgumentError.missingRequired("hyp") }
        guard let ref = p.string("ref") else { throw ArgumentError.missingRequired("ref") }
        let result: ERRANTScorer.CorpusResult
        var maxMatch: MaxMatchScorer.CorpusResult?
        var types: GECErrorTypes.Report?
        if let source = p.string("source") {
            let src = try GECDataReader.readParallel(sourcePath: source, targetPath: hyp)
            let refs = try p.list("ref", default: []).map { try GECDataReader.readParallel(sourcePath: source, targetPath: $0) }
            let sources = src.map(\.source), hyps = src.map { $0.references[0] }
            let refLists = src.indices.map { i in refs.map { $0[i].references[0] } }
            result = try GECEvaluation.score(sources: sources, hypotheses: hyps, references: refLists, mode: mode, beta: beta)
            maxMatch = try GECEvaluation.maxMatch(sources: sources, hypotheses: hyps, references: refLists, beta: beta)
            types = GECErrorTypes.recall(sources: sources, hypotheses: hyps, references: refLists)
        } else if !hyp.lowercased().hasSuffix(".m2") {
            // Corrected text against gold M2 (the M2 scorer's own input pair); ERRANT on the edits
            // errant_parallel would extract from the S lines and the text.
            let gold = try M2File.read(path: ref)
            var lines = try GECDataReader.readText(hyp).components(separatedBy: "\n")
            if lines.count == gold.count + 1, lines.last == "" { lines.removeLast() }
            guard lines.count == gold.count else {
                throw GECError.mismatch("\(hyp) has \(lines.count) lines and \(ref) \(gold.count) sentences; give one corrected line per M2 block")
            }
            let hypM2 = zip(gold, lines).map { M2Sentence(source: $0.tokens.joined(separator: " "), corrections: [$1]) }
            result = try ERRANTScorer(mode: mode, beta: beta).score(hypotheses: hypM2, references: gold)
            maxMatch = try MaxMatchScorer(beta: beta).score(references: gold, hypotheses: lines.map(GECTokens.split))
        } else {
            result = try ERRANTScorer(mode: mode, beta: beta).score(hypotheses: try M2File.read(path: hyp), references: try M2File.read(path: ref))
        }
        let c = result.counts
        print("TP FP FN Prec Rec F\(beta)")
        print(String(format: "%d %d %d %.4f %.4f %.4f", c.tp, c.fp, c.fn, c.precision, c.recall, c.f(beta: beta)))
        if let m = maxMatch?.counts {
            print("M2 scorer (MaxMatch): correct \(m.correct) proposed \(m.proposed) gold \(m.gold)")
            print(String(format: "Precision   : %.4f\nRecall      : %.4f\nF_%.1f       : %.4f", m.precision, m.recall, beta, m.f(beta: beta)))
        }
        // The injector's error types (meaningful on the embedded benchmark's kind of errors).
        if let t = types, !t.line.isEmpty { print("recalled by error type: " + t.line) }
        return 0
    }

    // MARK: - build-data

    static func buildData(_ args: [String]) throws -> Int32 {
        let p = try Arguments(args, options: ["misspellings", "wordnet", "out", "per-domain", "clean-share", "seed"], flags: [])
        try noPositional(p, "build-data")
        var b = WordNetGECBuilder()
        guard let m = p.string("misspellings") else { throw ArgumentError.missingRequired("misspellings") }
        b.misspellingsPath = m
        b.wordnetDirectory = p.string("wordnet", default: WordNetReader.defaultDirectory)
        b.sentencesPerDomain = try p.int("per-domain", default: b.sentencesPerDomain)
        b.cleanShare = try double(p, "clean-share") ?? b.cleanShare
        b.seed = try p.uint64("seed", default: b.seed)
        guard b.sentencesPerDomain >= 10 else { throw GECError.badOption("--per-domain must be at least 10") }
        guard (0...1).contains(b.cleanShare) else { throw GECError.badOption("--clean-share must be in [0, 1]") }
        let out = p.string("out", default: "data/text/gec")
        let corpus = try b.build()
        for (name, xs) in [("train", corpus.train), ("dev", corpus.dev), ("test", corpus.test)] {
            try GECDataReader.writeJSONLines(xs, to: (out as NSString).appendingPathComponent("\(name).jsonl"))
        }
        print("wrote \(out)/{train,dev,test}.jsonl: \(corpus.train.count) / \(corpus.dev.count) / \(corpus.test.count) sentences in \(WordNetGECBuilder.domains.count) domains")
        print("injected errors: " + corpus.typeCounts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        return 0
    }

    static func printError(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }
}

/// The accuracy matrix as a PNG heat map: one 32-pixel cell per entry, dark blue (0) through
/// green to yellow (1), rows = after training on a domain, columns = tested domain.
enum HeatMap {
    static func colour(_ v: Double) -> [UInt8] {
        let stops: [(Double, [Double])] = [(0, [68, 1, 84]), (0.25, [59, 82, 139]), (0.5, [33, 145, 140]), (0.75, [94, 201, 98]), (1, [253, 231, 37])]
        let x = min(max(v.isFinite ? v : 0, 0), 1)
        var k = 0
        while k + 1 < stops.count - 1 && x > stops[k + 1].0 { k += 1 }
        let (a, ca) = stops[k], (b, cb) = stops[k + 1]
        let f = (x - a) / (b - a)
        return (0..<3).map { UInt8((ca[$0] + f * (cb[$0] - ca[$0])).rounded()) }
    }

    static func write(_ matrix: [[Double]], to url: URL) throws {
        let cell = 32, gap = 2
        let n = matrix.count, m = matrix.first?.count ?? 0
        guard n > 0, m > 0 else { return }
        let w = m * cell + (m + 1) * gap, h = n * cell + (n + 1) * gap
        var img = Vision.Image(width: w, height: h, channels: 3, fill: 255)
        for (r, row) in matrix.enumerated() {
            for (c, v) in row.enumerated() {
                let rgb = colour(v)
                for y in 0..<cell {
                    for x in 0..<cell {
                        let base = ((gap + r * (cell + gap) + y) * w + gap + c * (cell + gap) + x) * 3
                        img.pixels[base] = rgb[0]; img.pixels[base + 1] = rgb[1]; img.pixels[base + 2] = rgb[2]
                    }
                }
            }
        }
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try PNGCodec.write(img, to: url)
    }
}
