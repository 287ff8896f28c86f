import Core
import Foundation

/// Closed-set identification and verification of face embeddings: each probe is matched to
/// the gallery by cosine similarity; rank-k accuracy counts probes whose own identity is among
/// the k most similar gallery identities. Verification (genuine vs impostor probe–gallery
/// pairs) goes through `BinaryROC` for TAR@FAR.
public enum FaceIdentification {
    /// Row-wise L2 normalisation of `[N, D]` values.
    public static func normalizeRows(_ x: [Float], dimension d: Int) -> [Float] {
        var out = x
        for r in 0..<(x.count / d) {
            var s: Float = 0
            for j in 0..<d { s += x[r * d + j] * x[r * d + j] }
            let inv = 1 / max(s.squareRoot(), 1e-12)
            for j in 0..<d { out[r * d + j] *= inv }
        }
        return out
    }

    /// Cosine similarities `[P, G]` of probe and gallery embeddings (`[P, D]`, `[G, D]`).
    public static func cosine(probes: [Float], gallery: [Float], dimension d: Int) -> [Float] {
        let p = normalizeRows(probes, dimension: d), g = normalizeRows(gallery, dimension: d)
        let np = p.count / d, ng = g.count / d
        var s = [Float](repeating: 0, count: np * ng)
        for i in 0..<np { for j in 0..<ng { var acc: Float = 0; for k in 0..<d { acc += p[i * d + k] * g[j * d + k] }; s[i * ng + j] = acc } }
        return s
    }

    /// Fraction of probes whose identity is within the top `k` gallery entries (ties counted
    /// pessimistically: an equal-scoring wrong entry ranks ahead).
    public static func rankAccuracy(similarity s: [Float], probeLabels: [Int], galleryLabels: [Int], k: Int) -> Double {
        let ng = galleryLabels.count
        var hits = 0
        for (i, label) in probeLabels.enumerated() {
            let row = Array(s[(i * ng)..<((i + 1) * ng)])
            // Best score of the true identity vs the best score of every other identity.
            let own = zip(row, galleryLabels).filter { $0.1 == label }.map(\.0).max() ?? -.infinity
            var better = Set<Int>()
            for (v, l) in zip(row, galleryLabels) where l != label && v >= own { better.insert(l) }
            if better.count < k { hits += 1 }
        }
        return probeLabels.isEmpty ? 0 : Double(hits) / Double(probeLabels.count)
    }

    /// Verification over every probe–gallery pair: TAR at the given FARs (genuine = same identity).
    public static func tarAtFar(similarity s: [Float], probeLabels: [Int], galleryLabels: [Int], fars: [Double]) -> [Double?] {
        var labels: [Bool] = [], scores: [Float] = []
        for (i, pl) in probeLabels.enumerated() {
            for (j, gl) in galleryLabels.enumerated() { labels.append(pl == gl); scores.append(s[i * galleryLabels.count + j]) }
        }
        let roc = BinaryROC(labels: labels, scores: scores)
        return fars.map { roc.truePositiveRate(atFalsePositiveRate: $0) }
    }
}

/// The low-resolution baseline on ORL-style data: gallery = one high-resolution image per
/// identity, probes = the others degraded to each probe size (area-average, bilinear back up).
public struct LowResolutionBenchmark {
    public struct Row: Sendable {
        /// nil = full resolution.
        public let probeSize: Int?
        public let rank1: Double
        public let rank5: Double
        public let tarAtFar1: Double?
        public let tarAtFar10: Double?
    }

    public let dataset: FaceDataset
    /// Index (in natural order) of each identity's gallery image: 0 = the file called 1.
    public var galleryIndex = 0
    public var crop = FacePreprocessing.Crop.orl
    public var transposed = false
    /// Degrade the crop before resizing to the input (see `FacePreprocessing.sfaceInput`).
    public var degradeCrop = false
    public var batchSize = 16

    public init(dataset: FaceDataset) { self.dataset = dataset }

    /// Embeds inputs (`3·S·S` each) in batches without recording gradients.
    public static func embed(_ model: SFaceModel, _ inputs: [[Float]], batchSize: Int) -> [Float] {
        let s = model.inputSize
        var out: [Float] = []
        out.reserveCapacity(inputs.count * model.embeddingSize)
        var start = 0
        while start < inputs.count {
            let chunk = inputs[start..<min(start + batchSize, inputs.count)]
            let x = Tensor(chunk.flatMap { $0 }, shape: [chunk.count, 3, s, s])
            out += withoutGrad { model(x) }.storage
            start += batchSize
        }
        return out
    }

    /// Rank-1/5 and TAR@FAR 1%/10% for each probe size (nil = full resolution).
    public func run(model: SFaceModel, probeSizes: [Int?]) throws -> [Row] {
        var galleryImages: [[Float]] = [], galleryLabels: [Int] = []
        var probeImages: [Image] = [], probeFiles: [String] = [], probeLabels: [Int] = []
        for (label, identity) in dataset.identities.enumerated() {
            guard galleryIndex < identity.images.count else {
                throw DatasetError("\(identity.name): has \(identity.images.count) images, no gallery image number \(galleryIndex + 1)")
            }
            for (i, url) in identity.images.enumerated() {
                let image = try ImageDecoder.decode(contentsOf: url)
                if i == galleryIndex {
                    galleryImages.append(try FacePreprocessing.sfaceInput(image, crop: crop, side: model.inputSize, transposed: transposed, file: url.path))
                    galleryLabels.append(label)
                } else {
                    probeImages.append(image); probeFiles.append(url.path); probeLabels.append(label)
                }
            }
        }
        let d = model.embeddingSize
        let gallery = Self.embed(model, galleryImages, batchSize: batchSize)
        var rows: [Row] = []
        for size in probeSizes {
            let inputs = try zip(probeImages, probeFiles).map { image, file in
                try FacePreprocessing.sfaceInput(image, crop: crop, side: model.inputSize, probeSize: size, transposed: transposed, degradeCrop: degradeCrop, file: file)
            }
            let probes = Self.embed(model, inputs, batchSize: batchSize)
            let s = FaceIdentification.cosine(probes: probes, gallery: gallery, dimension: d)
            let tar = FaceIdentification.tarAtFar(similarity: s, probeLabels: probeLabels, galleryLabels: galleryLabels, fars: [0.01, 0.1])
            rows.append(Row(probeSize: size,
                            rank1: FaceIdentification.rankAccuracy(similarity: s, probeLabels: probeLabels, galleryLabels: galleryLabels, k: 1),
                            rank5: FaceIdentification.rankAccuracy(similarity: s, probeLabels: probeLabels, galleryLabels: galleryLabels, k: 5),
                            tarAtFar1: tar[0], tarAtFar10: tar[1]))
        }
        return rows
    }
}
