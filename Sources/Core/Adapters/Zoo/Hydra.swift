/// Hydra (Kim et al., arXiv 2309.06922; code `extremebird/Hydra`, `vtab1k/hydra.py`): a parallel
/// low-rank branch on the input and a sequential one on the frozen layer's output,
///
///     h = x·W0ᵀ + b0
///     y = h + s·((x·Apᵀ + ap)·Bpᵀ + cp) + s·((h·Asᵀ + as)·Bsᵀ + cs)
///
/// `Ap [r, in]`, `Bp [out, r]`, `As [r, out]`, `Bs [out, r]`, biases `ap, as [r]`, `cp, cs [out]`.
/// Both branches are linear, so the layer folds back:
/// `W = W0 + s(Bp·Ap + Bs·As·W0)`, `b = b0 + s(Bs·As·b0 + Bs·as + cs + Bp·ap + cp)` (the released
/// `set_hydraWeight` folds with another layer's weight — a slip not copied here).
///
/// On a Linear without bias the four branch biases are left out (a merged bias would have
/// nowhere to go). Init as the code: down projections Xavier-uniform, up projections and
/// biases zero → unchanged at init. Keys: `hydra_par_down.weight/.bias`, `hydra_par_up…`,
/// `hydra_seq_down…`, `hydra_seq_up…`.
/// Params: `r(in + out) + 2·r·out` (+ `2(r + out)` biases).
public final class Hydra: ZooAdapter {
    public let parDown: Tensor, parUp: Tensor, seqDown: Tensor, seqUp: Tensor
    /// `[ap, cp, as, cs]` when the host layer has a bias.
    public let biases: (parDown: Tensor, parUp: Tensor, seqDown: Tensor, seqUp: Tensor)?
    public let scale: Float

    public init(parDown: Tensor, parUp: Tensor, seqDown: Tensor, seqUp: Tensor,
                biases: (parDown: Tensor, parUp: Tensor, seqDown: Tensor, seqUp: Tensor)?, scale: Float) {
        self.parDown = parDown
        self.parUp = parUp
        self.seqDown = seqDown
        self.seqUp = seqUp
        self.biases = biases
        self.scale = scale
        super.init()
        for (_, t) in trainableEntries() { t.requiresGrad = true }
    }

    public convenience init(layer: Linear, rank: Int, scale: Float, seed: UInt64, key: String = "Hydra") throws {
        let inF = layer.inFeatures, out = layer.outFeatures
        guard rank > 0 else { throw AdapterError.invalidRank(key: key, rank: rank, limit: Swift.max(inF, out)) }
        var rng = SplitMix64(seed: seed)
        let pd = ZooMath.xavierUniform([rank, inF], using: &rng), sd = ZooMath.xavierUniform([rank, out], using: &rng)
        let b = layer.bias == nil ? nil : (Tensor.zeros([rank]), Tensor.zeros([out]), Tensor.zeros([rank]), Tensor.zeros([out]))
        self.init(parDown: pd, parUp: Tensor.zeros([out, rank]), seqDown: sd, seqUp: Tensor.zeros([out, rank]), biases: b, scale: scale)
    }

    override public func trainableEntries() -> [(String, Tensor)] {
        var e = [("hydra_par_down.weight", parDown), ("hydra_par_up.weight", parUp), ("hydra_seq_down.weight", seqDown), ("hydra_seq_up.weight", seqUp)]
        if let b = biases {
            e += [("hydra_par_down.bias", b.parDown), ("hydra_par_up.bias", b.parUp), ("hydra_seq_down.bias", b.seqDown), ("hydra_seq_up.bias", b.seqUp)]
        }
        return e
    }

    override public func forward(input: Tensor, baseOutput: Tensor, layer: Linear) -> Tensor {
        let par = input.linear(weight: parDown, bias: biases?.parDown).linear(weight: parUp, bias: biases?.parUp)
        let seq = baseOutput.linear(weight: seqDown, bias: biases?.seqDown).linear(weight: seqUp, bias: biases?.seqUp)
        return baseOutput + (par + seq) * scale
    }

    override public func deltaWeight(layer: Linear) -> Tensor {
        (parUp.matmul(parDown) + seqUp.matmul(seqDown.matmul(layer.weight))) * scale
    }

    override public func deltaBias(layer: Linear) -> Tensor? {
        guard let b = biases, let b0 = layer.bias else { return nil }
        let seqIn = seqDown.matmul(b0.reshaped([b0.count, 1])).reshaped([seqDown.shape[0]]) + b.seqDown  // As·b0 + as
        let seq = seqUp.matmul(seqIn.reshaped([seqIn.count, 1])).reshaped([b0.count]) + b.seqUp
        let par = parUp.matmul(b.parDown.reshaped([b.parDown.count, 1])).reshaped([b0.count]) + b.parUp
        return (seq + par) * scale
    }
}
