import Core
import Foundation

// Targets for the formats Core reads: safetensors, JSON configs, PEFT adapter configs and
// folders, ONNX protobuf and CTranslate2 model.bin.

let coreFuzzTargets: [FuzzTarget] = [
    FuzzTarget(name: "safetensors", summary: "a .safetensors file: header parse, then every tensor decoded") { data in
        // In memory first (the header checks), then through the memory-mapped file and decoders.
        data.withUnsafeBytes { raw in
            Fuzz.attempt(naming: "input.safetensors") { _ = try SafeTensors.parseHeader(of: raw, name: "input.safetensors") }
        }
        // The memory-mapped file and the decoders behind it: the header is re-parsed there, so
        // only inputs that pass the in-memory parse (or 1 in 16 others) pay for a file.
        let headerOK = data.withUnsafeBytes { (try? SafeTensors.parseHeader(of: $0, name: "input.safetensors")) != nil }
        guard headerOK || Fuzz.alsoThroughFile(data) else { return }
        let url = Fuzz.file("model.safetensors", data)
        Fuzz.attempt(naming: url.path) {
            let file = try SafeTensors.open(url)
            for key in file.header.order {
                let info = try file.info(key)
                if info.dtype.isDecodable { _ = try file.tensor(key) }
                if info.dtype.isInteger { _ = try? file.int64Values(key) }
                _ = try file.rawBytes(key)
            }
        }
    },
    FuzzTarget(name: "json-config", summary: "a config.json through JSONParser and every JSONConfig accessor", maxLength: 8192) { data in
        data.withUnsafeBytes { raw in
            Fuzz.attempt(naming: "config.json") {
                let config = try JSONConfig(parsing: raw, file: "config.json")
                walk(config, depth: 0)
            }
        }
    },
    FuzzTarget(name: "adapter-config", summary: "a PEFT adapter_config.json through AdapterConfig.decode") { data in
        Fuzz.attempt(naming: "adapter_config.json") {
            let (config, _) = try AdapterConfig.decode(data, file: "adapter_config.json")
            _ = try config.encodeJSON()
        }
    },
    FuzzTarget(name: "peft-folder", summary: "a PEFT adapter folder (adapter_config.json #~#~# adapter_model.safetensors) loaded into a two-layer model") { data in
        let parts = Fuzz.parts(data, 2)
        Fuzz.file("adapter_config.json", parts[0], in: "adapter")
        if parts[1].isEmpty {
            Fuzz.remove("adapter_model.safetensors", in: "adapter")
        } else {
            Fuzz.file("adapter_model.safetensors", parts[1], in: "adapter")
        }
        let folder = Fuzz.scratch.appendingPathComponent("adapter")
        guard let net = try? FuzzNet() else { return }
        let peft = PeftModel(net)
        do {
            try peft.load(from: folder)
            // A loaded adapter must also run: wrong shapes that slipped through would trap here.
            _ = net(Tensor([Float](repeating: 0.5, count: 8), shape: [2, 4]))
        } catch {
            Fuzz.expectClear(error, naming: "adapter")
        }
    },
    FuzzTarget(name: "onnx", summary: "an ONNX model (protobuf) through ONNXModel") { data in
        Fuzz.attempt(naming: "input.onnx") {
            let model = try ONNXModel(data: data, source: "input.onnx")
            for name in model.initializerOrder { _ = try model.initializer(name).tensor }
        }
    },
    FuzzTarget(name: "ctranslate2", summary: "a CTranslate2 model.bin through CTranslate2Model") { data in
        Fuzz.attempt(naming: "model.bin") {
            let model = try CTranslate2Model(data: data, source: "model.bin")
            for name in model.order { _ = try? model.tensor(name) }
            for alias in model.aliases.keys { _ = try model.variable(alias) }
        }
    },
]

/// Calls every typed accessor on every key (nested objects too, to a bounded depth): each must
/// either return or throw a clear error naming config.json.
private func walk(_ config: JSONConfig, depth: Int) {
    guard depth < 8 else { return }
    for key in config.object.keys {
        func probe(_ body: () throws -> Void) { Fuzz.attempt(naming: "config.json", body) }
        probe { _ = try config.optionalInt(key) }
        probe { _ = try config.optionalDouble(key) }
        probe { _ = try config.optionalFloat(key) }
        probe { _ = try config.optionalString(key) }
        probe { _ = try config.optionalBool(key) }
        probe { _ = try config.optionalIntArray(key) }
        probe { _ = try config.optionalFloatArray(key) }
        probe { _ = try config.optionalStringArray(key) }
        probe { _ = try config.optionalStringMap(key) }
        probe { _ = try config.optionalIntMap(key) }
        probe { if let n = try config.optionalNested(key) { walk(n, depth: depth + 1) } }
        probe { for n in try config.nestedArray(key) { walk(n, depth: depth + 1) } }
    }
}

/// Two linear layers named like PEFT's test MLP, so the seeds' `target_modules` find them.
final class FuzzNet: Module {
    let lin0: Linear
    let lin1: Linear

    init(seed: UInt64 = 0) throws {
        let root = WeightStore.random(seed: seed).root
        lin0 = try Linear(inFeatures: 4, outFeatures: 6, bias: true, at: root.pp("lin0"))
        lin1 = try Linear(inFeatures: 6, outFeatures: 3, bias: true, at: root.pp("lin1"))
        super.init()
    }

    override func namedChildren() -> [(String, Module)] { [("lin0", lin0), ("lin1", lin1)] }

    func callAsFunction(_ x: Tensor) -> Tensor { lin1(lin0(x).relu()) }
}
