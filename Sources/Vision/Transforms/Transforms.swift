import Foundation

/// How a centre crop places its box when the leftover margin is odd. The two libraries that
/// our models' preprocessing comes from disagree, so both are offered.
public enum CropRounding: Sendable {
    /// torchvision `CenterCrop`: offset `round((size − crop) / 2)` with Python's ties-to-even
    /// rounding; a crop larger than the image is zero-padded with the extra pixel at the end.
    case torchvision
    /// Hugging Face `image_transforms.center_crop`: offset `(size − crop) // 2` (floor), also for
    /// crops larger than the image.
    case huggingFace

    /// Offset of the crop box along one axis of length `size`.
    func offset(size: Int, crop: Int) -> Int {
        let diff = size - crop
        switch self {
        case .huggingFace:
            return diff >= 0 ? diff / 2 : -((-diff + 1) / 2)   // floor division for negatives
        case .torchvision:
            if diff < 0 { return -((-diff) / 2) }            // pad left = (crop − size) // 2
            return Int((Double(diff) / 2).rounded(.toNearestOrEven))
        }
    }
}

extension Image {
    /// torchvision `Resize(size)` with an integer size (also HF's `shortest_edge`): the shorter
    /// side becomes `size`, the longer one `Int(size · long / short)` (truncated, as Python's
    /// `int()`); with `maxSize`, the longer side is capped and the shorter one scaled down to match.
    public func resizedShorterSide(to size: Int, maxSize: Int? = nil, interpolation: Interpolation = .bilinear) -> Image {
        precondition(size > 0, "shorter-side size must be positive")
        let (w, h) = Self.shorterSideSize(width: width, height: height, size: size, maxSize: maxSize)
        return resized(width: w, height: h, interpolation: interpolation)
    }

    /// The output size of `resizedShorterSide` for a `width × height` input.
    public static func shorterSideSize(width: Int, height: Int, size: Int, maxSize: Int? = nil) -> (width: Int, height: Int) {
        let short = min(width, height), long = max(width, height)
        var newShort = size
        var newLong = Int(Double(size * long) / Double(short))
        if let maxSize, newLong > maxSize {
            newShort = Int(Double(maxSize * newShort) / Double(newLong))
            newLong = maxSize
        }
        return width <= height ? (newShort, newLong) : (newLong, newShort)
    }

    /// The central `height × width` region (zero-padded if the image is smaller).
    public func centerCropped(height h: Int, width w: Int, rounding: CropRounding = .torchvision) -> Image {
        cropped(top: rounding.offset(size: height, crop: h), left: rounding.offset(size: width, crop: w), height: h, width: w)
    }

    /// Square centre crop.
    public func centerCropped(_ size: Int, rounding: CropRounding = .torchvision) -> Image {
        centerCropped(height: size, width: size, rounding: rounding)
    }
}

/// torchvision's `RandomResizedCrop`: a crop covering a random fraction of the area (`scale`)
/// with a random log-uniform aspect ratio (`ratio`), resized to `height × width`. Ten attempts
/// are made to find a box that fits; if none does, it falls back to the largest centred box
/// whose aspect ratio is clamped into `ratio`. Same algorithm as torchvision; the random
/// stream is ours (seeded), so the boxes differ from PyTorch's for the same seed number.
public struct RandomResizedCrop: Sendable {
    public var height: Int
    public var width: Int
    public var scale: ClosedRange<Double>
    public var ratio: ClosedRange<Double>
    public var interpolation: Interpolation

    public init(size: Int, scale: ClosedRange<Double> = 0.08...1.0, ratio: ClosedRange<Double> = (3.0 / 4.0)...(4.0 / 3.0),
                interpolation: Interpolation = .bilinear) {
        self.init(height: size, width: size, scale: scale, ratio: ratio, interpolation: interpolation)
    }

    public init(height: Int, width: Int, scale: ClosedRange<Double> = 0.08...1.0,
                ratio: ClosedRange<Double> = (3.0 / 4.0)...(4.0 / 3.0), interpolation: Interpolation = .bilinear) {
        self.height = height
        self.width = width
        self.scale = scale
        self.ratio = ratio
        self.interpolation = interpolation
    }

    /// The crop box (`top`, `left`, `height`, `width`) for an image of the given size.
    public func box<G: RandomNumberGenerator>(imageWidth: Int, imageHeight: Int, using rng: inout G)
        -> (top: Int, left: Int, height: Int, width: Int)
    {
        let area = Double(imageWidth * imageHeight)
        let logRatio = log(ratio.lowerBound)...log(ratio.upperBound)
        for _ in 0..<10 {
            let targetArea = area * uniform(scale, &rng)
            let aspect = exp(uniform(logRatio, &rng))
            let w = Int((targetArea * aspect).squareRoot().rounded(.toNearestOrEven))
            let h = Int((targetArea / aspect).squareRoot().rounded(.toNearestOrEven))
            if w > 0, w <= imageWidth, h > 0, h <= imageHeight {
                let top = randomIndex(below: imageHeight - h + 1, using: &rng)
                let left = randomIndex(below: imageWidth - w + 1, using: &rng)
                return (top, left, h, w)
            }
        }
        // Fallback: whole image, with the aspect ratio clamped into `ratio`.
        let inRatio = Double(imageWidth) / Double(imageHeight)
        var w = imageWidth, h = imageHeight
        if inRatio < ratio.lowerBound {
            h = Int((Double(w) / ratio.lowerBound).rounded(.toNearestOrEven))
        } else if inRatio > ratio.upperBound {
            w = Int((Double(h) * ratio.upperBound).rounded(.toNearestOrEven))
        }
        return ((imageHeight - h) / 2, (imageWidth - w) / 2, h, w)
    }

    /// Crops a random box and resizes it to `height × width`.
    public func callAsFunction<G: RandomNumberGenerator>(_ image: Image, using rng: inout G) -> Image {
        let b = box(imageWidth: image.width, imageHeight: image.height, using: &rng)
        return image.cropped(top: b.top, left: b.left, height: b.height, width: b.width)
            .resized(width: width, height: height, interpolation: interpolation)
    }
}

/// torchvision's `RandomHorizontalFlip`: mirrors with probability `p`.
public struct RandomHorizontalFlip: Sendable {
    public var p: Double
    public init(p: Double = 0.5) { self.p = p }

    public func callAsFunction<G: RandomNumberGenerator>(_ image: Image, using rng: inout G) -> Image {
        unitDouble(&rng) < p ? image.flippedHorizontally() : image
    }
}

// MARK: - Seeded random helpers (our own, so results do not depend on the stdlib's algorithms)

/// Uniform Double in [0, 1) from the top 53 bits.
@inline(__always)
func unitDouble<G: RandomNumberGenerator>(_ rng: inout G) -> Double {
    Double(rng.next() >> 11) * 0x1p-53
}

/// Uniform Double in `range`, as torch's `uniform_(a, b)`: a + (b − a)·u.
@inline(__always)
func uniform<G: RandomNumberGenerator>(_ range: ClosedRange<Double>, _ rng: inout G) -> Double {
    range.lowerBound + (range.upperBound - range.lowerBound) * unitDouble(&rng)
}

/// Unbiased uniform integer in 0..<n (rejection of the short final block of 2⁶⁴ mod n values).
func randomIndex<G: RandomNumberGenerator>(below n: Int, using rng: inout G) -> Int {
    precondition(n > 0, "randomIndex needs a positive bound")
    let bound = UInt64(n)
    let rem = (UInt64.max % bound &+ 1) % bound   // 2⁶⁴ mod n
    if rem == 0 { return Int(rng.next() % bound) }
    let limit = 0 &- rem                          // 2⁶⁴ − rem: values at or above it are biased
    var r = rng.next()
    while r >= limit { r = rng.next() }
    return Int(r % bound)
}
