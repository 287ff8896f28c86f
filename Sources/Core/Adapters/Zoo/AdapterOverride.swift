import Foundation

/// An adapter chosen from outside an app's own method list — by `compare`, which runs any
/// adapter-library method (LoRA, DoRA, the zoo) in every training app. Apps keep it in their
/// option structs; when set it replaces the app's adapter of the method in use (the app's
/// classifier head and data pipeline stay). Codable through the PEFT `adapter_config.json`
/// form plus the seed (PEFT files of peft's own types carry no seed), so option structs that
/// are saved in manifests stay Codable.
///
/// ```swift
/// var o = VisionAdaptOptions(method: .lora)
/// o.adapterOverride = AdapterOverride(try .zoo("lokr", r: 4, targets: targets))
/// ```
public struct AdapterOverride: Codable, Sendable, Equatable {
    public var config: AdapterConfig

    public init(_ config: AdapterConfig) { self.config = config }

    enum CodingKeys: String, CodingKey { case config, seed }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(String(decoding: try config.encodeJSON(), as: UTF8.self), forKey: .config)
        try c.encode(config.seed, forKey: .seed)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let text = try c.decode(String.self, forKey: .config)
        config = try AdapterConfig.decode(Data(text.utf8), file: "adapter override").config
        config.seed = try c.decode(UInt64.self, forKey: .seed)
    }

    /// Whether every attached layer of adapter `name` can be folded into its weights.
    public static func isMergeable(_ peft: PeftModel, name: String = "default") -> Bool {
        peft.adapters(named: name).allSatisfy { $0.adapter.isMergeable }
    }
}
