import Foundation
import TestSupport
@testable import Vision

/// Small helpers shared by the Vision tests.
enum VisionFixtures {
    static var pngFolder: URL { TestPaths.fixture("png") }
    /// Committed test inputs of this suite (JPEG/PNM files made with Debian's libjpeg-turbo-progs).
    static var resources: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Resources")
    }

    /// Folder holding scikit-image's sample photos (`astronaut.png`, `coffee.png`), if installed:
    /// `PEFTKIT_SKIMAGE_DATA`, else `models/scikit-image/skimage/data` (from
    /// `pip install --no-deps --target models/scikit-image scikit-image==0.26.0`).
    static var skimageData: URL {
        if let p = ProcessInfo.processInfo.environment["PEFTKIT_SKIMAGE_DATA"] { return URL(fileURLWithPath: p) }
        return TestPaths.models.appendingPathComponent("scikit-image/skimage/data")
    }

    /// The raw bytes and shape of one tensor of a safetensors file.
    static func safetensorsRaw(_ url: URL, key: String) throws -> (shape: [Int], bytes: Data) {
        let data = try Data(contentsOf: url)
        let n = data.prefix(8).withUnsafeBytes { Int($0.loadUnaligned(as: UInt64.self).littleEndian) }
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + n))) as! [String: Any]
        let info = header[key] as! [String: Any]
        let offs = info["data_offsets"] as! [Int]
        return (info["shape"] as! [Int], data.subdata(in: (8 + n + offs[0])..<(8 + n + offs[1])))
    }

    /// Reads every U8 tensor of a safetensors file (8-byte little-endian header length, JSON
    /// header, raw data) into name → (shape, bytes). Only what these fixtures need.
    static func safetensorsU8(_ url: URL) throws -> [String: (shape: [Int], bytes: [UInt8])] {
        let data = try Data(contentsOf: url)
        let n = data.prefix(8).withUnsafeBytes { Int($0.loadUnaligned(as: UInt64.self).littleEndian) }
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + n))) as! [String: Any]
        var out: [String: (shape: [Int], bytes: [UInt8])] = [:]
        for (key, value) in header where key != "__metadata__" {
            let info = value as! [String: Any]
            guard info["dtype"] as? String == "U8" else { continue }
            let offs = info["data_offsets"] as! [Int]
            out[key] = (info["shape"] as! [Int], [UInt8](data.subdata(in: (8 + n + offs[0])..<(8 + n + offs[1]))))
        }
        return out
    }
}

extension Image {
    /// The image expanded to RGBA (gray replicated, A = 255 where there is no alpha), the layout
    /// the PNG fixtures record.
    var rgbaBytes: [UInt8] {
        var out = [UInt8](repeating: 255, count: width * height * 4)
        for i in 0..<(width * height) {
            switch channels {
            case 1: out[4 * i] = pixels[i]; out[4 * i + 1] = pixels[i]; out[4 * i + 2] = pixels[i]
            case 3: for c in 0..<3 { out[4 * i + c] = pixels[3 * i + c] }
            default: for c in 0..<4 { out[4 * i + c] = pixels[4 * i + c] }
            }
        }
        return out
    }
}

/// Runs `body`, which should throw an `ImageError`, and returns that error (nil if it did not throw one).
func expectImageError(_ body: () throws -> Any) -> ImageError? {
    do {
        _ = try body()
        return nil
    } catch let e as ImageError {
        return e
    } catch {
        return nil
    }
}
