import Foundation
import Vision

/// `compare.png`: metric (mean, with ± std bars) against trainable parameters on a log axis,
/// one colour per method (listed in `plotLegend`), Pareto-front points ringed in black and
/// joined by a dark line. Grid lines mark each power of ten of parameters and tenths of the
/// metric range. No text is drawn (PEFTKit has no font); the legend lives in `compare.md`.
extension CompareReport {
    static let palette: [(UInt8, UInt8, UInt8)] = [
        (228, 26, 28), (55, 126, 184), (77, 175, 74), (152, 78, 163), (255, 127, 0), (166, 86, 40),
        (247, 129, 191), (153, 153, 153), (23, 190, 207), (188, 189, 34), (31, 119, 180), (214, 39, 40),
    ]

    /// `method: colour` lines for the Markdown legend.
    public var plotLegend: String {
        rows.enumerated().map { i, r in
            let c = Self.palette[i % Self.palette.count]
            return "\(r.method): rgb(\(c.0), \(c.1), \(c.2))"
        }.joined(separator: "; ")
    }

    /// The plot as an RGB image (`width × height`).
    public func plotImage(width: Int = 640, height: Int = 400) -> Image {
        var img = Image(width: width, height: height, channels: 3, fill: 255)
        func put(_ x: Int, _ y: Int, _ c: (UInt8, UInt8, UInt8)) {
            guard x >= 0, y >= 0, x < width, y < height else { return }
            let o = (y * width + x) * 3
            img.pixels[o] = c.0; img.pixels[o + 1] = c.1; img.pixels[o + 2] = c.2
        }
        func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: (UInt8, UInt8, UInt8)) {
            let n = Swift.max(Swift.abs(x1 - x0), Swift.abs(y1 - y0), 1)
            for t in 0...n { put(x0 + (x1 - x0) * t / n, y0 + (y1 - y0) * t / n, c) }
        }
        let valid = rows.filter { $0.mean.isFinite && $0.trainable > 0 }
        let margin = 40, plotW = width - 2 * margin, plotH = height - 2 * margin
        guard !valid.isEmpty else { return img }
        var lx0 = floor(log10(Double(valid.map(\.trainable).min()!))), lx1 = ceil(log10(Double(valid.map(\.trainable).max()!)))
        if lx1 <= lx0 { lx0 -= 1; lx1 += 1 }
        var y0 = valid.map { $0.mean - $0.std }.min()!, y1 = valid.map { $0.mean + $0.std }.max()!
        if y1 - y0 < 1e-9 { y0 -= 0.05; y1 += 0.05 }
        let pad = (y1 - y0) * 0.1
        y0 -= pad; y1 += pad
        func px(_ params: Int) -> Int { margin + Int((log10(Double(params)) - lx0) / (lx1 - lx0) * Double(plotW)) }
        func py(_ v: Double) -> Int { height - margin - Int((v - y0) / (y1 - y0) * Double(plotH)) }
        let grid: (UInt8, UInt8, UInt8) = (225, 225, 225), black: (UInt8, UInt8, UInt8) = (0, 0, 0)
        for e in Int(lx0)...Int(lx1) { let x = margin + Int((Double(e) - lx0) / (lx1 - lx0) * Double(plotW)); line(x, margin, x, height - margin, grid) }
        for k in 0...10 { let y = height - margin - k * plotH / 10; line(margin, y, width - margin, y, grid) }
        line(margin, height - margin, width - margin, height - margin, black)
        line(margin, margin, margin, height - margin, black)
        let front = paretoFront.compactMap { m in valid.first { $0.method == m } }
        for (a, b) in zip(front, front.dropFirst()) { line(px(a.trainable), py(a.mean), px(b.trainable), py(b.mean), (60, 60, 60)) }
        for (i, r) in rows.enumerated() where r.mean.isFinite && r.trainable > 0 {
            let c = Self.palette[i % Self.palette.count], x = px(r.trainable), y = py(r.mean)
            line(x, py(r.mean - r.std), x, py(r.mean + r.std), c)
            if front.contains(where: { $0.method == r.method }) {
                for d in -5...5 { put(x + d, y - 5, black); put(x + d, y + 5, black); put(x - 5, y + d, black); put(x + 5, y + d, black) }
            }
            for dx in -3...3 { for dy in -3...3 { put(x + dx, y + dy, c) } }
        }
        return img
    }

    /// Writes `compare.png` atomically.
    public func writePlot(to url: URL) throws { try PNGCodec.write(plotImage(), to: url) }
}
