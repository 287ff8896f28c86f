import Core
import Foundation

/// How identities and images are divided between training and the held-out test.
public enum FaceProtocol: String, Codable, Sendable, CaseIterable {
    /// Open set: the first `trainIdentities` identities train, the others (never seen) are
    /// tested — gallery = each test identity's first image, probes = its other images.
    case openSet = "open"
    /// Closed set: every identity's first `trainImages` images train, the rest are probes;
    /// the gallery is each identity's first image (a training image: enrolment), so no probe
    /// was ever trained on but every identity was.
    case closedSet = "closed"
}

/// A training / test division of a face folder (issue 12's ORL protocol).
public struct FaceSplit: Sendable {
    public let protocolKind: FaceProtocol
    /// Training faces, labels 0..<trainIdentities.count.
    public let train: [FaceSample]
    public let trainIdentities: [String]
    /// High-resolution gallery, one per test identity; labels index `testIdentities`.
    public let gallery: [FaceSample]
    public let probes: [FaceSample]
    public let testIdentities: [String]
    public let warnings: [String]

    /// Splits `data`. `trainIdentities` (open set) defaults to 3/4 of the identities, rounded
    /// (30 of ORL's 40); `trainImages` (closed set) to half of each identity's images (5 of 10).
    public static func make(_ data: FaceDataset, protocol kind: FaceProtocol, trainIdentities: Int? = nil, trainImages: Int? = nil) throws -> FaceSplit {
        var train: [FaceSample] = [], gallery: [FaceSample] = [], probes: [FaceSample] = []
        var trainNames: [String] = [], testNames: [String] = []
        var warnings = data.warnings
        func decode(_ url: URL, _ label: Int) throws -> FaceSample {
            FaceSample(image: try ImageDecoder.decode(contentsOf: url), label: label, file: url.path)
        }
        switch kind {
        case .openSet:
            let n = trainIdentities ?? Int((Double(data.identities.count) * 0.75).rounded())
            guard n >= 2, n < data.identities.count else {
                throw DatasetError("\(data.root.path): open-set split needs 2…\(data.identities.count - 1) training identities of \(data.identities.count), asked for \(n)")
            }
            for (i, identity) in data.identities.enumerated() {
                if i < n {
                    let label = trainNames.count
                    trainNames.append(identity.name)
                    for url in identity.images { train.append(try decode(url, label)) }
                } else if identity.images.count < 2 {
                    warnings.append(oneLineMessage("\(clippedForMessage(identity.name)): one image, so no probe against its gallery image; left out of the test"))
                } else {
                    let label = testNames.count
                    testNames.append(identity.name)
                    gallery.append(try decode(identity.images[0], label))
                    for url in identity.images.dropFirst() { probes.append(try decode(url, label)) }
                }
            }
        case .closedSet:
            for identity in data.identities {
                let k = trainImages ?? identity.images.count / 2
                guard k >= 1, k < identity.images.count else {
                    warnings.append(oneLineMessage("\(clippedForMessage(identity.name)): \(identity.images.count) image(s), cannot give \(trainImages ?? 1) training image(s) and a probe; left out"))
                    continue
                }
                let label = trainNames.count
                trainNames.append(identity.name)
                testNames.append(identity.name)
                for url in identity.images.prefix(k) { train.append(try decode(url, label)) }
                gallery.append(train[train.count - k])
                for url in identity.images.dropFirst(k) { probes.append(try decode(url, label)) }
            }
        }
        guard trainNames.count >= 2, !probes.isEmpty else {
            throw DatasetError("\(data.root.path): the \(kind.rawValue)-set split leaves \(trainNames.count) training identities and \(probes.count) probes; need ≥ 2 and ≥ 1")
        }
        return FaceSplit(protocolKind: kind, train: train, trainIdentities: trainNames, gallery: gallery, probes: probes,
                         testIdentities: testNames, warnings: warnings)
    }
}

/// One probe resolution of the evaluation table.
public struct FaceEvalRow: Codable, Sendable {
    /// "full" or the probe side in pixels.
    public let probe: String
    public let rank1: Double
    public let rank5: Double
    public let tarAtFar1: Double?
    public let tarAtFar10: Double?
    /// Mean PETALface α of the probes (nil for other methods).
    public let meanAlpha: Double?
}

/// The held-out evaluation of one adapted network.
public struct FaceEvalReport: Codable, Sendable {
    public let method: String
    public let protocolName: String
    public let galleryImages: Int
    public let probes: Int
    public let testIdentities: Int
    public let rows: [FaceEvalRow]
    public let note: String

    /// Rank-1 at full resolution (the no-forgetting check compares this before and after).
    public var highResolutionRank1: Double? { rows.first { $0.probe == "full" }?.rank1 }
}

/// Gallery at full resolution, probes degraded to each size (area-average to S×S, bilinear
/// back to the network input), matched by cosine similarity: rank-1/5 identification over the
/// test identities and verification TAR@FAR 1% / 10% over every probe–gallery pair.
public enum FaceAdaptEvaluation {
    public static let protocolNote = "gallery: first image of each test identity at full resolution; probes: the other held-out images, "
        + "area-averaged to S×S then bilinear back to 112×112; cosine matching; TAR@FAR over all probe–gallery pairs"

    public static func evaluate(_ adapter: FaceAdapter, split: FaceSplit, probeSizes: [Int?], batchSize: Int = 16,
                                log: (String) -> Void = { _ in }) throws -> FaceEvalReport {
        let side = adapter.model.inputSize, d = adapter.model.embeddingSize
        let gallery = adapter.embed(try split.gallery.map { try $0.input(side: side, probeSize: nil) }, batchSize: batchSize)
        let galleryLabels = split.gallery.map(\.label), probeLabels = split.probes.map(\.label)
        var rows: [FaceEvalRow] = []
        for size in probeSizes {
            let inputs = try split.probes.map { try $0.input(side: side, probeSize: size) }
            let probes = adapter.embed(inputs, batchSize: batchSize)
            let s = FaceIdentification.cosine(probes: probes, gallery: gallery, dimension: d)
            let tar = FaceIdentification.tarAtFar(similarity: s, probeLabels: probeLabels, galleryLabels: galleryLabels, fars: [0.01, 0.1])
            var meanAlpha: Double?
            if adapter.method == .petal {
                meanAlpha = inputs.reduce(0.0) { $0 + Double(adapter.alpha(quality: adapter.quality.score(sfaceInput: $1, side: side))) } / Double(inputs.count)
            }
            let row = FaceEvalRow(probe: size.map { "\($0)" } ?? "full",
                                  rank1: FaceIdentification.rankAccuracy(similarity: s, probeLabels: probeLabels, galleryLabels: galleryLabels, k: 1),
                                  rank5: FaceIdentification.rankAccuracy(similarity: s, probeLabels: probeLabels, galleryLabels: galleryLabels, k: 5),
                                  tarAtFar1: tar[0], tarAtFar10: tar[1], meanAlpha: meanAlpha)
            log(String(format: "%@ probe %@: rank-1 %.3f rank-5 %.3f TAR@FAR1%% %.3f TAR@FAR10%% %.3f", adapter.method.rawValue, row.probe,
                       row.rank1, row.rank5, row.tarAtFar1 ?? .nan, row.tarAtFar10 ?? .nan))
            rows.append(row)
        }
        return FaceEvalReport(method: adapter.method.rawValue, protocolName: split.protocolKind.rawValue, galleryImages: split.gallery.count,
                              probes: split.probes.count, testIdentities: split.testIdentities.count, rows: rows, note: protocolNote)
    }

    /// The mean of several runs of one method on one split (e.g. seeds): every metric averaged
    /// row by row (rows matched by probe size; the first report's sizes are kept).
    public static func mean(_ reports: [FaceEvalReport], note extra: String) -> FaceEvalReport? {
        guard let first = reports.first else { return nil }
        func avg(_ values: [Double?]) -> Double? {
            let v = values.compactMap { $0 }
            return v.count == values.count && !v.isEmpty ? v.reduce(0, +) / Double(v.count) : nil
        }
        let rows = first.rows.map { row in
            let same = reports.compactMap { r in r.rows.first { $0.probe == row.probe } }
            return FaceEvalRow(probe: row.probe, rank1: avg(same.map(\.rank1)) ?? .nan, rank5: avg(same.map(\.rank5)) ?? .nan,
                               tarAtFar1: avg(same.map(\.tarAtFar1)), tarAtFar10: avg(same.map(\.tarAtFar10)), meanAlpha: avg(same.map(\.meanAlpha)))
        }
        return FaceEvalReport(method: first.method, protocolName: first.protocolName, galleryImages: first.galleryImages, probes: first.probes,
                              testIdentities: first.testIdentities, rows: rows, note: first.note + "; " + extra)
    }

    /// The cosine threshold at which impostor pairs among `samples` (full resolution) are
    /// accepted at most at rate `far`: the verification threshold `face-adapt verify` uses,
    /// calibrated on training faces only. nil without both genuine and impostor pairs.
    public static func threshold(_ adapter: FaceAdapter, samples: [FaceSample], far: Double = 0.01, batchSize: Int = 16) throws -> Float? {
        let side = adapter.model.inputSize, d = adapter.model.embeddingSize
        let e = adapter.embed(try samples.map { try $0.input(side: side, probeSize: nil) }, batchSize: batchSize)
        let s = FaceIdentification.cosine(probes: e, gallery: e, dimension: d)
        var impostor: [Float] = []
        for i in samples.indices { for j in samples.indices where j > i && samples[i].label != samples[j].label { impostor.append(s[i * samples.count + j]) } }
        return threshold(impostorScores: impostor, far: far)
    }

    /// The lowest threshold t such that at most ⌊n·far⌋ of the n impostor scores are > t:
    /// the (⌊n·far⌋+1)-th highest impostor score. nil without scores.
    public static func threshold(impostorScores: [Float], far: Double) -> Float? {
        guard !impostorScores.isEmpty else { return nil }
        let sorted = impostorScores.sorted(by: >)
        let k = Int((Double(sorted.count) * far + 1e-9).rounded(.down))
        return sorted[min(k, sorted.count - 1)]
    }
}
