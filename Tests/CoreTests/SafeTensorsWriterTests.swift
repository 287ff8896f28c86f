import Foundation
import Testing
@testable import Core
import TestSupport

/// Writing: byte-identical to the Python writer's fixtures, a hand-checked layout, round trips
/// in F32/F16/BF16, and atomic replacement.
@Suite struct SafeTensorsWriterTests {
    static let folder = TestPaths.fixture("safetensors")

    /// Re-serialising the tensors of a file written by `safetensors.torch.save_file` /
    /// `safetensors.numpy.save_file` must give the same bytes: same data order, same JSON, same
    /// padding. (dtypes.safetensors had its metadata sorted by the fixture generator, which is
    /// the order we write.)
    @Test(arguments: ["dtypes.safetensors", "scalar_and_empty.safetensors", "extra_dtypes.safetensors"])
    func reproducesPythonWriterBytes(_ name: String) throws {
        let url = Self.folder.appendingPathComponent(name)
        let file = try SafeTensors.open(url)
        var raw: [String: SafeTensors.RawTensor] = [:]
        for key in file.keys {
            let info = try file.info(key)
            raw[key] = SafeTensors.RawTensor(dtype: info.dtype, shape: info.shape, bytes: try file.rawBytes(key))
        }
        let ours = try SafeTensors.serialize(raw: raw, metadata: file.metadata)
        let theirs = [UInt8](try Data(contentsOf: url))
        #expect(ours.count == theirs.count)
        #expect(ours == theirs, "first difference at byte \(zip(ours, theirs).enumerated().first { $1.0 != $1.1 }?.offset ?? -1)")
    }

    /// The layout spelled out by hand from the format description: u64 LE length, compact JSON
    /// with `__metadata__` first and tensors sorted by name within one dtype, spaces up to a
    /// multiple of 8, then data in header order.
    @Test func handCheckedLayout() throws {
        let dir = try TestPaths.temporaryDirectory()
        let url = dir.appendingPathComponent("layout.safetensors")
        let b = Tensor([1, -2], shape: [2])
        let a = Tensor([0.5, 4], shape: [1, 2])
        try SafeTensors.write(["b": b, "a": a], metadata: ["z": "1", "format": "pt", "q\"uote": "tab\there"], to: url)
        let bytes = [UInt8](try Data(contentsOf: url))
        let json = #"{"__metadata__":{"format":"pt","q\"uote":"tab\there","z":"1"},"a":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#
        let padded = json.utf8.count + (8 - json.utf8.count % 8) % 8
        #expect(padded % 8 == 0 && padded >= json.utf8.count)
        var expected: [UInt8] = [UInt8(padded & 0xFF), UInt8(padded >> 8), 0, 0, 0, 0, 0, 0]
        expected += Array(json.utf8) + [UInt8](repeating: 0x20, count: padded - json.utf8.count)
        // 0.5 = 0x3F000000, 4 = 0x40800000, 1 = 0x3F800000, -2 = 0xC0000000, little-endian.
        expected += [0, 0, 0, 0x3F, 0, 0, 0x80, 0x40, 0, 0, 0x80, 0x3F, 0, 0, 0, 0xC0]
        #expect(bytes == expected)
        // And it reads back, with no temporary files left behind.
        #expect(try SafeTensors.open(url).metadata == ["z": "1", "format": "pt", "q\"uote": "tab\there"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["layout.safetensors"])
    }

    @Test func roundTripF32IsBitExact() throws {
        let url = try TestPaths.temporaryDirectory().appendingPathComponent("rt.safetensors")
        let tensors: [String: Tensor] = [
            "encoder.layer.0.weight": randomTensor([7, 5], seed: 11, requiresGrad: false),
            "scalar": Tensor(scalar: -3.25),
            "empty": Tensor([], shape: [0, 4]),
            "special": Tensor([.infinity, -.infinity, -0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude], shape: [5]),
        ]
        try SafeTensors.write(tensors, to: url)
        let back = try SafeTensors.read(url)
        #expect(Set(back.keys) == Set(tensors.keys))
        for (k, t) in tensors {
            let r = try #require(back[k])
            #expect(r.shape == t.shape, "\(k)")
            #expect(r.storage.map(\.bitPattern) == t.storage.map(\.bitPattern), "\(k)")
            #expect(!r.requiresGrad)
        }
    }

    /// F16/BF16 encodings checked against values worked by hand.
    @Test func roundTripHalfPrecisions() throws {
        let dir = try TestPaths.temporaryDirectory()
        // 1/3: F16 keeps 10 fraction bits → 0x3555 = 0.333251953125 (matches the F16 fixture value);
        // BF16 keeps 7 → 0x3EAB = 0.333984375 (0x3EAAAAAB rounds up). 65520 overflows F16 to inf
        // (halfway to 65536, ties to even = inf). 1 + 2^-8 is a BF16 tie and rounds to even (1.0);
        // 1 + 3·2^-8 rounds up to 1 + 2^-6 = 1.015625.
        let x = Tensor([1.0 / 3, 65520, 1.00390625, 1.01171875, -2.5, .nan], shape: [6])
        try SafeTensors.write(["x": x], dtype: .f16, to: dir.appendingPathComponent("h.safetensors"))
        try SafeTensors.write(["x": x], dtype: .bf16, to: dir.appendingPathComponent("b.safetensors"))
        let h = try SafeTensors.open(dir.appendingPathComponent("h.safetensors"))
        let b = try SafeTensors.open(dir.appendingPathComponent("b.safetensors"))
        #expect(try h.info("x").dtype == .f16 && b.info("x").dtype == .bf16)
        let hv = try h.floats("x"), bv = try b.floats("x")
        let wantHalf: [Float] = [0.333251953125, .infinity, 1.00390625, 1.01171875, -2.5]
        let wantBFloat: [Float] = [0.333984375, 65536, 1, 1.015625, -2.5]
        #expect(Array(hv.prefix(5)) == wantHalf)
        #expect(Array(bv.prefix(5)) == wantBFloat)
        #expect(hv[5].isNaN && bv[5].isNaN)
        #expect(try Array(b.rawBytes("x").prefix(2)) == [0xAB, 0x3E])
    }

    /// Every binary16 bit pattern widens as the standard library's Float16 does, and every
    /// bfloat16 pattern is the upper half of a float; narrowing a widened value gives it back.
    @Test func halfConversionsAllBitPatterns() {
        var wrong: [String] = []
        for bits in 0...UInt16.max {
            let h = floatFromHalfBits(bits), ref = Float(Float16(bitPattern: bits))
            if !(h.bitPattern == ref.bitPattern || (h.isNaN && ref.isNaN)) { wrong.append("F16 widen \(bits)") }
            if !h.isNaN, halfBits(h) != bits { wrong.append("F16 narrow \(bits)") }
            let b = floatFromBFloat16Bits(bits)
            if b.bitPattern != UInt32(bits) << 16 { wrong.append("BF16 widen \(bits)") }
            if !b.isNaN, bfloat16Bits(b) != bits { wrong.append("BF16 narrow \(bits)") }
        }
        #expect(wrong.isEmpty, "\(wrong.count) mismatches, first: \(wrong.prefix(5))")
    }

    @Test func refusesReservedNameAndBadDtype() throws {
        let url = try TestPaths.temporaryDirectory().appendingPathComponent("bad.safetensors")
        #expect(throws: IOError.self) { try SafeTensors.write(["__metadata__": Tensor([1])], to: url) }
        #expect(throws: IOError.self) { try SafeTensors.write(["x": Tensor([1])], dtype: .i64, to: url) }
        #expect(!FileManager.default.fileExists(atPath: url.path))
    }
}

@Suite struct AtomicFileTests {
    @Test func replacesContentAndLeavesNoTemporaries() throws {
        let dir = try TestPaths.temporaryDirectory()
        let url = dir.appendingPathComponent("out.json")
        try AtomicFile.write("first\n", to: url)
        try AtomicFile.write(Data([1, 2, 3]), to: url)
        #expect(try Data(contentsOf: url) == Data([1, 2, 3]))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["out.json"])
    }

    @Test func failureInsideBodyKeepsTheOldFile() throws {
        let dir = try TestPaths.temporaryDirectory()
        let url = dir.appendingPathComponent("keep.txt")
        try AtomicFile.write("old", to: url)
        struct Stop: Error {}
        #expect(throws: Stop.self) {
            try AtomicFile.write(to: url) { sink in
                try sink.write("partial new content")
                throw Stop()
            }
        }
        #expect(try String(contentsOf: url, encoding: .utf8) == "old")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["keep.txt"])
    }

    @Test func missingDirectoryIsAClearErrorOrCreated() throws {
        let dir = try TestPaths.temporaryDirectory()
        let url = dir.appendingPathComponent("a/b/c.txt")
        let e = #expect(throws: IOError.self) { try AtomicFile.write("x", to: url) }
        #expect(e?.kind == .writeFailed && e?.description.contains("create the directory") == true)
        try AtomicFile.write("x", to: url, createDirectories: true)
        #expect(try String(contentsOf: url, encoding: .utf8) == "x")
    }
}
