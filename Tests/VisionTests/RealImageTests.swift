import Foundation
import Testing
import TestSupport
@testable import Vision

/// End to end on real photos: `fixtures/dinov2_onnx/reference.safetensors` stores the pixels
/// Pillow produced for scikit-image's astronaut.png (512×512 RGB) and coffee.png (600×400 RGB)
/// with `Image.open(p).convert("RGB").resize((224, 224), BICUBIC)`, and the float32 ImageNet-
/// normalised model input. Runs only when the two photos are installed (see
/// `VisionFixtures.skimageData`); their sha256 values are in the fixture's metadata.
@Suite struct RealImageTests {
    static let photos = ["astronaut.png", "coffee.png"]
    static var available: Bool {
        photos.allSatisfy { FileManager.default.fileExists(atPath: VisionFixtures.skimageData.appendingPathComponent($0).path) }
    }

    @Test(.enabled(if: RealImageTests.available, "scikit-image sample photos not installed"))
    func decodeResizeNormaliseMatchPillowOnRealPhotos() throws {
        let ref = TestPaths.fixture("dinov2_onnx/reference.safetensors")
        let pixels = try VisionFixtures.safetensorsRaw(ref, key: "input.pixels_u8")
        let normalized = try VisionFixtures.safetensorsRaw(ref, key: "input.normalized")
        #expect(pixels.shape == [2, 224, 224, 3] && normalized.shape == [2, 3, 224, 224])
        let floats: [Float] = normalized.bytes.withUnsafeBytes { raw in
            (0..<(raw.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        }
        let plane = 3 * 224 * 224
        for (b, name) in Self.photos.enumerated() {
            let img = try ImageDecoder.decode(contentsOf: VisionFixtures.skimageData.appendingPathComponent(name)).rgb()
            let resized = img.resized(width: 224, height: 224, interpolation: .bicubic)
            let expected = [UInt8](pixels.bytes[(b * plane)..<((b + 1) * plane)])
            let worst = zip(resized.pixels, expected).map { abs(Int($0) - Int($1)) }.max() ?? -1
            #expect(resized.pixels == expected, "\(name): resized pixels differ from Pillow by up to \(worst)")
            let t = resized.toTensor(.imagenet)
            #expect(t.storage == Array(floats[(b * plane)..<((b + 1) * plane)]), "\(name): normalised input differs")
        }
    }
}
