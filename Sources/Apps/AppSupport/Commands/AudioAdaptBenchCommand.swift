import Audio
import Core
import Foundation

/// `audio-adapt bench`: throughput of AST-base + LoRA (q, v) and the Whisper tiny.en encoder +
/// Conformer adapter on synthetic batches (a benchmark, not a test). With `--json` each result is
/// one `RESULT {json}` line, which `scripts/audio-peer-bench.sh` puts beside PyTorch's figures.
enum AudioAdaptBenchCommand {
    static func run(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: ["shape", "batch", "ast-frames", "whisper-frames", "steps", "warmup"], flags: ["json"])
        let batch = try a.int("batch", default: 4), steps = try a.int("steps", default: 3), warmup = try a.int("warmup", default: 1)
        let astFrames = try a.int("ast-frames", default: 1024), whisperFrames = try a.int("whisper-frames", default: 3000)
        let shapeName = a.string("shape", default: "both")
        let shapes: [AudioAdaptBench.Shape]
        switch shapeName {
        case "both": shapes = AudioAdaptBench.Shape.allCases
        default:
            guard let s = AudioAdaptBench.Shape(rawValue: shapeName) else {
                throw ArgumentError.badValue("shape", shapeName, expected: "ast, whisper or both")
            }
            shapes = [s]
        }
        guard batch >= 1, steps >= 1, warmup >= 0 else {
            throw ArgumentError.badValue("batch/steps", "\(batch)/\(steps)", expected: "positive numbers")
        }
        AudioAdaptCommand.log("OpenBLAS kernel: \(BLAS.coreName), threads: \(BLAS.threads)")
        var results: [AudioAdaptBench.Result] = []
        for shape in shapes {
            let frames = shape == .ast ? astFrames : whisperFrames
            AudioAdaptCommand.log("\(shape.rawValue): batch \(batch), \(frames) frames, \(warmup) warm-up + \(steps) timed steps")
            results.append(try AudioAdaptBench.run(shape: shape, batch: batch, frames: frames, warmup: warmup, trainSteps: steps,
                                                   inferSteps: steps, log: AudioAdaptCommand.log))
        }
        if a.has("json") {
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys]
            e.keyEncodingStrategy = .convertToSnakeCase
            for r in results { print("RESULT " + String(decoding: try e.encode(r), as: UTF8.self)) }
        } else {
            print("shape                  method             batch frames tokens  trainable  train samples/s  infer samples/s")
            for r in results {
                print(r.shape.padding(toLength: 22, withPad: " ", startingAt: 0) + " " + r.method.padding(toLength: 18, withPad: " ", startingAt: 0)
                      + String(format: " %5d %6d %6d %10d %16.3f %16.3f", r.batch, r.frames, r.tokens, r.trainable,
                               r.trainSamplesPerSecond, r.inferSamplesPerSecond))
            }
        }
        return 0
    }
}
