import Foundation
import Testing
import Core
import TestSupport

/// safetensors reading against `fixtures/safetensors/expected.json` (written by the Python
/// `safetensors` 0.8 / torch / numpy writers; parsed here with Foundation, independently of our
/// own JSON parser), every malformed fixture, hostile headers, and byte-exact writing.
@Suite struct SafeTensorsTests {
    static let folder = TestPaths.fixture("safetensors")
    static let validFiles = ["dtypes.safetensors", "scalar_and_empty.safetensors", "extra_dtypes.safetensors", "unaligned_header.safetensors"]

    /// `expected.json` → files → name → record.
    static func expected(_ file: String) throws -> [String: Any] {
        let data = try Data(contentsOf: folder.appendingPathComponent("expected.json"))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let files = try #require(root["files"] as? [String: Any])
        return try #require(files[file] as? [String: Any])
    }

    static func bytes(hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var it = hex.makeIterator()
        while let a = it.next(), let b = it.next() { out.append(UInt8(String([a, b]), radix: 16)!) }
        return out
    }

    /// An expected value as the Float the reader must produce ("inf"/"nan" strings allowed).
    static func expectedFloat(_ v: Any) -> Float? {
        if let s = v as? String { return s == "inf" ? .infinity : s == "-inf" ? -.infinity : s == "nan" ? .nan : nil }
        return (v as? NSNumber).map { Float($0.doubleValue) }
    }

    @Test(arguments: validFiles)
    func validFileMatchesExpected(_ name: String) throws {
        let record = try Self.expected(name)
        let file = try SafeTensors.open(Self.folder.appendingPathComponent(name))
        #expect(file.header.headerLength == record["header_length"] as? Int)
        #expect(file.header.dataStart == record["data_start"] as? Int)
        #expect(file.metadata == record["metadata"] as? [String: String])
        #expect(file.header.order == record["tensor_order_in_header"] as? [String])
        let tensors = try #require(record["tensors"] as? [String: [String: Any]])
        #expect(Set(file.keys) == Set(tensors.keys))
        for (key, t) in tensors {
            let info = try file.info(key)
            #expect(info.dtype.name == t["dtype"] as? String, "\(key)")
            #expect(info.shape == t["shape"] as? [Int], "\(key)")
            let offsets = try #require(t["data_offsets"] as? [Int])
            #expect(info.dataOffsets == offsets[0]..<offsets[1], "\(key)")
            #expect(try file.rawBytes(key) == Self.bytes(hex: try #require(t["bytes_hex"] as? String)), "\(key)")

            let values = try #require(t["values"] as? [Any])
            let decoded = try file.tensor(key)
            #expect(decoded.shape == info.shape && decoded.count == values.count, "\(key)")
            for (i, v) in values.enumerated() {
                let want = try #require(Self.expectedFloat(v), "\(key)[\(i)]: \(v)")
                let got = decoded.storage[i]
                // Exact: F16/BF16 widen exactly, F64 and integers round once to the nearest Float.
                let same = want.isNaN ? got.isNaN : got.bitPattern == want.bitPattern
                #expect(same, "\(name) \(key)[\(i)]: got \(got), want \(want)")
            }
            if info.dtype.isInteger {
                // Exact integers, including 2^53+1 and ±2^63 which no Float or Double holds.
                let exact = values.map { ($0 as? NSNumber)?.int64Value ?? -42 }
                #expect(try file.int64Values(key) == exact, "\(name) \(key)")
            } else {
                #expect(throws: IOError.self) { try file.int64Values(key) }
            }
        }
    }

    @Test func exactIntegersFromDtypesFixture() throws {
        // Written out so the check does not depend on how Foundation parses big integers.
        let file = try SafeTensors.open(Self.folder.appendingPathComponent("dtypes.safetensors"))
        #expect(try file.int64Values("i64") == [0, -1, 9_007_199_254_740_993, Int64.min, Int64.max])
        #expect(try file.int64Values("u8") == [0, 51, 102, 153, 204, 255])
        let scalar = try SafeTensors.open(Self.folder.appendingPathComponent("scalar_and_empty.safetensors"))
        #expect(try scalar.tensor("scalar").shape == [] && scalar.tensor("scalar").item == 2.5)
        #expect(try scalar.tensor("empty").shape == [0, 3] && scalar.tensor("empty").count == 0)
    }

    /// Each malformed file, the problem kind it must be reported as, and words the message must contain.
    static let malformed: [String: (IOError.Kind, [String])] = [
        "header_len_exceeds_file.safetensors": (.headerExceedsFile, ["header length 1000", "larger than the file"]),
        "header_len_2pow60.safetensors": (.headerExceedsFile, ["header length 1152921504606846976", "larger than the file"]),
        "file_too_small.safetensors": (.fileTooSmall, ["3 bytes", "too small"]),
        "invalid_json.safetensors": (.invalidJSON, ["invalid JSON header", "end of input"]),
        "header_not_object.safetensors": (.notAnObject, ["must be a JSON object", "an array"]),
        "header_invalid_utf8.safetensors": (.invalidUTF8, ["not valid UTF-8", "offset 2"]),
        "overlapping_offsets.safetensors": (.overlap, ["tensor 'b'", "overlaps tensor 'a'"]),
        "offsets_past_end.safetensors": (.outOfBounds, ["tensor 'a'", "past the data section", "truncated"]),
        "end_before_begin.safetensors": (.invalidOffsets, ["tensor 'a'", "[8, 0]", "end before"]),
        "shape_size_mismatch.safetensors": (.sizeMismatch, ["tensor 'a'", "needs 12 bytes", "hold 8"]),
        "duplicate_keys.safetensors": (.duplicateKey, ["tensor 'a'", "duplicate tensor name"]),
        "gap_in_offsets.safetensors": (.gap, ["tensor 'b'", "[4, 8)", "belong to no tensor"]),
        "trailing_bytes.safetensors": (.trailingBytes, ["8 bytes after the last tensor"]),
        "unknown_dtype.safetensors": (.unknownDType, ["tensor 'a'", "unknown dtype 'F7'"]),
        "negative_shape.safetensors": (.invalidShape, ["tensor 'a'", "[-2]", "non-negative"]),
        "metadata_not_string.safetensors": (.invalidMetadata, ["__metadata__", "'epoch'", "must be strings"]),
        "shape_overflow.safetensors": (.sizeOverflow, ["tensor 'a'", "overflows"]),
    ]

    @Test func everyMalformedFixtureIsCovered() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.folder.appendingPathComponent("malformed").path)
            .filter { $0.hasSuffix(".safetensors") }
        #expect(Set(names) == Set(Self.malformed.keys))
    }

    @Test(arguments: malformed.keys.sorted())
    func malformedFileIsRejected(_ name: String) throws {
        let url = Self.folder.appendingPathComponent("malformed").appendingPathComponent(name)
        let (kind, phrases) = try #require(Self.malformed[name])
        do {
            _ = try SafeTensors.open(url)
            Issue.record("\(name) was accepted")
        } catch let error as IOError {
            #expect(error.kind == kind, "\(name): \(error)")
            #expect(error.description.contains(name), "message must name the file: \(error)")
            for p in phrases { #expect(error.description.contains(p), "\(name): '\(p)' missing from: \(error)") }
            #expect(!error.description.contains("\n"))
        }
    }

    // MARK: - Hostile input made here

    static func writeFile(_ bytes: [UInt8], _ name: String) throws -> URL {
        let url = try TestPaths.temporaryDirectory().appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    static func file(header: String, data: [UInt8] = []) -> [UInt8] {
        var n = UInt64(header.utf8.count).littleEndian
        return withUnsafeBytes(of: &n) { Array($0) } + Array(header.utf8) + data
    }

    @Test func hostileHeadersFailCleanly() throws {
        // Deep nesting must not exhaust the stack.
        let deep = String(repeating: "[", count: 200_000)
        let e1 = #expect(throws: IOError.self) { try SafeTensors.open(Self.writeFile(Self.file(header: deep), "deep.safetensors")) }
        #expect(e1?.kind == .invalidJSON && e1?.description.contains("nesting deeper") == true)
        // A maximal length prefix must not overflow 8 + N.
        let allOnes = [UInt8](repeating: 0xFF, count: 16)
        let e2 = #expect(throws: IOError.self) { try SafeTensors.open(Self.writeFile(allOnes, "ones.safetensors")) }
        #expect(e2?.kind == .headerExceedsFile)
        // Offsets near Int64.max must not wrap when added to the data start.
        let big = #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[9223372036854775806,9223372036854775807]}}"#
        let e3 = #expect(throws: IOError.self) { try SafeTensors.open(Self.writeFile(Self.file(header: big, data: [0]), "big.safetensors")) }
        #expect(e3?.kind == .outOfBounds)
        // Offsets beyond Int64 arrive as non-integers and are refused.
        let huge = #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,18446744073709551617]}}"#
        let e4 = #expect(throws: IOError.self) { try SafeTensors.open(Self.writeFile(Self.file(header: huge, data: [0]), "huge.safetensors")) }
        #expect(e4?.kind == .invalidOffsets)
        // An empty file and a missing file.
        let e5 = #expect(throws: IOError.self) { try SafeTensors.open(Self.writeFile([], "empty.safetensors")) }
        #expect(e5?.kind == .fileTooSmall)
        let e6 = #expect(throws: IOError.self) { try SafeTensors.open(URL(fileURLWithPath: "/nonexistent/x.safetensors")) }
        #expect(e6?.kind == .fileNotFound && e6?.description.contains("/nonexistent/x.safetensors") == true)
        // Shape entries that are floats or booleans are not integers.
        let fractional = #"{"a":{"dtype":"U8","shape":[1.0],"data_offsets":[0,1]}}"#
        let e7 = #expect(throws: IOError.self) { try SafeTensors.open(Self.writeFile(Self.file(header: fractional, data: [0]), "frac.safetensors")) }
        #expect(e7?.kind == .invalidShape)
    }

    @Test func undecodableDtypeFailsOnlyWhenAskedFor() throws {
        // F8_E4M3 is a valid dtype we cannot decode: the file opens, other tensors decode lazily.
        let header = #"{"a":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}"#
        let file = try SafeTensors.open(Self.writeFile(Self.file(header: header, data: [1, 2, 3, 4]), "f8.safetensors"))
        #expect(try file.floats("b") == [3, 4])
        let e = #expect(throws: IOError.self) { try file.floats("a") }
        #expect(e?.kind == .unsupportedDType && e?.description.contains("tensor 'a'") == true)
        let missing = #expect(throws: IOError.self) { try file.tensor("bb") }
        #expect(missing?.kind == .missingKey)
    }
}
