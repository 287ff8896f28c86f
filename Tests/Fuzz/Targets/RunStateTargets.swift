import Core
import Foundation
import Text
import Vision

// Targets for inputs that are folders or run state rather than one document: the image-folder
// layouts of vision-adapt (`root/<class>/<image>`, train/val/test splits), deepfake-detect
// (`--data DIR` with real/ and fake/<family>/) and face-adapt (`root/<identity>/<images>`); a
// training checkpoint handed to `--resume`; crosstune's feature-cache entries and its
// label-description file.

/// The sample URLs a reader returns must lie inside the tree it was given.
/// Compared as UTF-8 bytes: `String.hasPrefix` compares grapheme clusters, and a folder name that
/// starts with a combining mark merges with the "/" before it into one cluster, so a path inside the
/// root failed the character-wise test (soak of the fifth session; a harness error, not a reader's).
private func inside(_ url: URL, _ root: URL) -> Bool { url.path.utf8.starts(with: (root.path + "/").utf8) }

let runStateFuzzTargets: [FuzzTarget] = [
    FuzzTarget(name: "image-folder", summary: "vision-adapt's --data folder (root/<class>/<image>, optional train/ val/ test/), strict and lenient",
               maxLength: 4096) { data in
        let root = FuzzTree.build(data, in: "images")
        for strict in [false, true] {
            do {
                let splits = try ImageFolderSplits(root: root, strict: strict)
                let classes = splits.train.classes
                guard !classes.isEmpty, Set(classes).count == classes.count else { fatalError("classes \(classes)") }
                for split in [splits.train, splits.val, splits.test].compactMap({ $0 }) {
                    guard split.classes == classes else { fatalError("split classes \(split.classes) differ from \(classes)") }
                    for s in split.samples where !(0..<classes.count).contains(s.label) || !inside(s.url, root) {
                        fatalError("sample \(s.url.path) with label \(s.label) of \(classes.count)")
                    }
                    _ = split.classCounts
                }
                // Strict mode throws on every skipped file; the one note it keeps is a val/test split
                // lacking a training class (informational: that split simply has no such samples).
                if strict, let w = splits.warnings.first(where: { !$0.hasSuffix("has no images in this split") }) {
                    fatalError("strict mode skipped instead of throwing: \(w)")
                }
            } catch {
                Fuzz.expectClear(error, naming: root.path)
            }
        }
    },
    FuzzTarget(name: "deepfake-folder", summary: "deepfake-detect's --data folder (real/, fake/ with one folder per family)", maxLength: 4096) { data in
        let root = FuzzTree.build(data, in: "deepfake")
        do {
            let d = try DeepfakeData(root: root)
            guard !d.fakes.isEmpty, d.reals.count + d.fakes.count == d.samples.count else { fatalError("\(d.reals.count) reals, \(d.fakes.count) fakes") }
            for s in d.samples where !inside(s.url, root) || (!s.isFake && s.family != "real") {
                fatalError("sample \(s.url.path) fake=\(s.isFake) family \(s.family)")
            }
            // --families: each known family alone keeps its fakes; an unknown name is refused.
            for family in d.families.prefix(2) {
                let kept = try d.keeping(families: [family])
                guard kept.fakes.allSatisfy({ $0.family == family }), kept.reals.count == d.reals.count else { fatalError("keeping \(family)") }
            }
            do { _ = try d.keeping(families: ["no such family"]); fatalError("unknown family accepted") } catch let e as DatasetError {
                Fuzz.expectOneLine(e)
            }
        } catch {
            Fuzz.expectClear(error, naming: root.path)
        }
    },
    FuzzTarget(name: "face-folder", summary: "face-adapt's face folder (root/<identity>/<images>, natural order)", maxLength: 4096) { data in
        let root = FuzzTree.build(data, in: "faces")
        for extensions in [ImageFolder.imageExtensions, ["pgm"]] {
            do {
                let d = try FaceDataset(root: root, extensions: extensions)
                guard !d.identities.isEmpty, d.identities.allSatisfy({ !$0.images.isEmpty }) else { fatalError("empty identity") }
                for id in d.identities { for u in id.images where !inside(u, root) { fatalError("image \(u.path) outside the root") } }
                _ = d.imageCount
            } catch {
                Fuzz.expectClear(error, naming: root.path)
            }
        }
    },
    FuzzTarget(name: "training-checkpoint", summary: "a training_checkpoint.safetensors given to --resume: read, matched to the run, restored into a model and AdamW") { data in
        let url = Fuzz.file(TrainingCheckpoint.fileName, data, in: "run")
        Fuzz.attempt(naming: url.path) {
            let ckpt = try TrainingCheckpoint.read(from: url)
            guard ckpt.position.step >= 0, ckpt.position.epoch >= 1, ckpt.position.batchInEpoch >= 0 else {
                fatalError("impossible position accepted: \(ckpt.position)")
            }
            // The compatibility check and the restore a trainer does on --resume.
            let (session, net) = try fuzzSession()
            let restored = try session.resume(from: url)
            guard restored.position == ckpt.position else { fatalError("resume changed the position") }
            _ = net(Tensor([Float](repeating: 0.5, count: 8), shape: [2, 4]))
        }
    },
    FuzzTarget(name: "feature-cache", summary: "one crosstune feature-cache entry (.feat: magic, key, token and dim counts, floats)") { data in
        if let f = CachedFeatureSource.decodeEntry([UInt8](data), key: fuzzCacheKey) {
            guard f.tokens > 0, f.dim > 0, f.values.count == f.tokens * f.dim, data.count == 8 + 4 + fuzzCacheKey.utf8.count + 8 + 4 * f.values.count else {
                fatalError("cache entry [\(f.tokens), \(f.dim)] from \(data.count) bytes")
            }
        }
    },
    FuzzTarget(name: "label-descriptions", summary: "crosstune's --label-descriptions file (label<TAB>description lines)", maxLength: 8192) { data in
        let url = Fuzz.file("labels.tsv", data)
        Fuzz.attempt(naming: url.path) {
            let d = try LabelledTextReader.descriptions(path: url.path, labels: fuzzLabels)
            guard d.count == fuzzLabels.count else { fatalError("\(d.count) descriptions for \(fuzzLabels.count) labels") }
        }
    },
]

/// The labels the description target checks against (names with a space and non-ASCII too).
let fuzzLabels = ["pos", "neg", "very neutral", "émotion"]

/// The cache key the feature-cache target decodes against (endpoint, model, kind, text).
let fuzzCacheKey = "http://127.0.0.1:8080\u{0}sentence-transformers/all-MiniLM-L6-v2\u{0}tokens\u{0}hello world"

/// The run a fuzzed checkpoint is resumed into: FuzzNet (seeded, so its fingerprint is fixed)
/// with AdamW and a small config; the seed writer saves checkpoints of this same run.
func fuzzSession(folder: URL? = nil) throws -> (TrainingSession, FuzzNet) {
    let net = try FuzzNet()
    let session = try TrainingSession(command: "fuzz-train", model: net, parameters: net.trainableParameters(), optimizer: AdamW(learningRate: 1e-2),
                                      config: ["r": "4", "lr": "0.01", "data": "00ff00ff00ff00ff"], folder: folder, every: 0)
    return (session, net)
}
