import Foundation
import Testing
import Core
import TestSupport
@testable import Vision

/// face-adapt's library side: the ORL splits (no probe is ever a training image), which
/// tensors each method trains on the real SFace, the verification threshold, training that
/// moves PETALface's experts, and a save → load round trip that reproduces the embeddings.
@Suite(.serialized) struct FaceAdaptTests {
    static func sface() throws -> SFaceModel {
        let m = try SFaceModel.load(onnx: SFaceModel.defaultFile(models: TestPaths.models))
        m.eval()
        return m
    }

    @Test func orlSplitsKeepProbesOutOfTraining() throws {
        let orl = try FaceDataset.orl(models: TestPaths.models)
        let open = try FaceSplit.make(orl, protocol: .openSet)
        // Issue 12: identities 1–30 train, 31–40 are the open-set test.
        #expect(open.trainIdentities == (1...30).map { "s\($0)" } && open.testIdentities == (31...40).map { "s\($0)" })
        #expect(open.train.count == 300 && open.gallery.count == 10 && open.probes.count == 90)
        #expect(open.gallery.allSatisfy { $0.file.hasSuffix("/1.pgm") })
        let trainFiles = Set(open.train.map(\.file))
        #expect(open.probes.allSatisfy { !trainFiles.contains($0.file) } && open.gallery.allSatisfy { !trainFiles.contains($0.file) })
        #expect(Set(open.probes.map(\.label)) == Set(0..<10))

        let closed = try FaceSplit.make(orl, protocol: .closedSet)
        // Images 1–5 train, 6–10 are probes; the gallery is image 1 (enrolled, trained on).
        #expect(closed.train.count == 200 && closed.probes.count == 200 && closed.gallery.count == 40)
        let closedTrain = Set(closed.train.map(\.file))
        #expect(closed.probes.allSatisfy { !closedTrain.contains($0.file) })
        #expect(closed.probes.allSatisfy { p in ["6", "7", "8", "9", "10"].contains { p.file.hasSuffix("/\($0).pgm") } })
        #expect(closed.gallery.allSatisfy { closedTrain.contains($0.file) && $0.file.hasSuffix("/1.pgm") })
        #expect(throws: DatasetError.self) { try FaceSplit.make(orl, protocol: .openSet, trainIdentities: 40) }
    }

    @Test func thresholdAcceptsAtMostTheAskedImpostorRate() {
        // 20 impostor scores 0.00, 0.05, …, 0.95. FAR 10%: at most 2 may pass, so t = the 3rd
        // highest (0.85) and only 0.90, 0.95 are above it. FAR 1% of 20 = 0.2 → none pass: t = 0.95.
        let scores = (0..<20).map { Float($0) * 0.05 }
        #expect(abs(FaceAdaptEvaluation.threshold(impostorScores: scores, far: 0.1)! - 0.85) < 1e-6)
        #expect(abs(FaceAdaptEvaluation.threshold(impostorScores: scores, far: 0.01)! - 0.95) < 1e-6)
        #expect(FaceAdaptEvaluation.threshold(impostorScores: [], far: 0.01) == nil)
    }

    @Test func eachMethodTrainsItsOwnTensors() throws {
        let counts: [FaceAdaptMethod: Int] = try Dictionary(uniqueKeysWithValues: [FaceAdaptMethod.head, .lora, .petal, .full].map { m in
            let adapter = try FaceAdapter(model: try Self.sface(), method: m, rank: 8)
            let keys = adapter.trainableParameters.map(\.0)
            switch m {
            case .head:
                // The Gemm (50176 → 128, bias) and the embedding BatchNorm1d's γ, β.
                #expect(Set(keys.map { $0.split(separator: ".").last! }) == ["weight", "bias"] && keys.count == 4)
            case .full:
                #expect(!keys.contains { $0.contains("running_") })
            default:
                #expect(keys.allSatisfy { $0.contains("lora_A") || $0.contains("lora_B") })
            }
            return (m, adapter.parameterCounts.trainable)
        })
        // By hand: LoRA adds r·(in + out) per adapted layer; 13 pointwise convs + the projection.
        let model = try Self.sface()
        let layers = model.pointwiseLayers.map(\.layer) + [model.projection!]
        let perLoRA = layers.reduce(0) { $0 + 8 * ($1.inFeatures + $1.outFeatures) }
        #expect(counts[.lora] == perLoRA && counts[.petal] == 2 * perLoRA)
        #expect(counts[.head] == 128 * 50176 + 128 + 2 * 128)
        // Full: the file's 9,667,074 floats minus the 2 input scalars and the BatchNorm running
        // statistics (2 per channel of the 28 BatchNorm2d and the 128-wide BatchNorm1d).
        let running = model.namedParameters().filter { $0.0.contains("running_") }.reduce(0) { $0 + $1.1.count }
        #expect(counts[.full] == 9_667_072 - running)
    }

    @Test func petalTrainsExpertsAndRoundTripsThroughItsFolder() throws {
        // Two ORL identities, two images each: a few steps of the real training loop.
        let root = FaceDataset.orlFolder(models: TestPaths.models)
        let samples = try [("s1", 0), ("s2", 1)].flatMap { person, label in
            try ["1", "2"].map { i in
                let url = root.appendingPathComponent("\(person)/\(i).pgm")
                return FaceSample(image: try ImageDecoder.decode(contentsOf: url), label: label, file: url.path)
            }
        }
        let adapter = try FaceAdapter(model: try Self.sface(), method: .petal, rank: 2, dropout: 0.1, seed: 3)
        var o = FaceAdaptOptions(method: .petal)
        o.epochs = 2
        o.warmupEpochs = 0
        o.batchSize = 4
        o.learningRate = 1e-3
        o.trainSizes = [0, 8]
        let log = try FaceAdaptTraining.train(adapter, samples: samples, classes: 2, options: o)
        #expect(log.steps == 2 && log.samplesSeen == 8 && log.epochLoss.allSatisfy(\.isFinite))
        // τ = the mean quality over every image at every training size.
        // The default quality is BRISQUE (q̃ = 1 − BRISQUE/100, clamped).
        #expect(adapter.quality.measure == .brisque)
        let qs = try samples.flatMap { s in try [0, 8].map { adapter.quality.score(sfaceInput: try s.input(side: 112, probeSize: $0), side: 112) } }
        #expect(qs[0] > qs[1] && qs[2] > qs[3], "\(qs)")
        #expect(abs(log.qualityThreshold - qs.reduce(0, +) / Float(qs.count)) < 1e-5)
        // Both experts' B moved away from their zero init.
        let petal = try #require(adapter.petal)
        for e in 0..<2 { #expect(petal.layers.contains { $0.adapter.experts[e].loraB.storage.contains { $0 != 0 } }) }

        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let manifest = FaceAdaptManifest(method: .petal, options: o, model: "sface.onnx", data: root.path, protocolName: .openSet,
                                         trainIdentitiesCount: 2, trainImagesCount: nil, trainIdentities: ["s1", "s2"], qualityThreshold: adapter.qualityThreshold)
        try FaceAdaptStore.save(adapter, manifest: manifest, to: dir)
        let (loaded, m) = try FaceAdaptStore.load(from: dir, model: try Self.sface())
        #expect(m.trainIdentities == ["s1", "s2"] && m.qualityThreshold == adapter.qualityThreshold && m.options == o)
        #expect(loaded.quality.measure == .brisque)
        // A manifest written before BRISQUE (no "quality" key) was trained with the sharpness measure.
        var old = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(o)) as? [String: Any])
        old.removeValue(forKey: "quality")
        let decoded = try JSONDecoder().decode(FaceAdaptOptions.self, from: JSONSerialization.data(withJSONObject: old))
        #expect(decoded.qualityMeasure == .sharpness)
        // A full-resolution and an 8-px face (different α) embed the same before and after saving.
        let inputs = [try samples[0].input(side: 112, probeSize: nil), try samples[3].input(side: 112, probeSize: 8)]
        let a = adapter.embed(inputs), b = loaded.embed(inputs)
        #expect(zip(a, b).map { abs($0 - $1) }.max()! < 1e-5)
        // And differ from the frozen network's (the experts do something).
        let frozen = try FaceAdapter(model: try Self.sface(), method: .frozen).embed(inputs)
        #expect(zip(a, frozen).map { abs($0 - $1) }.max()! > 1e-4)
    }

    @Test func classifierStartsAtTheFrozenClassMeans() throws {
        // Two ORL identities, three images each; fresh PETALface experts (B = 0) embed like the
        // frozen network, so the start must be the mean of the frozen network's unit embeddings,
        // computed here straight through the model.
        let root = FaceDataset.orlFolder(models: TestPaths.models)
        let samples = try [("s3", 0), ("s4", 1)].flatMap { person, label in
            try ["1", "2", "3"].map { i in
                let url = root.appendingPathComponent("\(person)/\(i).pgm")
                return FaceSample(image: try ImageDecoder.decode(contentsOf: url), label: label, file: url.path)
            }
        }
        let adapter = try FaceAdapter(model: try Self.sface(), method: .petal, rank: 2, seed: 3)
        let start = try FaceAdaptTraining.classMeans(adapter, samples: samples, classes: 2)
        #expect(start.shape == [2, 128])
        let model = try Self.sface()
        let x = Tensor(try samples.flatMap { try $0.input(side: 112, probeSize: nil) }, shape: [6, 3, 112, 112])
        let e = withoutGrad { model(x) }.storage
        for c in 0..<2 {
            var mean = [Float](repeating: 0, count: 128)
            for i in (3 * c)..<(3 * c + 3) {
                let row = Array(e[(i * 128)..<((i + 1) * 128)])
                let n = row.map { $0 * $0 }.reduce(0, +).squareRoot()
                for k in 0..<128 { mean[k] += row[k] / n / 3 }
            }
            let got = Array(start.storage[(c * 128)..<((c + 1) * 128)])
            #expect(zip(got, mean).map { abs($0 - $1) }.max()! < 1e-5)
        }
        // An identity without training images has no mean: an error naming the way out.
        #expect(throws: DatasetError.self) { try FaceAdaptTraining.classMeans(adapter, samples: samples, classes: 3) }
        // Manifests written before the option were trained from a random head.
        var o = FaceAdaptOptions(method: .petal)
        #expect(o.classifierStart == .classMeans)
        var old = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(o)) as? [String: Any])
        old.removeValue(forKey: "classifierInit")
        #expect(try JSONDecoder().decode(FaceAdaptOptions.self, from: JSONSerialization.data(withJSONObject: old)).classifierStart == .random)
        o.classifierInit = .random
        #expect(try JSONDecoder().decode(FaceAdaptOptions.self, from: JSONEncoder().encode(o)) == o)
    }

    @Test func preprocessingHandlesGreyColourAndSmallFaces() throws {
        // A grey face and the same face as RGB with equal channels give the same input.
        let grey = Image(width: 20, height: 24, channels: 1, pixels: (0..<(20 * 24)).map { UInt8($0 % 251) })
        let rgb = Image(width: 20, height: 24, channels: 3, pixels: grey.pixels.flatMap { [$0, $0, $0] })
        let g = try FaceSample(image: grey, label: 0, file: "g.pgm").input(side: 112, probeSize: 16)
        let c = try FaceSample(image: rgb, label: 0, file: "c.png").input(side: 112, probeSize: 16)
        #expect(g == c && g.count == 3 * 112 * 112)
        // A probe size above the network input is an error naming the file, not a crash.
        #expect(throws: DatasetError.self) { try FaceSample(image: grey, label: 0, file: "g.pgm").input(side: 112, probeSize: 200) }
        // A face smaller than the probe size (6×6 against 8 px) is handled, not refused: it is
        // upsampled to 112 first, then degraded; resampling only averages, so every value stays
        // within the face's own range (0…245).
        let tiny = Image(width: 6, height: 6, channels: 1, pixels: (0..<36).map { UInt8($0 * 7) })
        let t8 = try FaceSample(image: tiny, label: 0, file: "tiny.pgm").input(side: 112, probeSize: 8)
        #expect(t8.count == 3 * 112 * 112 && t8.allSatisfy { $0 >= 0 && $0 <= 245 } && Set(t8).count > 1)
        // Mirroring twice is the identity; once swaps columns.
        let p = FacePlanes(width: 3, height: 1, channels: 1, values: [1, 2, 3])
        #expect(FacePreprocessing.flipHorizontally(p).values == [3, 2, 1])
        #expect(FacePreprocessing.Crop.centeredSquare(width: 92, height: 112) == .orl)
    }
}
