import Core
import Foundation

/// Test-fixture access over Core's safetensors reader (which is itself verified byte for byte
/// against the independent `safetensors/expected.json` and the malformed-file fixtures).
public enum FixtureTensors {
    /// The header: tensor name → (dtype name, shape, data offsets). `__metadata__` is not a tensor.
    public static func header(_ url: URL) throws -> [String: (dtype: String, shape: [Int], offsets: (Int, Int))] {
        let h = try SafeTensors.header(of: url)
        return h.tensors.mapValues { ($0.dtype.name, $0.shape, ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound)) }
    }

    /// Every tensor in the file as Float32 `Tensor`s.
    public static func load(_ url: URL) throws -> [String: Tensor] {
        try SafeTensors.read(url)
    }
}
