/// Turns a flat list of `(dotted path, module)` pairs into nested containers, so a layer
/// whose checkpoint keys are `attention.self.query`, `attention.output.dense`, … can list its
/// leaves once and still answer `namedChildren()` level by level, exactly as PyTorch's module
/// tree does (`attention` → `self` → `query`).
///
/// Why: Hugging Face families spread one logical block over several Python modules (BERT
/// puts Q/K/V under `attention.self` but the output projection under `attention.output`).
/// Our layers keep their logical structure (one `MultiHeadAttention`, one `FeedForward`) and
/// publish the checkpoint's structure through this tree.
///
/// ```swift
/// let tree = ModuleTree([("attention.self.query", q), ("attention.output.dense", o)])
/// tree.namedChildren()   // [("attention", <container>)]
/// ```
public final class ModuleTree: Module {
    /// Direct entries in first-appearance order: either a leaf module or a nested container.
    private var entries: [(String, Module)] = []

    /// Builds the nested containers. Paths must be non-empty, use `.` as separator, and no path
    /// may be both a leaf and a prefix of another path (that would need a module with children
    /// it does not know about).
    public init(_ leaves: [(String, Module)]) {
        super.init()
        for (path, module) in leaves { insert(path.split(separator: ".").map(String.init), module, fullPath: path) }
    }

    private func insert(_ parts: [String], _ module: Module, fullPath: String) {
        precondition(!parts.isEmpty, "ModuleTree: empty path for a module")
        let head = parts[0]
        if parts.count == 1 {
            precondition(!entries.contains { $0.0 == head }, "ModuleTree: two modules registered at '\(fullPath)'")
            entries.append((head, module))
            return
        }
        if let existing = entries.first(where: { $0.0 == head })?.1 {
            guard let container = existing as? ModuleTree else {
                preconditionFailure("ModuleTree: '\(fullPath)' goes through '\(head)', which is already a leaf module")
            }
            container.insert(Array(parts.dropFirst()), module, fullPath: fullPath)
        } else {
            let container = ModuleTree([])
            container.insert(Array(parts.dropFirst()), module, fullPath: fullPath)
            entries.append((head, container))
        }
    }

    override public func namedChildren() -> [(String, Module)] { entries }
}
