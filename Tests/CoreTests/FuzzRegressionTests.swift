import Foundation
import Testing
@testable import Core

/// Inputs that crashed or broke the one-line error rule under `scripts/fuzz.sh`, minimised by
/// hand to the bytes that matter, so each stays fixed without re-running the fuzzer.
@Suite("Fuzz regressions (Core)")
struct CoreFuzzRegressionTests {
    /// A CTranslate2 file with one variable of shape [2^31, 2^31] float32: the element count
    /// (2^62) fits in Int but × 4 bytes overflowed, trapping the reader (fuzz target
    /// `ctranslate2`). It must now be a clear error naming the file.
    @Test func ctranslate2ByteCountOverflowIsAnError() {
        var d: [UInt8] = []
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { d += $0 } }
        func str(_ s: String) {
            withUnsafeBytes(of: UInt16(s.utf8.count + 1).littleEndian) { d += $0 }
            d += Array(s.utf8) + [0]
        }
        u32(6); str("S"); u32(1); u32(1)
        str("w"); d.append(2); u32(0x8000_0000); u32(0x8000_0000); d.append(0); u32(16)
        d += [UInt8](repeating: 0, count: 16)
        u32(0)
        #expect(throws: CTranslate2Error.self) { try CTranslate2Model(data: Data(d), source: "huge.bin") }
        do {
            _ = try CTranslate2Model(data: Data(d), source: "huge.bin")
        } catch {
            #expect("\(error)".contains("huge.bin") && "\(error)".contains("more than 2^63"), "\(error)")
        }
    }

    /// A JSON key written with an escaped newline (`"a\nb"`) was quoted raw into the parse error,
    /// splitting the message over two lines (fuzz target `ast-config`).
    @Test func jsonErrorQuotingAKeyWithANewlineStaysOneLine() throws {
        let text = #"{"ar\\\\\nnum": 1, "x\ny" 2}"#
        do {
            _ = try JSONConfig(parsing: text, file: "config.json")
            Issue.record("should fail")
        } catch {
            let message = "\(error)"
            #expect(!message.contains("\n"), "\(message)")
            #expect(message.contains("config.json") && message.contains(#"x\ny"#), "\(message)")
        }
    }

    /// An ONNX initializer whose data_type varint is ≥ 2^63 trapped converting it to Int (fuzz
    /// target `onnx`, Tests/Fuzz/crashes/onnx/crash-eb47…). The minimal form: one initializer
    /// with data_type 2^64-1; and the fuzzer's own input, which must also fail cleanly.
    @Test func onnxDataTypeBeyondIntIsAnError() throws {
        // TensorProto {dims: 1, data_type: 0xFFFF_FFFF_FFFF_FFFF, name: "w"} in GraphProto.initializer in ModelProto.graph.
        let tensor: [UInt8] = [0x08, 0x01, 0x10] + [UInt8](repeating: 0xFF, count: 9) + [0x01, 0x42, 0x01, 0x77]
        let graph: [UInt8] = [0x2A, UInt8(tensor.count)] + tensor
        let model: [UInt8] = [0x3A, UInt8(graph.count)] + graph
        #expect(throws: ONNXError.self) { try ONNXModel(data: Data(model), source: "type.onnx") }
        let found = try #require(Data(base64Encoded:
            "CAgSDHBlZnRraXQtZnV6ejppCjEKAXgKAXcSAXkaAm1tIgZNYXRNdWwqCwoEYXhpcxgBoAECKg0KBHBlcm1CAgEAoAEHKhsREggC+NSBUdb37Su+vr4GTWF0TQBAQAAAgEAqDQgCEApCAeIEAEo8AMBaAwoBeFoDCgF5"))
        do {
            _ = try ONNXModel(data: found, source: "found.onnx")
        } catch {
            #expect("\(error)".contains("found.onnx"), "\(error)")
        }
    }

    /// An initializer whose element count fits in Int but whose byte count (count × 8 for a
    /// 64-bit type) does not trapped in the raw-data size check (fuzz target `onnx`, idle soak
    /// of 5.7 M executions, Tests/Fuzz/crashes/onnx/crash-3a87…). The fuzzer's input must fail
    /// with one line naming the file.
    @Test func onnxRawByteCountOverflowIsAnError() throws {
        let found = try #require(Data(base64Encoded:
            "CAgSDHBlZnRmaWstdHV6ejppCjEKAXgKAXcSAXkaAm1tIgZPYXRNdWwqCwoEYXhpcxgBoAECKg0KBHBlcm1CAgEAoAEHKhtIAggCEAFCAXcKEBgBoAECKg0KBHBlcm1CAgEAoAEHKhtQUFBQUFBQUFBQUFBQUFADCgF5"))
        do {
            _ = try ONNXModel(data: found, source: "bytes.onnx")
        } catch {
            #expect("\(error)".contains("bytes.onnx") && !"\(error)".contains("\n"), "\(error)")
        }
    }

    /// Names from ONNX files reach error messages too.
    @Test func onnxErrorWithANewlineInAName() {
        let message = "\(ONNXError.missingInitializer(file: "m.onnx", name: "a\nb\u{2028}c", available: 3))"
        #expect(message == #"m.onnx: no initializer 'a\nb\u{2028}c' (the model has 3); is this the expected export?"#)
    }

    /// `oneLineMessage` escapes exactly the line-breaking and control characters.
    @Test func oneLineMessageEscapesControlCharacters() {
        #expect(oneLineMessage("plain 東京 é") == "plain 東京 é")
        #expect(oneLineMessage("a\nb\rc\td") == #"a\nb\rc\td"#)
        #expect(oneLineMessage("x\u{0}y\u{7F}z\u{85}w\u{2029}") == #"x\u{0}y\u{7F}z\u{85}w\u{2029}"#)
    }
}
