import Core
import Foundation

/// One BERT-style encoder layer (hidden 384, 12 heads, FFN 1536: MiniLM's shape) timed
/// forward-only and forward+backward, with frozen weights (PEFT: only dX flows) and with
/// trainable weights (full fine-tuning: dX and dW), plus the share of time inside GEMM.
enum EncoderLayerBench {
    static func run(batch: Int, tokens: Int, repeats: Int) {
        let config = TransformerLayerConfig(dim: 384, numHeads: 12, ffnDim: 1536)
        guard let layer = try? TransformerEncoderLayer(config: config, layout: .bert, at: WeightStore.random(seed: 1).root) else {
            print("could not build the encoder layer")
            return
        }
        layer.eval()  // no dropout: time the arithmetic, as the PyTorch peer does in inference
        var rng = SplitMix64(seed: 2)
        let x = Tensor.normal([batch, tokens, 384], using: &rng)
        // Key-padding mask with the last eighth of each sequence padded, as in real batches.
        var keep = [Float](repeating: 1, count: batch * tokens)
        for b in 0..<batch { for t in (tokens - tokens / 8)..<tokens { keep[b * tokens + t] = 0 } }
        let mask = Tensor(keep, shape: [batch, tokens])

        print("\nEncoder layer 384/12/1536, batch \(batch) × \(tokens) tokens, median of \(repeats)")
        print("mode                         time ms   tokens/s   GEMM ms   GEMM GFLOP/s   non-GEMM share")
        func measure(_ name: String, _ body: () -> Void) {
            BLAS.setProfiling(true)
            body()  // warm-up and one profiled run
            BLAS.setProfiling(false)
            let seconds = BenchCommand.medianSeconds(repeats: repeats, body)
            BLAS.setProfiling(true)
            body()
            let gemmSeconds = Double(BLAS.gemmNanoseconds.load(ordering: .relaxed)) / 1e9
            let flops = Double(BLAS.gemmFlops.load(ordering: .relaxed))
            BLAS.setProfiling(false)
            let share = max(0, (seconds - gemmSeconds) / seconds)
            let label = name.padding(toLength: 26, withPad: " ", startingAt: 0)
            print(label + String(format: " %9.1f %10.0f %9.1f %14.1f %15.1f%%", seconds * 1e3,
                         Double(batch * tokens) / seconds, gemmSeconds * 1e3, flops / gemmSeconds / 1e9, share * 100))
        }
        measure("forward (no grad)") { _ = withoutGrad { layer(x, attentionMask: mask) } }
        layer.freeze()
        measure("fwd+bwd, weights frozen") {
            let input = x.detached()
            input.requiresGrad = true
            layer(input, attentionMask: mask).sum().backward()
        }
        layer.unfreeze()
        measure("fwd+bwd, weights trainable") {
            layer.zeroGrad()
            let input = x.detached()
            input.requiresGrad = true
            layer(input, attentionMask: mask).sum().backward()
        }
    }
}
