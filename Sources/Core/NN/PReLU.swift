/// Parametric ReLU (He et al. 2015): `y = x` where `x > 0`, else `a_c · x`, with one learned
/// slope per channel (axis 1) or one shared slope. This is ONNX `PRelu` with a `[C, 1, 1]` slope
/// and `torch.nn.PReLU(num_parameters: C)`; face networks such as MobileFaceNet/SFace use it
/// after every convolution.
extension Tensor {
    /// `x` of rank ≥ 2 with channels on axis 1 (or any rank with a single slope); `slope` has
    /// `shape[1]` values (any shape holding that many, e.g. `[C]` or `[C, 1, 1]`) or one value.
    public func prelu(slope: Tensor) -> Tensor {
        let x = self
        let channels = slope.count
        precondition(channels == 1 || (x.rank >= 2 && x.shape[1] == channels),
                     "prelu: slope has \(channels) values, input \(x.shape) needs 1 or shape[1]")
        // Values per channel block: the product of the axes after the channel axis.
        let inner = channels == 1 ? x.count : x.shape[2...].reduce(1, *)
        let blocks = channels == 1 ? 1 : x.count / inner   // batch × channels
        var out = [Float](repeating: 0, count: x.count)
        x.storage.withUnsafeBufferPointer { xv in
            out.withUnsafeMutableBufferPointer { o in
                for blk in 0..<blocks {
                    let a = slope.storage[channels == 1 ? 0 : blk % channels]
                    let base = blk * inner
                    for i in base..<(base + inner) {
                        let v = xv[i]
                        o[i] = v > 0 ? v : a * v
                    }
                }
            }
        }
        return Tensor(out, shape: x.shape).recording("prelu", [x, slope]) { g in
            if x.requiresGrad {
                var gx = [Float](repeating: 0, count: x.count)
                for blk in 0..<blocks {
                    let a = slope.storage[channels == 1 ? 0 : blk % channels]
                    let base = blk * inner
                    for i in base..<(base + inner) { gx[i] = x.storage[i] > 0 ? g[i] : a * g[i] }
                }
                x.accumulateGrad(gx)
            }
            if slope.requiresGrad {
                // ∂y/∂a_c = x on the non-positive side, summed over batch and positions.
                var ga = [Float](repeating: 0, count: channels)
                for blk in 0..<blocks {
                    let c = channels == 1 ? 0 : blk % channels
                    let base = blk * inner
                    var acc: Float = 0
                    for i in base..<(base + inner) where x.storage[i] <= 0 { acc += g[i] * x.storage[i] }
                    ga[c] += acc
                }
                slope.accumulateGrad(ga)
            }
        }
    }
}

/// `nn.PReLU(num_parameters: channels)`: one slope per channel, PyTorch init 0.25. The
/// checkpoint key is `weight` (shape `[channels]`).
public final class PReLU: Module {
    public let weight: Tensor

    public init(weight: Tensor) {
        self.weight = weight
        super.init()
    }

    /// Loads `path.weight` or initialises every slope to 0.25 (PyTorch's default).
    public convenience init(channels: Int, at path: ParamPath) throws {
        let w = try path.get([channels], "weight", initializer: .ones)
        // A freshly initialised slope (trainable) starts at PyTorch's 0.25; a loaded one is kept.
        if w.requiresGrad { for i in 0..<channels { w.storage[i] = 0.25 } }
        self.init(weight: w)
    }

    override public func namedLocalParameters() -> [(String, Tensor)] { [("weight", weight)] }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.prelu(slope: weight) }
}
