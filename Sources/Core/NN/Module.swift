/// Base class of every layer and model. Names come from the module tree, exactly like
/// PyTorch's `named_modules()` / `named_parameters()`: each module lists its children and
/// parameters under their checkpoint keys, and paths are joined with dots
/// (`encoder.layer.3.attention.self.query.weight`).
///
/// ```swift
/// final class MLP: Module {
///     let lin0: Linear, lin1: Linear
///     override func namedChildren() -> [(String, Module)] { [("lin0", lin0), ("lin1", lin1)] }
/// }
/// ```
open class Module {
    /// Training mode (dropout active). Set for a whole tree with `train()` / `eval()`.
    public private(set) var isTraining: Bool = true

    public init() {}

    /// Direct children under their checkpoint keys, in a fixed order. Override in subclasses.
    open func namedChildren() -> [(String, Module)] { [] }

    /// Parameters owned directly by this module (not by children). Override in subclasses.
    open func namedLocalParameters() -> [(String, Tensor)] { [] }

    /// Every module in the tree (self first, with key `""`), depth-first in declaration order.
    public final func namedModules(prefix: String = "") -> [(String, Module)] {
        var out: [(String, Module)] = [(prefix, self)]
        for (name, child) in namedChildren() {
            out += child.namedModules(prefix: prefix.isEmpty ? name : prefix + "." + name)
        }
        return out
    }

    /// Every parameter in the tree with its full dotted key.
    public final func namedParameters(prefix: String = "") -> [(String, Tensor)] {
        var out: [(String, Tensor)] = []
        var seen = Set<ObjectIdentifier>()  // tied weights appear once, under their first name
        for (path, module) in namedModules(prefix: prefix) {
            for (name, p) in module.namedLocalParameters() where !seen.contains(ObjectIdentifier(p)) {
                seen.insert(ObjectIdentifier(p))
                out.append((path.isEmpty ? name : path + "." + name, p))
            }
        }
        return out
    }

    /// All parameters.
    public final func parameters() -> [Tensor] { namedParameters().map(\.1) }

    /// Parameters that receive gradients (what an optimizer should update).
    public final func trainableParameters() -> [(String, Tensor)] {
        namedParameters().filter { $0.1.requiresGrad }
    }

    /// Number of trainable and total scalar parameters.
    public final func parameterCounts() -> (trainable: Int, total: Int) {
        let all = namedParameters()
        return (all.filter { $0.1.requiresGrad }.reduce(0) { $0 + $1.1.count }, all.reduce(0) { $0 + $1.1.count })
    }

    /// The module at a dotted path (`""` is self), or nil.
    public final func module(at path: String) -> Module? {
        if path.isEmpty { return self }
        var current: Module = self
        for part in path.split(separator: ".", omittingEmptySubsequences: false) {
            guard let next = current.namedChildren().first(where: { $0.0 == part })?.1 else { return nil }
            current = next
        }
        return current
    }

    /// Stops gradients to every parameter in the tree.
    public final func freeze() { for p in parameters() { p.requiresGrad = false } }

    /// Lets gradients reach every parameter in the tree.
    public final func unfreeze() { for p in parameters() { p.requiresGrad = true } }

    /// Switches the whole tree to training (`true`) or evaluation mode.
    public final func train(_ on: Bool = true) {
        for (_, m) in namedModules() { m.isTraining = on }
    }

    /// Evaluation mode for the whole tree (dropout off).
    public final func eval() { train(false) }

    /// Clears every parameter's gradient.
    public final func zeroGrad() { for p in parameters() { p.zeroGrad() } }
}

/// An ordered list of modules keyed `"0"`, `"1"`, … (PyTorch's `nn.ModuleList`).
public final class ModuleList<Element: Module>: Module {
    public private(set) var items: [Element]

    public init(_ items: [Element]) {
        self.items = items
        super.init()
    }

    public var count: Int { items.count }
    public subscript(i: Int) -> Element { items[i] }

    override public func namedChildren() -> [(String, Module)] {
        items.enumerated().map { (String($0.offset), $0.element as Module) }
    }
}
