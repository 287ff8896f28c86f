import Foundation

/// The file layer under `PeftModel.save` / `load`: a name → Float tensor map in the
/// safetensors format, through Core's reader and writer (`SafeTensors`), which validate every
/// header field against the file size and throw `IOError` naming the file and the place.
enum AdapterTensorFile {
    /// Every tensor of `url` as Float32 (F16/BF16/F64 adapters are widened).
    static func read(_ url: URL) throws -> [String: Tensor] {
        try SafeTensors.read(url)
    }

    /// Writes F32 tensors atomically (temporary file, then rename), with peft's metadata.
    static func write(_ tensors: [(String, Tensor)], metadata: [String: String] = ["format": "pt"], to url: URL) throws {
        var map: [String: Tensor] = [:]
        for (k, t) in tensors {
            precondition(map[k] == nil, "AdapterTensorFile: key '\(k)' written twice")
            map[k] = t
        }
        try SafeTensors.write(map, metadata: metadata, dtype: .f32, to: url)
    }
}

/// Writes `data` to `url` atomically (Core's `AtomicFile`).
func atomicWrite(_ data: Data, to url: URL) throws {
    try AtomicFile.write(data, to: url)
}
