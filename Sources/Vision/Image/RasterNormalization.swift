import Foundation

extension Raster {
    /// The `p`-th percentile (0…100) of band `b`, with linear interpolation between order
    /// statistics (numpy's default). Large bands are subsampled on a fixed stride to at most
    /// 1 M values, so the cost is bounded; non-finite values are skipped.
    public func percentile(band b: Int, _ p: Double) -> Float {
        let values = band(b)
        let stride = max(1, values.count / 1_000_000)
        var picked: [Float] = []
        picked.reserveCapacity(values.count / stride + 1)
        var i = values.startIndex
        while i < values.endIndex {
            if values[i].isFinite { picked.append(values[i]) }
            i += stride
        }
        guard !picked.isEmpty else { return 0 }
        picked.sort()
        let rank = min(max(p, 0), 100) / 100 * Double(picked.count - 1)
        let lo = Int(rank.rounded(.down)), hi = min(lo + 1, picked.count - 1)
        return picked[lo] + Float(rank - Double(lo)) * (picked[hi] - picked[lo])
    }

    /// An 8-bit RGB picture of three bands (0-based `bands`; one band is repeated as grey), each
    /// stretched linearly so its `low`/`high` percentiles map to 0/255 and clipped — the usual way
    /// to show 16-bit satellite reflectances. Defaults: the first three bands, 2 % and 98 %.
    public func normalizedImage(bands chosen: [Int]? = nil, low: Double = 2, high: Double = 98, file: String = "<raster>") throws -> Image {
        let picks = chosen ?? Array(0..<min(3, bands))
        guard picks.count == 1 || picks.count == 3 else {
            throw ImageError(.unsupported, file: file, problem: "--bands needs 1 or 3 bands, got \(picks.count)", hint: "e.g. --bands 3,2,1 for red, green, blue")
        }
        for b in picks where !(0..<bands).contains(b) {
            throw ImageError(.unsupported, file: file, problem: "band \(b + 1) does not exist (the file has \(bands) band(s))", hint: "--bands counts from 1")
        }
        let rgb = picks.count == 1 ? [picks[0], picks[0], picks[0]] : picks
        let plane = width * height
        var pixels = [UInt8](repeating: 0, count: plane * 3)
        for (c, b) in rgb.enumerated() {
            let lo = percentile(band: b, low), hi = percentile(band: b, high)
            let scale = hi > lo ? 255 / (hi - lo) : 0
            let values = band(b)
            var k = values.startIndex
            for p in 0..<plane {
                let v = values[k].isFinite ? (values[k] - lo) * scale : 0
                pixels[p * 3 + c] = UInt8(min(255, max(0, v.rounded())))
                k += 1
            }
        }
        return Image(width: width, height: height, channels: 3, pixels: pixels)
    }
}
