import Core
import Foundation

/// `peftkit-bench core`: engine speed figures (not a test). Prints which OpenBLAS kernel is
/// in use, SGEMM GFLOP/s through the engine vs raw `cblas_sgemm` on the same shapes, and one
/// encoder layer's forward / forward+backward time with the share spent in GEMM.
public enum BenchCommand: Command {
    public static let name = "peftkit-bench"
    public static let usage = """
        usage: peftkit-bench core [--repeats N] [--batch B] [--tokens T]
               peftkit-bench ner [--peer-python PATH] …   (MiniLM LoRA training/inference vs PyTorch + peft)
               peftkit-bench zoo [--methods …] [--batch 16] [--seq 128] …   (each adapter method's training step next to LoRA's)
          Prints the OpenBLAS kernel, SGEMM GFLOP/s (engine vs raw cblas_sgemm), and the time of one
          encoder layer (hidden 384, 12 heads, FFN 1536) forward and forward+backward, frozen vs trainable.
        """

    public static func run(_ args: [String]) throws -> Int32 {
        if args.first == "ner" { return try NERBench.run(args: Array(args.dropFirst())) }
        if args.first == "zoo" { return try ZooBench.run(Array(args.dropFirst())) }
        let parsed = try Arguments(args, options: ["repeats", "batch", "tokens"], flags: [])
        guard parsed.positional.first == "core" else {
            print(usage)
            return 2
        }
        let repeats = try parsed.int("repeats", default: 10)
        let batch = try parsed.int("batch", default: 16), tokens = try parsed.int("tokens", default: 128)
        print("OpenBLAS kernel: \(BLAS.coreName) (OPENBLAS_CORETYPE=\(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "unset")), threads: \(BLAS.threads)")
        print("OpenBLAS config: \(BLAS.config)")
        gemmTable(repeats: repeats, rows: batch * tokens)
        EncoderLayerBench.run(batch: batch, tokens: tokens, repeats: repeats)
        return 0
    }

    /// Median wall time in seconds of `body` over `repeats` runs after one warm-up.
    static func medianSeconds(repeats: Int, _ body: () -> Void) -> Double {
        body()
        var times: [Double] = []
        for _ in 0..<max(1, repeats) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        return times.sorted()[times.count / 2]
    }

    /// The projection shapes of a MiniLM-sized layer: x[rows, in] · W[out, in]ᵀ.
    static func gemmTable(repeats: Int, rows: Int) {
        print("\nSGEMM x[M,K]·W[N,K]ᵀ (GFLOP/s, median of \(repeats))")
        print("     M      N      K   raw cblas   engine linear   engine/raw")
        var rng = SplitMix64(seed: 1)
        for (n, k) in [(384, 384), (1536, 384), (384, 1536), (1024, 1024)] {
            let x = Tensor.normal([rows, k], using: &rng), w = Tensor.normal([n, k], using: &rng)
            var c = [Float](repeating: 0, count: rows * n)
            let raw = medianSeconds(repeats: repeats) {
                x.storage.withUnsafeBufferPointer { a in
                    w.storage.withUnsafeBufferPointer { b in
                        c.withUnsafeMutableBufferPointer { cp in
                            BLAS.rawSgemm(transB: true, m: rows, n: n, k: k, a: a.baseAddress!, b: b.baseAddress!, c: cp.baseAddress!)
                        }
                    }
                }
            }
            let engine = medianSeconds(repeats: repeats) { _ = withoutGrad { x.linear(weight: w) } }
            let flops = 2.0 * Double(rows * n * k)
            print(String(format: "%6d %6d %6d %11.1f %15.1f %12.2f", rows, n, k, flops / raw / 1e9, flops / engine / 1e9, raw / engine))
        }
    }
}
