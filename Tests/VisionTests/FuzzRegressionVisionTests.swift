import Foundation
import Testing
@testable import Vision

/// Inputs found by `scripts/fuzz.sh` (target `pnm`), minimised by hand.
@Suite("Fuzz regressions (Vision)")
struct VisionFuzzRegressionTests {
    /// A 27-byte ASCII PPM whose header claims 19 × 6,553,311 pixels: the decoder allocated the
    /// 373 MB raster before reading a single sample (Tests/Fuzz/crashes/pnm/oom-940e…). Each
    /// ASCII sample needs at least a digit and a separator, so the header is refused up front.
    @Test func asciiHeaderClaimingMoreSamplesThanTheFileHoldsIsRefusedBeforeAllocating() throws {
        let found = try #require(Data(base64Encoded: "UDMxOQogCjY1NTMzMTEKIAo2NTUzNQoKNgoK"))
        #expect(String(decoding: found, as: UTF8.self).hasPrefix("P319\n \n6553311"))
        for data in [found, Data("P2 1000 1000 255 1 2 3".utf8), Data("P6 1000 1000 255\n".utf8) + Data([1, 2, 3])] {
            do {
                _ = try PNMDecoder.decode(data, file: "claims.ppm")
                Issue.record("should fail")
            } catch let error as ImageError {
                #expect(error.kind == .truncated, "\(error)")
                #expect("\(error)".contains("claims.ppm") && "\(error)".contains("unexpected end of data"), "\(error)")
            }
        }
        // A header that fits still decodes (the bound is exact at one digit + one separator).
        let tight = try PNMDecoder.decode(Data("P2 2 1 9 1 2".utf8), file: "tight.pgm")
        #expect(tight.width == 2 && tight.pixels.count == 2)
    }
}
