import Foundation
import Testing
@testable import Core

/// The CTranslate2 reader's widening of stored values to Float32, on a hand-built `model.bin`
/// whose float16 variable holds every one of the 65,536 bit patterns. The reference is the
/// standard library's `Float(Float16(bitPattern:))` (NaN: any NaN, the payload is not compared),
/// bfloat16 is the upper half of a float, float32 keeps its bits. The variables start at odd
/// byte offsets (spec name "SX"), as records in real files may (they are not aligned).
@Suite struct CTranslate2WideningTests {
    /// Version 6, spec "SX", variables `h` (float16, all patterns), `b` (bfloat16, all patterns),
    /// `f` (float32, a few awkward values), no aliases.
    static func allPatternsFile(floats: [Float]) -> Data {
        var d = Data()
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        func str(_ s: String) {
            withUnsafeBytes(of: UInt16(s.utf8.count + 1).littleEndian) { d.append(contentsOf: $0) }
            d.append(contentsOf: Array(s.utf8) + [0])
        }
        u32(6); str("SX"); u32(1); u32(3)
        for (name, dtype) in [("h", UInt8(4)), ("b", UInt8(5))] {
            str(name); d.append(1); u32(65_536); d.append(dtype); u32(2 * 65_536)
            for bits in 0...UInt16.max { withUnsafeBytes(of: bits.littleEndian) { d.append(contentsOf: $0) } }
        }
        str("f"); d.append(1); u32(UInt32(floats.count)); d.append(0); u32(UInt32(4 * floats.count))
        for x in floats { u32(x.bitPattern) }
        u32(0)
        return d
    }

    @Test func everyHalfAndBFloat16PatternWidensExactly() throws {
        let floats: [Float] = [0, -0.0, 1, -2.5, .leastNonzeroMagnitude, -.greatestFiniteMagnitude, .infinity, .nan]
        let m = try CTranslate2Model(data: Self.allPatternsFile(floats: floats), source: "patterns.bin")
        let h = try m.variable("h").values, b = try m.variable("b").values
        #expect(h.count == 65_536 && b.count == 65_536)
        var wrong: [String] = []
        for bits in 0...UInt16.max {
            let i = Int(bits)
            let ref = Float(Float16(bitPattern: bits))
            if !(h[i].bitPattern == ref.bitPattern || (ref.isNaN && h[i].isNaN)) { wrong.append("f16 \(bits): \(h[i]) vs \(ref)") }
            if b[i].bitPattern != UInt32(bits) << 16 { wrong.append("bf16 \(bits)") }
        }
        #expect(wrong.isEmpty, "\(wrong.count) mismatches, first: \(wrong.prefix(5))")
        let f = try m.variable("f").values
        #expect(f.map(\.bitPattern) == floats.map(\.bitPattern))
    }
}
