import Foundation
import Testing
import TestSupport
@testable import Vision

/// JPEG decoding against `Resources/*.expected.ppm`, written by libjpeg-turbo's own `djpeg`
/// (and, for CMYK, by Pillow); see `Resources/make_fixtures.sh`. PGM/PPM decoding against
/// numbers printed by Pillow 12 (`Image.open(io.BytesIO(b)).getdata()`), quoted per case.
@Suite struct JPEGAndPNMTests {
    static func resource(_ name: String) -> URL { VisionFixtures.resources.appendingPathComponent(name) }

    @Test(arguments: [("rgb420.jpg", "rgb420.expected.ppm", 3), ("rgb444_progressive.jpg", "rgb444_progressive.expected.ppm", 3),
                      ("gray.jpg", "gray.expected.pgm", 1), ("cmyk.jpg", "cmyk.expected.ppm", 3)])
    func jpegMatchesReferenceDecoder(file: String, expected: String, channels: Int) throws {
        let img = try ImageDecoder.decode(contentsOf: Self.resource(file))
        let ref = try PNMDecoder.decode(contentsOf: Self.resource(expected))
        #expect(img.channels == channels)
        #expect(img.width == ref.width && img.height == ref.height)
        #expect(img.pixels == ref.pixels, "\(file): max diff \(zip(img.pixels, ref.pixels).map { abs(Int($0) - Int($1)) }.max() ?? -1)")
    }

    @Test func jpegSizeIsTheSourceSize() throws {
        // make_fixtures.sh draws a 21x13 RGB and a 9x7 gray source.
        let rgb = try JPEGDecoder.decode(contentsOf: Self.resource("rgb420.jpg"))
        #expect((rgb.width, rgb.height) == (21, 13))
        let gray = try JPEGDecoder.decode(contentsOf: Self.resource("gray.jpg"))
        #expect((gray.width, gray.height) == (9, 7))
    }

    @Test func everyTruncationOfAJPEGThrowsAndNeverCrashes() throws {
        let data = try Data(contentsOf: Self.resource("rgb420.jpg"))
        var kinds: [ImageError.Kind: Int] = [:]
        for n in stride(from: 0, to: data.count - 2, by: 5) {
            let err = expectImageError { try JPEGDecoder.decode(data.prefix(n), file: "cut\(n).jpg") }
            #expect(err != nil, "a JPEG cut at \(n) of \(data.count) bytes must not decode")
            if let err { kinds[err.kind, default: 0] += 1; #expect(err.description.hasPrefix("cut\(n).jpg: ")) }
        }
        // Every cut reads as "unexpected end" (the 0-byte cut as "empty").
        #expect(kinds[.truncated, default: 0] == kinds.values.reduce(0, +) - 1 && kinds[.empty] == 1, "\(kinds)")
        let inHeaders = expectImageError { try JPEGDecoder.decode(data.prefix(data.count / 2), file: "half.jpg") }
        #expect(inHeaders?.kind == .truncated && inHeaders?.problem.contains("unexpected end of data") == true)
        let inScan = expectImageError { try JPEGDecoder.decode(data.prefix(data.count - 60), file: "scan.jpg") }
        #expect(inScan?.problem.contains("Premature end of JPEG file") == true, "\(inScan?.problem ?? "")")
    }

    /// Byte offset of the first SOF0/SOF2 marker's height field.
    static func sofHeightOffset(_ bytes: [UInt8]) -> Int? {
        for i in 0..<(bytes.count - 1) where bytes[i] == 0xFF && (bytes[i + 1] == 0xC0 || bytes[i + 1] == 0xC2) { return i + 5 }
        return nil
    }

    @Test func lyingOrBrokenJPEGHeadersThrow() throws {
        let bytes = [UInt8](try Data(contentsOf: Self.resource("rgb444_progressive.jpg")))
        let at = try #require(Self.sofHeightOffset(bytes))
        var huge = bytes
        huge[at] = 0xFF; huge[at + 1] = 0xDC; huge[at + 2] = 0xFF; huge[at + 3] = 0xDC   // 65500 x 65500
        let big = expectImageError { try JPEGDecoder.decode(Data(huge), file: "huge.jpg") }
        #expect(big?.kind == .tooLarge, "\(String(describing: big))")
        var zero = bytes
        zero[at + 2] = 0; zero[at + 3] = 0                                                 // width 0
        #expect(expectImageError { try JPEGDecoder.decode(Data(zero), file: "zero.jpg") } != nil)
        let text = Data("this is not a jpeg at all".utf8)
        #expect(expectImageError { try JPEGDecoder.decode(text, file: "t.jpg") }?.kind == .unknownFormat)
        #expect(expectImageError { try JPEGDecoder.decode(Data(), file: "e.jpg") }?.kind == .empty)
        // Scribbling over the entropy-coded data: never a crash; libjpeg flags it or decodes garbage.
        var rng = SplitMix64Local(seed: 3)
        for trial in 0..<20 {
            var scribbled = bytes
            for _ in 0..<8 { scribbled[bytes.count / 2 + Int(rng.next() % UInt64(bytes.count / 3))] = UInt8(truncatingIfNeeded: rng.next()) }
            if let img = try? JPEGDecoder.decode(Data(scribbled), file: "s\(trial).jpg") {
                #expect(img.width == 21 && img.height == 13)
            }
        }
    }

    @Test func pnmVariantsMatchPillow() throws {
        // Pillow: ('L', [0, 3, 128, 252, 255, 94]) — maxval 100, round(v/100*255) ties to even.
        let p2 = try PNMDecoder.decode(Data("P2\n# c\n3 2\n100\n0 1 50\n99 100 37\n".utf8))
        #expect(p2.channels == 1 && p2.width == 3 && p2.height == 2)
        #expect(p2.pixels == [0, 3, 128, 252, 255, 94])
        // Pillow: ('RGB', [(0, 128, 255), (255, 1, 1)])
        let p3 = try PNMDecoder.decode(Data("P3 2 1 1000 0 500 999 1000 2 3\n".utf8))
        #expect(p3.channels == 3 && p3.pixels == [0, 128, 255, 255, 1, 1])
        // Pillow: ('RGB', [(0, 1, 128), (255, 4, 255)]) — 16-bit big-endian samples.
        var p6 = Data("P6\n2 1\n65535\n".utf8)
        for v: UInt16 in [0, 257, 32768, 65535, 1000, 65534] { p6.append(UInt8(v >> 8)); p6.append(UInt8(v & 0xFF)) }
        #expect(try PNMDecoder.decode(p6).pixels == [0, 1, 128, 255, 4, 255])
        // Pillow: ('L', [0, 109, 255]) and ('L', [9, 250])
        #expect(try PNMDecoder.decode(Data("P5\n3 1\n7\n".utf8) + Data([0, 3, 7])).pixels == [0, 109, 255])
        #expect(try ImageDecoder.decode(Data("P5\n2 1\n255\n".utf8) + Data([9, 250])).pixels == [9, 250])
    }

    @Test func badPNMInputThrowsClearly() throws {
        let cases: [(String, Data, ImageError.Kind)] = [
            ("short raster", Data("P5\n4 4\n255\n".utf8) + Data([1, 2, 3]), .truncated),
            ("huge header", Data("P6\n100000 100000\n255\n".utf8) + Data([1, 2, 3]), .tooLarge),
            ("zero width", Data("P5\n0 4\n255\n".utf8), .invalidHeader),
            ("maxval 0", Data("P5\n1 1\n0\n".utf8) + Data([0]), .invalidHeader),
            ("maxval too big", Data("P2 1 1 70000 5".utf8), .invalidHeader),
            ("ascii above maxval", Data("P2 2 1 10 3 11".utf8), .corrupt),
            ("ascii too few", Data("P3 2 1 255 1 2 3 4".utf8), .truncated),
            ("garbage in header", Data("P5\nab 4\n255\n".utf8), .invalidHeader),
            ("header cut", Data("P6\n4".utf8), .truncated),
            ("not pnm", Data("P4\n1 1\n".utf8), .unknownFormat),
        ]
        for (label, data, kind) in cases {
            let err = expectImageError { try PNMDecoder.decode(data, file: "\(label).pgm") }
            #expect(err?.kind == kind, "\(label): \(String(describing: err))")
            #expect(err?.description.hasPrefix("\(label).pgm: ") == true)
        }
    }

    @Test func decoderSniffsContentNotExtension() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let disguised = dir.appendingPathComponent("photo.png")   // really a JPEG
        try Data(contentsOf: Self.resource("gray.jpg")).write(to: disguised)
        #expect(ImageDecoder.sniff(contentsOf: disguised) == .jpeg)
        #expect(try ImageDecoder.decode(contentsOf: disguised).channels == 1)
        let text = dir.appendingPathComponent("notes.jpg")
        try Data("hello".utf8).write(to: text)
        let err = expectImageError { try ImageDecoder.decode(contentsOf: text) }
        #expect(err?.kind == .unknownFormat && err?.problem.contains("68 65 6C 6C") == true)
        #expect(expectImageError { try ImageDecoder.decode(contentsOf: dir.appendingPathComponent("missing.jpg")) }?.kind == .unreadable)
        #expect(expectImageError { try ImageDecoder.decode(contentsOf: dir) }?.kind == .unreadable)
    }
}

/// A local copy of SplitMix64 so this file does not depend on Core's generator for test noise.
struct SplitMix64Local {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
