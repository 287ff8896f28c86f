/// Constructors. Every random one takes a generator, so results are reproducible.
extension Tensor {
    /// All zeros.
    public static func zeros(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
        Tensor([Float](repeating: 0, count: shape.reduce(1, *)), shape: shape, requiresGrad: requiresGrad)
    }

    /// All ones.
    public static func ones(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
        full(shape, 1, requiresGrad: requiresGrad)
    }

    /// Every element equal to `value`.
    public static func full(_ shape: [Int], _ value: Float, requiresGrad: Bool = false) -> Tensor {
        Tensor([Float](repeating: value, count: shape.reduce(1, *)), shape: shape, requiresGrad: requiresGrad)
    }

    /// `start, start+step, …` below `end` (like `torch.arange`).
    public static func arange(_ start: Float = 0, _ end: Float, step: Float = 1) -> Tensor {
        precondition(step != 0, "arange: step must be non-zero")
        let n = Swift.max(0, Int(((end - start) / step).rounded(.up)))
        return Tensor((0..<n).map { start + Float($0) * step }, shape: [n])
    }

    /// Uniform in [low, high).
    public static func uniform<G: RandomNumberGenerator>(
        _ shape: [Int], low: Float = 0, high: Float = 1, using rng: inout G, requiresGrad: Bool = false
    ) -> Tensor {
        let n = shape.reduce(1, *)
        var v = [Float](repeating: 0, count: n)
        for i in 0..<n { v[i] = low + (high - low) * rng.nextUnitFloat() }
        return Tensor(v, shape: shape, requiresGrad: requiresGrad)
    }

    /// Normal with mean `mean` and standard deviation `std`.
    public static func normal<G: RandomNumberGenerator>(
        _ shape: [Int], mean: Float = 0, std: Float = 1, using rng: inout G, requiresGrad: Bool = false
    ) -> Tensor {
        let n = shape.reduce(1, *)
        var v = [Float](repeating: 0, count: n)
        for i in 0..<n { v[i] = mean + std * rng.nextNormal() }
        return Tensor(v, shape: shape, requiresGrad: requiresGrad)
    }

    /// Kaiming-uniform as `torch.nn.init.kaiming_uniform_(w, a:)` with fan-in = `shape[1...]` product.
    /// With the default `a = √5` this is PyTorch's `nn.Linear` init: bound = 1/√fan_in.
    public static func kaimingUniform<G: RandomNumberGenerator>(
        _ shape: [Int], a: Float = Float(5).squareRoot(), using rng: inout G, requiresGrad: Bool = false
    ) -> Tensor {
        let fanIn = Swift.max(1, shape.dropFirst().reduce(1, *))
        let gain = (2 / (1 + a * a)).squareRoot()
        let bound = gain * (3 / Float(fanIn)).squareRoot()
        return uniform(shape, low: -bound, high: bound, using: &rng, requiresGrad: requiresGrad)
    }

    /// A tensor of the same shape filled with `value`.
    public func filled(_ value: Float) -> Tensor { Tensor.full(shape, value) }
}
