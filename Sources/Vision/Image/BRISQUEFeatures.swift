import Foundation

/// A grey image of `Double` luminance values in 0…1, row-major: the working form of BRISQUE,
/// which (like its reference implementation) computes everything in double precision.
public struct GreyImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var values: [Double]

    public init(width: Int, height: Int, values: [Double]) {
        precondition(width > 0 && height > 0 && values.count == width * height, "GreyImage: \(values.count) values for \(width)×\(height)")
        self.width = width
        self.height = height
        self.values = values
    }

    /// Luminance of an 8-bit image with the ITU-R 709 weights 0.2125 R + 0.7154 G + 0.0721 B
    /// over values scaled to 0…1 (scikit-image's `rgb2gray`, which the BRISQUE package applies
    /// first); a grey image is taken as is.
    public init(_ image: Image) {
        let n = image.width * image.height
        var v = [Double](repeating: 0, count: n)
        let c = image.channels
        for i in 0..<n {
            if c < 3 {
                v[i] = Double(image.pixels[i * c]) / 255
            } else {
                let p = i * c
                v[i] = (0.2125 * Double(image.pixels[p]) + 0.7154 * Double(image.pixels[p + 1]) + 0.0721 * Double(image.pixels[p + 2])) / 255
            }
        }
        self.init(width: image.width, height: image.height, values: v)
    }
}

/// Why BRISQUE could not be computed (a model file that does not parse, or an image whose
/// statistics have no generalized-Gaussian fit, such as a flat image).
public struct BRISQUEError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The 36 natural-scene-statistics features of BRISQUE (Mittal, Moorthy & Bovik, "No-Reference
/// Image Quality Assessment in the Spatial Domain", IEEE TIP 2012), computed as the PyPI package
/// `brisque` 0.0.16 computes them (its trained SVR expects exactly those numbers):
///
/// 1. MSCN coefficients m = (I − μ) / (σ + 1/255) with μ, σ the local mean and deviation under a
///    normalised 7×7 Gaussian window (σ_w = 7/6), zero padding outside the image;
///    σ = √|μ² − G∗I²|; rounding-level values set to 0 (`roundingLevel`, our one deliberate
///    difference from the package, which leaves their signs to chance).
/// 2. An asymmetric generalized Gaussian (AGGD) fitted by moment matching to m and to the four
///    neighbour products m(x)m(x+e) (horizontal, vertical, both diagonals).
/// 3. Features: (shape α, mean variance (σ_l² + σ_r²)/2) of m; (α, AGGD mean η, σ_l², σ_r²) of
///    each product: 18 numbers. The package fits m with the AGGD as well (the paper uses a
///    symmetric GGD there); we follow the package because the SVR was trained on its features.
/// 4. The same 18 on the image shrunk to half size by bicubic interpolation (OpenCV
///    `INTER_CUBIC`, a = −0.75): 36 features.
public enum BRISQUEFeatures {
    /// Side of the Gaussian window and its standard deviation (the package's 7 and 7/6).
    public static let windowSize = 7
    public static let windowSigma = 7.0 / 6.0
    /// The stabilising constant added to the local deviation (1/255 for 0…1 images).
    public static let stabiliser = 1.0 / 255.0

    /// The 36 features: 18 at full scale, then 18 at half scale.
    public static func features(_ image: GreyImage) throws -> [Double] {
        try singleScale(image) + singleScale(halfSize(image))
    }

    /// The 18 features of one scale.
    public static func singleScale(_ image: GreyImage) throws -> [Double] {
        guard image.width >= 2 && image.height >= 2 else {
            throw BRISQUEError("BRISQUE needs at least 2×2 pixels per scale, got \(image.width)×\(image.height); use a larger image")
        }
        let m = mscn(image)
        let w = image.width, h = image.height
        var out: [Double] = []
        let whole = try AGGDFit(m)
        out += [whole.alpha, (whole.leftVariance + whole.rightVariance) / 2]
        // Neighbour products: (dy, dx) of the partner of (y, x), and the rows/columns where both exist.
        // Secondary diagonal pairs (y+1, x) with (y, x+1).
        let pairs: [(dy0: Int, dx0: Int, dy1: Int, dx1: Int)] = [(0, 0, 0, 1), (0, 0, 1, 0), (0, 0, 1, 1), (1, 0, 0, 1)]
        for p in pairs {
            let rows = h - max(p.dy0, p.dy1), cols = w - max(p.dx0, p.dx1)
            var prod = [Double](repeating: 0, count: rows * cols)
            for y in 0..<rows {
                for x in 0..<cols {
                    prod[y * cols + x] = m[(y + p.dy0) * w + x + p.dx0] * m[(y + p.dy1) * w + x + p.dx1]
                }
            }
            let f = try AGGDFit(prod)
            out += [f.alpha, f.mean, f.leftVariance, f.rightVariance]
        }
        return out
    }

    /// The normalised 7×7 Gaussian window as its 1-D factor (the 2-D window is the outer product,
    /// and normalising the product equals the product of the normalised factors).
    static var windowFactor: [Double] {
        let half = windowSize / 2
        let g = (0..<windowSize).map { i in exp(-Double((i - half) * (i - half)) / (2 * windowSigma * windowSigma)) }
        let s = g.reduce(0, +)
        return g.map { $0 / s }
    }

    /// Same-size convolution with the Gaussian window, zeros outside the image (SciPy
    /// `convolve2d(mode: 'same')`); separable, the window being symmetric.
    static func gaussianBlur(_ v: [Double], width w: Int, height h: Int) -> [Double] {
        let g = windowFactor, half = windowSize / 2
        var rowsPass = [Double](repeating: 0, count: w * h)
        for y in 0..<h {
            for x in 0..<w {
                var acc = 0.0
                for k in 0..<windowSize {
                    let xx = x + k - half
                    if xx >= 0 && xx < w { acc += g[k] * v[y * w + xx] }
                }
                rowsPass[y * w + x] = acc
            }
        }
        var out = [Double](repeating: 0, count: w * h)
        for y in 0..<h {
            for x in 0..<w {
                var acc = 0.0
                for k in 0..<windowSize {
                    let yy = y + k - half
                    if yy >= 0 && yy < h { acc += g[k] * rowsPass[yy * w + x] }
                }
                out[y * w + x] = acc
            }
        }
        return out
    }

    /// MSCN magnitudes below this are rounding noise and are set to exactly 0. Where the image is
    /// exactly flat (the replicated borders of an upsampled low-resolution probe) I − μ is
    /// rounding noise of ~1e-17, so |m| ≤ 1e-13 with a sign decided by the order of floating-point
    /// sums; on the ORL test inputs the next smallest |m| is 4.8e-7. The AGGD fit splits samples by
    /// sign and divides by the counts, so without this the features of such images depend on the
    /// arithmetic (the package's own score moves by up to 0.01 when its input is scaled by
    /// 1 + 2⁻⁵²). Zeros count on the non-negative side, as the package counts exact zeros.
    public static let roundingLevel = 1e-9

    /// Mean-subtracted contrast-normalised coefficients of `image`, row-major.
    public static func mscn(_ image: GreyImage) -> [Double] {
        let w = image.width, h = image.height
        let mu = gaussianBlur(image.values, width: w, height: h)
        let second = gaussianBlur(image.values.map { $0 * $0 }, width: w, height: h)
        var out = [Double](repeating: 0, count: w * h)
        for i in 0..<(w * h) {
            let sigma = abs(mu[i] * mu[i] - second[i]).squareRoot()
            let m = (image.values[i] - mu[i]) / (sigma + stabiliser)
            out[i] = abs(m) < roundingLevel ? 0 : m
        }
        return out
    }

    /// Half-size bicubic resampling as OpenCV's `resize(fx: 0.5, fy: 0.5, INTER_CUBIC)`: output
    /// side round(n/2) (ties to even), source coordinate (o + ½)·2 − ½, Keys kernel a = −0.75,
    /// source indices clamped to the image (replicated border).
    public static func halfSize(_ image: GreyImage) -> GreyImage {
        func taps(_ outSize: Int, _ inSize: Int) -> [(Int, [Double])] {
            (0..<outSize).map { o in
                let c = (Double(o) + 0.5) * 2 - 0.5
                let i = Int(c.rounded(.down))
                return (i, cubicWeights(c - Double(i)))
            }
        }
        let ow = Int((Double(image.width) / 2).rounded(.toNearestOrEven))
        let oh = Int((Double(image.height) / 2).rounded(.toNearestOrEven))
        let w = image.width, h = image.height
        let tx = taps(ow, w), ty = taps(oh, h)
        var rowsPass = [Double](repeating: 0, count: ow * h)
        for y in 0..<h {
            for (x, (i, wt)) in tx.enumerated() {
                var acc = 0.0
                for k in 0..<4 { acc += wt[k] * image.values[y * w + min(max(i - 1 + k, 0), w - 1)] }
                rowsPass[y * ow + x] = acc
            }
        }
        var out = [Double](repeating: 0, count: ow * oh)
        for (y, (i, wt)) in ty.enumerated() {
            for x in 0..<ow {
                var acc = 0.0
                for k in 0..<4 { acc += wt[k] * rowsPass[min(max(i - 1 + k, 0), h - 1) * ow + x] }
                out[y * ow + x] = acc
            }
        }
        return GreyImage(width: max(ow, 1), height: max(oh, 1), values: out)
    }

    /// Keys' cubic convolution weights for taps at offsets −1, 0, 1, 2 from the sample at
    /// fractional position t (a = −0.75 as OpenCV; the four weights sum to 1).
    static func cubicWeights(_ t: Double) -> [Double] {
        let a = -0.75
        func near(_ d: Double) -> Double { ((a + 2) * d - (a + 3)) * d * d + 1 }           // |d| ≤ 1
        func far(_ d: Double) -> Double { ((a * d - 5 * a) * d + 8 * a) * d - 4 * a }      // 1 < |d| < 2
        let w0 = far(1 + t), w1 = near(t), w2 = near(1 - t)
        return [w0, w1, w2, 1 - w0 - w1 - w2]
    }
}

/// A moment-matching fit of the asymmetric generalized Gaussian distribution (Lasmar, Stitou &
/// Berthoumieu 2009), as BRISQUE uses it: with r̂ = (E|x|)² / E x² and γ̂ = σ_l / σ_r (σ² of the
/// negative and of the non-negative samples), the shape α solves
/// Γ(2/α)² / (Γ(1/α) Γ(3/α)) = r̂ (γ̂³ + 1)(γ̂ + 1) / (γ̂² + 1)².
public struct AGGDFit: Sendable, Equatable {
    public let alpha: Double
    /// η = (σ_r − σ_l) · √(Γ(1/α)/Γ(3/α)) · Γ(2/α)/Γ(1/α).
    public let mean: Double
    public let leftVariance: Double
    public let rightVariance: Double

    public init(_ x: [Double]) throws {
        var absSum = 0.0, squareSum = 0.0, leftSquares = 0.0, rightSquares = 0.0
        var left = 0, right = 0
        for v in x {
            absSum += abs(v)
            squareSum += v * v
            if v < 0 { leftSquares += v * v; left += 1 } else { rightSquares += v * v; right += 1 }
        }
        guard left > 0, right > 0, squareSum > 0, rightSquares > 0 else {
            throw BRISQUEError("BRISQUE: the coefficients have no spread on both sides (a flat or constant image?); the quality is undefined")
        }
        let n = Double(x.count)
        let rHat = (absSum / n) * (absSum / n) / (squareSum / n)
        let sigmaL = (leftSquares / Double(left)).squareRoot(), sigmaR = (rightSquares / Double(right)).squareRoot()
        let g = sigmaL / sigmaR
        let target = rHat * (g * g * g + 1) * (g + 1) / ((g * g + 1) * (g * g + 1))
        let alpha = try Self.solveShape(target)
        leftVariance = sigmaL * sigmaL
        rightVariance = sigmaR * sigmaR
        self.alpha = alpha
        mean = (sigmaR - sigmaL) * exp(0.5 * (lgamma(1 / alpha) - lgamma(3 / alpha))) * exp(lgamma(2 / alpha) - lgamma(1 / alpha))
    }

    /// ρ(α) = Γ(2/α)² / (Γ(1/α) Γ(3/α)), increasing from 0 (α → 0) to ¾ (α → ∞).
    static func rho(_ alpha: Double) -> Double {
        exp(2 * lgamma(2 / alpha) - lgamma(1 / alpha) - lgamma(3 / alpha))
    }

    /// The α with ρ(α) = target, by bisection on log α over [0.01, 1000] to machine precision
    /// (ρ is monotone, so the root is unique; the package finds the same root with SciPy's
    /// `optimize.root` from 0.2).
    static func solveShape(_ target: Double) throws -> Double {
        var lo = log(0.01), hi = log(1000.0)
        guard target.isFinite, target > rho(exp(lo)), target < rho(exp(hi)) else {
            throw BRISQUEError("BRISQUE: moment ratio \(target) has no generalized-Gaussian shape in [0.01, 1000]; the quality is undefined for this image")
        }
        for _ in 0..<200 {
            let mid = (lo + hi) / 2
            if rho(exp(mid)) < target { lo = mid } else { hi = mid }
            if hi - lo < 1e-15 { break }
        }
        return exp((lo + hi) / 2)
    }
}
