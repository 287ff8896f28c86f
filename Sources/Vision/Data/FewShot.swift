import Core
import Foundation

extension ImageFolder {
    /// K images per class chosen with a seed, as the few-shot papers do (CoOp, Tip-Adapter,
    /// CLIP-SVD: K ∈ {1, 2, 4, 8, 16}), plus the images not chosen (`rest`), which can serve as
    /// held-out evaluation data when there is no test split.
    ///
    /// Each class draws from its own generator forked from `seed` by class index, so the choice
    /// for one class does not change when another class gains or loses images. Both lists are in
    /// (label, path) order. Throws, naming the class, when a class has fewer than `k` images.
    public func kShot(_ k: Int, seed: UInt64) throws -> (support: [ImageSample], rest: [ImageSample]) {
        guard k >= 1 else { throw DatasetError("--shots must be at least 1, got \(k)") }
        var byClass = [[Int]](repeating: [], count: classes.count)
        for (i, s) in samples.enumerated() { byClass[s.label].append(i) }
        if let short = byClass.indices.first(where: { byClass[$0].count < k }) {
            throw DatasetError("\(root.path): class '\(classes[short])' has only \(byClass[short].count) image(s), fewer than the \(k) shots requested; lower --shots or add images to \(root.appendingPathComponent(classes[short]).path)")
        }
        let base = SplitMix64(seed: seed)
        var chosen = Set<Int>()
        for (label, indices) in byClass.enumerated() {
            var rng = base.fork(UInt64(label))
            // Partial Fisher–Yates: the first k slots end up a uniform random k-subset.
            var pool = indices
            for i in 0..<k {
                let j = i + randomIndex(below: pool.count - i, using: &rng)
                pool.swapAt(i, j)
            }
            chosen.formUnion(pool[0..<k])
        }
        let support = samples.indices.filter { chosen.contains($0) }.map { samples[$0] }
        let rest = samples.indices.filter { !chosen.contains($0) }.map { samples[$0] }
        return (support, rest)
    }
}

/// Decoded images with their labels; files that failed to decode are listed in `skipped`.
public struct LoadedImages: Sendable {
    public var images: [Image]
    public var labels: [Int]
    /// One line per file that could not be decoded (empty in strict mode, which throws).
    public var skipped: [String]
}

extension ImageFolder {
    /// Decodes `samples` (in parallel) to RGB and applies `transform` (e.g. a preprocessor's
    /// `geometry`) to each. A file that fails to decode is skipped with a line in `skipped`, or,
    /// with `strict`, the first such failure (in sample order) is thrown.
    public static func loadImages(_ samples: [ImageSample], strict: Bool = false,
                                  transform: @escaping @Sendable (Image) -> Image = { $0 }) throws -> LoadedImages {
        var results = [Result<Image, ImageError>?](repeating: nil, count: samples.count)
        results.withUnsafeMutableBufferPointer { buffer in
            let out = SendablePointer(buffer.baseAddress!)
            parallelChunks(samples.count, costPerItem: 100_000) { range in
                for i in range {
                    do {
                        out.base[i] = .success(transform(try ImageDecoder.decode(contentsOf: samples[i].url).rgb()))
                    } catch let e as ImageError {
                        out.base[i] = .failure(e)
                    } catch {
                        out.base[i] = .failure(ImageError(.corrupt, file: samples[i].url.path, problem: "\(error)"))
                    }
                }
            }
        }
        var loaded = LoadedImages(images: [], labels: [], skipped: [])
        for (i, result) in results.enumerated() {
            switch result {
            case .success(let img)?:
                loaded.images.append(img)
                loaded.labels.append(samples[i].label)
            case .failure(let e)?:
                if strict { throw e }
                loaded.skipped.append(oneLineMessage("\(e.description), skipped"))   // names may hold newlines: one line per warning
            case nil:
                break
            }
        }
        return loaded
    }
}
