import Core
import Foundation

/// Sliding-window prediction over scenes of any size, and evaluation over a split.
public enum ChangeInference {
    /// Window origins along one axis of length `length`: 0, stride, 2·stride, …, and one window
    /// flush with the far edge so every pixel is covered. A side shorter than the window gets
    /// one window over the padded side.
    public static func origins(length: Int, window: Int, stride: Int) -> [Int] {
        guard length > window else { return [0] }
        var out = Array(Swift.stride(from: 0, through: length - window, by: max(1, stride)))
        if out.last! != length - window { out.append(length - window) }
        return out
    }

    /// Change probability per pixel (`[H·W]`, row-major) of a whole scene: windows of `window`
    /// pixels every `stride`, test-time logits (the mean of the two streams) averaged where
    /// windows overlap, then softmax. Tiles smaller than the window are padded by repeating
    /// their border and cropped back.
    public static func probability(network: ChangeDetectionNetwork, pair: PairPlanes, window: Int, stride: Int,
                                   normalization: Normalization, batch: Int = 4) throws -> [Float] {
        let (w, h) = (pair.width, pair.height)
        let padded = w < window || h < window
            ? pair.remapped(width: max(w, window), height: max(h, window)) { (Float($0), Float($1)) } : pair
        let (pw, ph) = (padded.width, padded.height)
        var sum = [Float](repeating: 0, count: 2 * pw * ph)
        var hits = [Float](repeating: 0, count: pw * ph)
        var boxes: [(Int, Int)] = []
        for y in origins(length: ph, window: window, stride: stride) {
            for x in origins(length: pw, window: window, stride: stride) { boxes.append((x, y)) }
        }
        let wasTraining = network.isTraining
        network.eval()
        defer { network.train(wasTraining) }
        for start in Swift.stride(from: 0, to: boxes.count, by: max(1, batch)) {
            let group = Array(boxes[start..<min(boxes.count, start + batch)])
            let crops = group.map { padded.cropped(left: $0.0, top: $0.1, size: window) }
            let (a, b, _) = PairPlanes.batch(crops, normalization: normalization)
            let logits = try withoutGrad { try network.logits(before: a, after: b) }
            let plane = window * window
            for (i, (x0, y0)) in group.enumerated() {
                for c in 0..<2 {
                    for y in 0..<window {
                        for x in 0..<window {
                            sum[c * pw * ph + (y0 + y) * pw + x0 + x] += logits.storage[(i * 2 + c) * plane + y * window + x]
                        }
                    }
                }
                for y in 0..<window { for x in 0..<window { hits[(y0 + y) * pw + x0 + x] += 1 } }
            }
        }
        var p = [Float](repeating: 0, count: w * h)
        for y in 0..<h {
            for x in 0..<w {
                let i = y * pw + x
                let d = (sum[pw * ph + i] - sum[i]) / max(hits[i], 1)
                p[y * w + x] = 1 / (1 + Foundation.exp(-d))
            }
        }
        return p
    }

    /// One confusion matrix over every pixel of every pair (threshold 0.5 on the change
    /// probability, i.e. argmax of the averaged logits).
    public static func evaluate(network: ChangeDetectionNetwork, pairs: ChangePairSource, window: Int, stride: Int,
                                normalization: Normalization, progress: ((Int) -> Void)? = nil) throws -> BinaryConfusionMatrix {
        var cm = BinaryConfusionMatrix()
        for i in 0..<pairs.count {
            let pair = try pairs.planes(i)
            let p = try probability(network: network, pair: pair, window: window, stride: stride, normalization: normalization)
            cm.add(predicted: p.map { $0 > 0.5 ? 1 : 0 }, truth: pair.mask)
            progress?(i + 1)
        }
        return cm
    }
}
