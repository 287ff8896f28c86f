/// A module (or adapter) that draws random numbers while training, typically dropout masks.
/// To resume a run bit-exactly, its generator states are saved in the checkpoint and put
/// back; conform new random layers to this protocol and `ModelRandomState` finds them.
public protocol RandomStateCarrying: AnyObject {
    /// The generators, in a fixed order.
    var randomStreams: [SplitMix64] { get set }
}

extension Dropout: RandomStateCarrying {
    public var randomStreams: [SplitMix64] {
        get { [rngState] }
        set { if let s = newValue.first { rngState = s } }
    }
}

extension LoRA: RandomStateCarrying {
    public var randomStreams: [SplitMix64] {
        get { [dropoutRNG] }
        set { if let s = newValue.first { dropoutRNG = s } }
    }
}

/// Captures and restores every random generator of a model. Dropout layers are usually not
/// in the module tree (`namedChildren` lists checkpoint keys, and a dropout has none), so the
/// generators are found by reflection: a walk over the stored properties of the model's
/// objects (modules, adapters, arrays and optionals of them), collecting every object that
/// conforms to `RandomStateCarrying`. Tensors and arrays of plain values are not entered.
/// States are keyed by the property path (`bert.encoder.layers.0.attention.dropout#0`), so a
/// checkpoint of one model cannot silently fill another's generators.
public enum ModelRandomState {
    /// Every generator of `model` with its key, in declaration order (each object once).
    public static func carriers(of model: Module) -> [(key: String, carrier: any RandomStateCarrying)] {
        var out: [(String, any RandomStateCarrying)] = []
        var seen = Set<ObjectIdentifier>()
        walk(model, path: "", seen: &seen) { path, c in out.append((path, c)) }
        return out
    }

    /// Paths of `SplitMix64` values held by objects that do not conform to
    /// `RandomStateCarrying`: generators a resume would not restore (conform their owner).
    public static func unrestorableGenerators(of model: Module) -> [String] {
        var out: [String] = []
        var seen = Set<ObjectIdentifier>()
        walk(model, path: "", seen: &seen, generator: { out.append($0) }) { _, _ in }
        return out
    }

    private static func walk(_ value: Any, path: String, seen: inout Set<ObjectIdentifier>, generator: ((String) -> Void)? = nil,
                             found: (String, any RandomStateCarrying) -> Void) {
        if value is Tensor { return }
        var ownerCarries = false
        if let object = value as AnyObject?, type(of: value) is AnyClass {
            guard seen.insert(ObjectIdentifier(object)).inserted else { return }
            if let c = value as? any RandomStateCarrying { found(path, c); ownerCarries = true }
        }
        var mirror: Mirror? = Mirror(reflecting: value)
        if let m = mirror, m.displayStyle == .collection || m.displayStyle == .set {
            // Only collections of objects, tuples, optionals, structs or enums can hold
            // generators' owners (an imported graph keeps its layers in an array of step
            // structs whose enum payloads are the layers); arrays of numbers are skipped.
            guard let first = m.children.first?.value else { return }
            let fm = Mirror(reflecting: first)
            let style = fm.displayStyle
            guard type(of: first) is AnyClass || style == .tuple || style == .optional || style == .struct || style == .enum else { return }
        }
        if let m = mirror, m.displayStyle == .dictionary {
            // Entered in key order with the key as the path: a dictionary's order differs
            // between processes, and a resumed process must find the same paths.
            let entries = m.children.compactMap { entry -> (String, Any)? in
                let pair = Array(Mirror(reflecting: entry.value).children)
                return pair.count == 2 ? ("\(pair[0].value)", pair[1].value) : nil
            }.sorted { $0.0 < $1.0 }
            for (key, value) in entries {
                let style = Mirror(reflecting: value).displayStyle
                guard type(of: value) is AnyClass || style == .tuple || style == .optional || style == .struct || style == .enum
                    || style == .collection || style == .dictionary else { continue }
                walk(value, path: path.isEmpty ? key : path + "." + key, seen: &seen, generator: generator, found: found)
            }
            return
        }
        var index = 0
        while let m = mirror {
            for child in m.children {
                let label = child.label ?? "\(index)"
                index += 1
                let childPath = path.isEmpty ? label : path + "." + label
                if child.value is SplitMix64 {
                    if !ownerCarries { generator?(childPath) }
                    continue
                }
                walk(child.value, path: childPath, seen: &seen, generator: generator, found: found)
            }
            mirror = m.superclassMirror
        }
    }

    /// The generator states as `key#i → state`.
    public static func capture(_ model: Module) -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        for (key, c) in carriers(of: model) {
            for (i, s) in c.randomStreams.enumerated() { out["\(key)#\(i)"] = s.state }
        }
        return out
    }

    /// Puts back states from `capture`; every generator of the model must be present.
    public static func restore(_ states: [String: UInt64], into model: Module) throws {
        var missing: [String] = []
        for (key, c) in carriers(of: model) {
            var streams = c.randomStreams
            for i in streams.indices {
                if let s = states["\(key)#\(i)"] { streams[i].state = s } else { missing.append("\(key)#\(i)") }
            }
            c.randomStreams = streams
        }
        if !missing.isEmpty {
            throw TrainingCheckpointError.mismatch(file: "checkpoint", differences: ["it has no random state for \(missing.prefix(3).joined(separator: ", "))\(missing.count > 3 ? " (and \(missing.count - 3) more)" : "")"])
        }
    }

    /// Gives rank `rank` its own dropout streams (rank 0 keeps the single-process ones), so
    /// data-parallel replicas do not draw identical masks for different examples.
    public static func forkForRank(_ model: Module, rank: Int) {
        guard rank > 0 else { return }
        for (_, c) in carriers(of: model) {
            c.randomStreams = c.randomStreams.map { $0.fork(0x5241_4E4B &+ UInt64(rank)) }
        }
    }

    /// The states in a fixed key order, for sending between ranks.
    static func flatten(_ states: [String: UInt64], keys: [String]) -> [UInt64] { keys.map { states[$0] ?? 0 } }
}
