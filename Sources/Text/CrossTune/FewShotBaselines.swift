import Core
import Foundation

/// Baselines on the same black-box features and splits as CrossTune. All take pooled,
/// L2-normalised sentence embeddings (`[d]` per text) and return predicted class indices.
public enum FewShotBaselines {
    /// Nearest class mean: each class's prototype is the normalised mean of its training
    /// embeddings; a text goes to the prototype of highest cosine.
    public static func prototype(train: [[Float]], trainLabels: [Int], classes: Int, test: [[Float]]) -> [Int] {
        let d = train.first?.count ?? 0
        var protos = [[Float]](repeating: [Float](repeating: 0, count: d), count: classes)
        for (x, y) in zip(train, trainLabels) { for j in 0..<d { protos[y][j] += x[j] } }
        return nearest(test, to: protos.map(normalised))
    }

    /// Zero-shot: cosine between the text's embedding and each label description's embedding.
    public static func zeroShot(descriptions: [[Float]], test: [[Float]]) -> [Int] {
        nearest(test, to: descriptions.map(normalised))
    }

    /// Multinomial logistic regression (a linear probe, `d·C + C` parameters) trained full-batch
    /// with AdamW, keeping the epoch with the best dev accuracy.
    public static func linearProbe(train: [[Float]], trainLabels: [Int], dev: [[Float]], devLabels: [Int], classes: Int,
                                   test: [[Float]], epochs: Int = 300, learningRate: Double = 1e-2, weightDecay: Double = 1e-3,
                                   seed: UInt64) throws -> (predictions: [Int], parameters: Int) {
        let head = try trainLinearProbe(train: train, trainLabels: trainLabels, dev: dev, devLabels: devLabels, classes: classes,
                                        epochs: epochs, learningRate: learningRate, weightDecay: weightDecay, seed: seed)
        let xt = Tensor(test.flatMap { $0 }, shape: [test.count, train.first?.count ?? 0])
        let pred = withoutGrad { head(xt).argmaxLastAxis() }
        return (pred, head.namedParameters().reduce(0) { $0 + $1.1.count })
    }

    /// The trained probe itself (the augmentation switch's teacher reads its probabilities).
    public static func trainLinearProbe(train: [[Float]], trainLabels: [Int], dev: [[Float]], devLabels: [Int], classes: Int,
                                        epochs: Int = 300, learningRate: Double = 1e-2, weightDecay: Double = 1e-3,
                                        seed: UInt64) throws -> Linear {
        let d = train.first?.count ?? 0
        let head = try Linear(inFeatures: d, outFeatures: classes, at: WeightStore.random(seed: seed).root)
        let params = head.trainableParameters()
        let optimizer = AdamW(learningRate: learningRate, weightDecay: weightDecay)
        let x = Tensor(train.flatMap { $0 }, shape: [train.count, d])
        let xd = Tensor(dev.flatMap { $0 }, shape: [dev.count, d])
        var best: (acc: Double, weights: [[Float]])?
        for _ in 0..<epochs {
            let loss = head(x).crossEntropyLoss(targets: trainLabels)
            loss.backward()
            optimizer.step(params)
            optimizer.zeroGrad(params)
            let acc = withoutGrad {
                ClassificationScores(predictions: head(xd).argmaxLastAxis(), targets: devLabels, classes: classes).accuracy
            }
            if best == nil || acc > best!.acc { best = (acc, params.map { $0.1.storage }) }
        }
        if let best { for (p, w) in zip(params, best.weights) { p.1.storage = w } }
        return head
    }

    static func normalised(_ v: [Float]) -> [Float] {
        let n = max(sqrt(v.reduce(0) { $0 + $1 * $1 }), 1e-12)
        return v.map { $0 / n }
    }

    static func nearest(_ xs: [[Float]], to centres: [[Float]]) -> [Int] {
        xs.map { x in
            let xn = normalised(x)
            return argmax(centres.map { c in zip(xn, c).reduce(0) { $0 + $1.0 * $1.1 } })
        }
    }
}
