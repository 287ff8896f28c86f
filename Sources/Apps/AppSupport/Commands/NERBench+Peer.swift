import Core
import Foundation

/// Running the PyTorch + transformers + peft peer (`shared/bench/peer/peer_bench.py`) from
/// `peftkit-bench ner` and comparing its figures with ours.
extension NERBench {
    struct PeerFigures {
        var inferTokensPerSecond: Double
        var trainTokensPerSecond: Double
        var peakRSSInferMiB: Double
        var peakRSSTrainMiB: Double
        var rssAfterImportsMiB: Double
    }

    struct PeerError: Error, CustomStringConvertible {
        let description: String
    }

    /// `shared/bench/peer/peer_bench.py` beside the package or above it (the package may be a
    /// nested worktree), searched upward from the current directory.
    static func findPeerScript() throws -> String {
        var dir = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        while true {
            for candidate in ["shared/bench/peer/peer_bench.py", "../shared/bench/peer/peer_bench.py"] {
                let url = dir.appendingPathComponent(candidate)
                if FileManager.default.fileExists(atPath: url.path) { return url.standardizedFileURL.path }
            }
            if dir.path == "/" { break }
            dir = dir.deletingLastPathComponent()
        }
        throw PeerError(description: "peer_bench.py not found above \(FileManager.default.currentDirectoryPath); pass --peer-script PATH")
    }

    /// Runs the peer in a child process (after our run, so the two never share the cores) and
    /// parses its `RESULT {json}` line.
    static func runPeer(python: String, script: String, model: String?, mode: String, batch: Int, seq: Int,
                        warmup: Int, trainSteps: Int, inferSteps: Int, labels: Int) throws -> PeerFigures {
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw PeerError(description: "--peer-python \(python): not an executable; set up the peer with scripts/peer-venv.sh")
        }
        var args = [script, "minilm", "--mode", mode, "--batch", "\(batch)", "--seq", "\(seq)", "--warmup", "\(warmup)",
                    "--train-steps", "\(trainSteps)", "--infer-steps", "\(inferSteps)", "--num-labels", "\(labels)"]
        if let model { args += ["--model", model] } else { args.append("--random-init") }
        print("peer: \(python) \(args.joined(separator: " "))")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = args
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.standardError
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw PeerError(description: "peer exited with status \(process.terminationStatus): \(text.suffix(400))")
        }
        guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix("RESULT ") }),
              let object = try JSONSerialization.jsonObject(with: Data(line.dropFirst("RESULT ".count).utf8)) as? [String: Any]
        else { throw PeerError(description: "peer printed no RESULT line: \(text.suffix(400))") }
        func number(_ key: String) -> Double { (object[key] as? NSNumber)?.doubleValue ?? 0 }
        return PeerFigures(inferTokensPerSecond: number("infer_tokens_per_s"), trainTokensPerSecond: number("train_tokens_per_s"),
                           peakRSSInferMiB: number("peak_rss_infer_mib"), peakRSSTrainMiB: number("peak_rss_train_mib"),
                           rssAfterImportsMiB: number("rss_after_imports_mib"))
    }

    /// Prints the peer's figures and ours / peer (targets of issue 4: train ≥ 1.5×, infer ≥ 1.2×,
    /// peak RSS ≤ 0.5×).
    static func compare(_ f: Figures, _ p: PeerFigures) {
        print(String(format: "peer     infer %8.0f tok/s  peak RSS %6.0f MiB (%.0f MiB after imports)",
                     p.inferTokensPerSecond, p.peakRSSInferMiB, p.rssAfterImportsMiB))
        print(String(format: "peer     train %8.0f tok/s  peak RSS %6.0f MiB", p.trainTokensPerSecond, p.peakRSSTrainMiB))
        func ratio(_ a: Double, _ b: Double) -> Double { b > 0 ? a / b : .nan }
        let train = ratio(f.trainTokensPerSecond, p.trainTokensPerSecond)
        let infer = ratio(f.inferTokensPerSecond, p.inferTokensPerSecond)
        let rss = ratio(f.peakRSSTrainMiB, p.peakRSSTrainMiB)
        print(String(format: "ratio    train %.2fx (target >= 1.5)  infer %.2fx (target >= 1.2)  peak RSS %.2fx (target <= 0.5)",
                     train, infer, rss))
    }
}
