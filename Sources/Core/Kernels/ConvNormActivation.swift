/// The per-channel passes that follow a convolution, each one fused autograd node instead of a
/// chain of broadcasting ops (every one of which allocated a full-size map and, in backward,
/// reduced over the broadcast axes):
/// - `channelAffine(scale:shift:slope:)`: `y = a_c·x + b_c`, optionally then PReLU with slope
///   `p_c` — BatchNorm with running statistics (a = γ/√(var+ε), b = β − mean·a), PReLU alone,
///   or the two fused as SFace/MobileFaceNet runs them after every convolution;
/// - `batchNormTraining(weight:bias:eps:)`: BatchNorm with the batch's own statistics.
/// Channel layout: axis 1 (`[B, C, …]`) or, with `channelsLast`, the last axis (`[…, C]`).
extension Tensor {
    /// How a tensor splits into `outer × channels × inner` values around its channel axis.
    struct ChannelLayout {
        let outer, channels, inner: Int

        init(_ shape: [Int], channelsLast: Bool) {
            precondition(shape.count >= 2, "channel op: input \(shape) needs a batch and a channel axis")
            channels = channelsLast ? shape[shape.count - 1] : shape[1]
            inner = channelsLast ? 1 : shape[2...].reduce(1, *)
            outer = shape.reduce(1, *) / Swift.max(1, channels * inner)
        }
    }

    /// `y = scale_c · x + shift_c` (a nil scale is 1, a nil shift 0), then, when `slope` is given,
    /// `y ← y > 0 ? y : slope_c · y`. Each parameter holds one value per channel (a slope may
    /// hold one shared value); gradients reach every input that requires one.
    public func channelAffine(scale: Tensor?, shift: Tensor?, slope: Tensor? = nil, channelsLast: Bool = false) -> Tensor {
        let x = self, l = ChannelLayout(shape, channelsLast: channelsLast), ch = l.channels
        for (name, t) in [("scale", scale), ("shift", shift)] {
            if let t { precondition(t.count == ch, "channelAffine: \(name) has \(t.count) values for \(ch) channels of \(shape)") }
        }
        if let slope { precondition(slope.count == ch || slope.count == 1, "channelAffine: slope has \(slope.count) values for \(ch) channels") }
        let a = scale?.storage ?? [Float](repeating: 1, count: ch), b = shift?.storage ?? [Float](repeating: 0, count: ch)
        let p = slope.map { $0.count == ch ? $0.storage : [Float](repeating: $0.storage[0], count: ch) }
        let y = withConstPointers([x.storage, a, b, p]) { ptr in
            makeBuffer(x.count) { o in
                let (xsP, avP, bvP, pvP) = (ptr[0]!, ptr[1]!, ptr[2]!, ptr[3])
                // PReLU as max(z, 0) + p·min(z, 0): no data-dependent branch, so it vectorises.
                if l.inner == 1 {   // rows of `channels` values: vectorise along channels
                    parallelChunks(l.outer, costPerItem: 2 * ch) { rows in
                        let (xs, av, bv, pv) = (xsP.base, avP.base, bvP.base, pvP?.base)
                        for r in rows {
                            let s = xs + r * ch, d = o.base + r * ch
                            if let pv {
                                for c in 0..<ch { let z = s[c] * av[c] + bv[c]; d[c] = Swift.max(z, 0) + pv[c] * Swift.min(z, 0) }
                            } else {
                                for c in 0..<ch { d[c] = s[c] * av[c] + bv[c] }
                            }
                        }
                    }
                } else {            // planes of `inner` values with one channel each
                    parallelChunks(l.outer * ch, costPerItem: 2 * l.inner) { planes in
                        let (xs, av, bv, pv) = (xsP.base, avP.base, bvP.base, pvP?.base)
                        for q in planes {
                            let c = q % ch, s = xs + q * l.inner, d = o.base + q * l.inner
                            let (ac, bc) = (av[c], bv[c])
                            if let pv {
                                let pc = pv[c]
                                for i in 0..<l.inner { let z = s[i] * ac + bc; d[i] = Swift.max(z, 0) + pc * Swift.min(z, 0) }
                            } else {
                                for i in 0..<l.inner { d[i] = s[i] * ac + bc }
                            }
                        }
                    }
                }
            }
        }
        let inputs = [x] + [scale, shift, slope].compactMap { $0 }
        return Tensor(y, shape: shape).recording("channelAffine", inputs) { g in
            var gx = x.requiresGrad ? [Float](repeating: 0, count: x.count) : []
            // Frozen BatchNorm/PReLU parameters (a face network under adapters): only dx.
            let needParams = scale?.requiresGrad == true || shift?.requiresGrad == true || slope?.requiresGrad == true
            // Per channel: Σ dz·x (scale), Σ dz (shift), Σ_{z≤0} g·z (slope), dz = ∂L/∂(a·x + b).
            var sums = [Float](repeating: 0, count: 3 * ch)
            var unused: [Float] = []
            withMutablePointers(&gx, &sums, &unused) { dx, sp, _ in
                // Without a slope, the derivative factor is 1 on both sides.
                withConstPointers([g, x.storage, a, b, p ?? [Float](repeating: 1, count: ch)]) { ptr in
                    let (gsP, xsP, avP, bvP, pvP) = (ptr[0]!, ptr[1]!, ptr[2]!, ptr[3]!, ptr[4]!)
                    if l.inner == 1 {
                        // One block per worker when parameter sums are wanted (private partial
                        // sums); otherwise rows are independent and any split works.
                        let blocks = needParams ? reductionBlocks(rows: l.outer, work: 4 * l.outer * ch)
                            : Swift.min(Swift.max(1, Parallelism.workers), Swift.max(1, l.outer))
                        let partial = makeZeroedBuffer(blocks * 3 * ch) { acc in
                            parallelChunks(blocks, costPerItem: Parallelism.minimumWorkPerSplit) { items in
                                let (gs, xs, av, bv, pv) = (gsP.base, xsP.base, avP.base, bvP.base, pvP.base)
                                // Short single-purpose loops over a row's channels: few
                                // pointers each, so the compiler vectorises them.
                                var scratch = [Float](repeating: 0, count: ch)
                                scratch.withUnsafeMutableBufferPointer { tb in
                                    for blk in items {
                                        let (sx, s1, sz) = (acc.base + blk * 3 * ch, acc.base + blk * 3 * ch + ch, acc.base + blk * 3 * ch + 2 * ch)
                                        for r in blockRange(blk, of: blocks, rows: l.outer) {
                                            let go = gs + r * ch, s = xs + r * ch
                                            let t = dx.map { $0.base + r * ch } ?? tb.baseAddress!   // dz, then dx in place
                                            for c in 0..<ch {
                                                // The slope is loaded unconditionally so the
                                                // choice is a select, not a branch.
                                                let slopeC = pv[c], z = s[c] * av[c] + bv[c]
                                                t[c] = go[c] * (z > 0 ? 1 : slopeC)
                                            }
                                            if needParams {
                                                for c in 0..<ch { sx[c] += t[c] * s[c] }
                                                for c in 0..<ch { s1[c] += t[c] }
                                                for c in 0..<ch { sz[c] += go[c] * Swift.min(s[c] * av[c] + bv[c], 0) }
                                            }
                                            if dx != nil { for c in 0..<ch { t[c] *= av[c] } }
                                        }
                                    }
                                }
                            }
                        }
                        let total = sumBlocks(partial, blocks: blocks, width: 3 * ch)
                        sp!.base.update(from: total, count: 3 * ch)
                    } else {
                        parallelChunks(ch, costPerItem: 4 * l.outer * l.inner) { channels in
                            let (gs, xs, av, bv, pv) = (gsP.base, xsP.base, avP.base, bvP.base, pvP.base)
                            for c in channels {
                                let (ac, bc, pc) = (av[c], bv[c], pv[c])
                                var (sx, s1, sz): (Float, Float, Float) = (0, 0, 0)
                                for o in 0..<l.outer {
                                    let base = (o * ch + c) * l.inner
                                    let go = gs + base, s = xs + base
                                    for i in 0..<l.inner {
                                        let z = s[i] * ac + bc
                                        let dz = go[i] * (z > 0 ? 1 : pc)
                                        if let dx { dx.base[base + i] = dz * ac }
                                        sx += dz * s[i]
                                        s1 += dz
                                        sz += go[i] * Swift.min(z, 0)
                                    }
                                }
                                sp!.base[c] = sx
                                sp!.base[ch + c] = s1
                                sp!.base[2 * ch + c] = sz
                            }
                        }
                    }
                }
            }
            if x.requiresGrad { x.accumulateGrad(gx) }
            if let scale, scale.requiresGrad { scale.accumulateGrad(Array(sums[0..<ch])) }
            if let shift, shift.requiresGrad { shift.accumulateGrad(Array(sums[ch..<(2 * ch)])) }
            if let slope, slope.requiresGrad {
                let gp = Array(sums[(2 * ch)...])
                slope.accumulateGrad(slope.count == ch ? gp : [gp.reduce(0, +)])
            }
        }
    }

    /// BatchNorm over axis 1 with this batch's statistics: per channel, the mean and biased
    /// variance over every other axis, `y = γ·(x − mean)/√(var + ε) + β`. Returns the output
    /// and the statistics (for the running averages). The backward is the closed form
    /// `dx = γ/(σ·N)·(N·g − Σg − x̂·Σ(g·x̂))`, `dγ = Σ g·x̂`, `dβ = Σ g`.
    public func batchNormTraining(weight: Tensor, bias: Tensor, eps: Float) -> (output: Tensor, mean: [Float], variance: [Float]) {
        let x = self, l = ChannelLayout(shape, channelsLast: false), ch = l.channels
        precondition(weight.count == ch && bias.count == ch, "batchNormTraining: weight/bias must hold \(ch) values")
        let n = l.outer * l.inner
        precondition(n > 1, "batchNormTraining: needs more than one value per channel, got input \(shape)")
        var mean = [Float](repeating: 0, count: ch), variance = mean
        let y = withConstPointers([x.storage, weight.storage, bias.storage]) { ptr in
            makeBuffer(x.count) { o in
                mean.withUnsafeMutableBufferPointer { mb in
                    variance.withUnsafeMutableBufferPointer { vb in
                        let (ms, vs) = (SendablePointer(mb.baseAddress!), SendablePointer(vb.baseAddress!))
                        parallelChunks(ch, costPerItem: 4 * n) { channels in
                            for c in channels {
                                // Two passes in Double: exact enough for large maps and large offsets.
                                var s = 0.0
                                for b in 0..<l.outer {
                                    let p = ptr[0]!.base + (b * ch + c) * l.inner
                                    var t: Float = 0
                                    for i in 0..<l.inner { t += p[i] }
                                    s += Double(t)
                                }
                                let m = s / Double(n)
                                var q = 0.0
                                for b in 0..<l.outer {
                                    let p = ptr[0]!.base + (b * ch + c) * l.inner
                                    let mf = Float(m)
                                    var t: Float = 0
                                    for i in 0..<l.inner { let d = p[i] - mf; t += d * d }
                                    q += Double(t)
                                }
                                let v = q / Double(n)
                                ms.base[c] = Float(m)
                                vs.base[c] = Float(v)
                                // (x − mean)·a + β rather than x·a + (β − mean·a): no
                                // cancellation when the mean is large against the spread.
                                let a = ptr[1]!.base[c] / Float(v + Double(eps)).squareRoot()
                                let (mf, beta) = (Float(m), ptr[2]!.base[c])
                                for b in 0..<l.outer {
                                    let base = (b * ch + c) * l.inner
                                    let p = ptr[0]!.base + base, d = o.base + base
                                    for i in 0..<l.inner { d[i] = (p[i] - mf) * a + beta }
                                }
                            }
                        }
                    }
                }
            }
        }
        let (meanC, varC) = (mean, variance)
        let out = Tensor(y, shape: shape).recording("batchNormTraining", [x, weight, bias]) { g in
            var gx = x.requiresGrad ? [Float](repeating: 0, count: x.count) : []
            var sums = [Float](repeating: 0, count: 2 * ch)   // Σ g·x̂, Σ g
            var unused: [Float] = []
            withMutablePointers(&gx, &sums, &unused) { dx, sp, _ in
                withConstPointers([g, x.storage, weight.storage, meanC, varC]) { ptr in
                    parallelChunks(ch, costPerItem: 6 * n) { channels in
                        for c in channels {
                            let m = ptr[3]!.base[c], inv = 1 / (ptr[4]!.base[c] + eps).squareRoot()
                            var (sgx, sg): (Float, Float) = (0, 0)
                            for b in 0..<l.outer {
                                let base = (b * ch + c) * l.inner
                                for i in 0..<l.inner {
                                    let gv = ptr[0]!.base[base + i]
                                    sgx += gv * (ptr[1]!.base[base + i] - m) * inv
                                    sg += gv
                                }
                            }
                            sp!.base[c] = sgx
                            sp!.base[ch + c] = sg
                            guard let dx else { continue }
                            let k = ptr[2]!.base[c] * inv
                            let (mg, mgx) = (sg / Float(n), sgx / Float(n))
                            for b in 0..<l.outer {
                                let base = (b * ch + c) * l.inner
                                for i in 0..<l.inner {
                                    let xh = (ptr[1]!.base[base + i] - m) * inv
                                    dx.base[base + i] = k * (ptr[0]!.base[base + i] - mg - xh * mgx)
                                }
                            }
                        }
                    }
                }
            }
            if x.requiresGrad { x.accumulateGrad(gx) }
            if weight.requiresGrad { weight.accumulateGrad(Array(sums[0..<ch])) }
            if bias.requiresGrad { bias.accumulateGrad(Array(sums[ch...])) }
        }
        return (out, mean, variance)
    }
}
