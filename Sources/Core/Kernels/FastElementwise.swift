import Foundation

/// Vectorised autograd nodes for the elementwise passes of transformer training: exact GELU
/// (through `VectorMath`'s 16-lane exp instead of a scalar libm call per element) and dropout
/// that keeps its mask as bytes (a quarter of a Float mask) and writes its output in one pass.
extension Tensor {
    /// Exact GELU `x·Φ(x)`, the same formula as `GELUKernel` (A&S 7.1.26 for the normal tail),
    /// on 16 lanes; the backward recomputes from x.
    public func geluVectorized() -> Tensor {
        let x = self, n = count
        let chunk = 4096
        let y = withConstPointers([x.storage]) { p in
            makeBuffer(n) { o in
                parallelChunks((n + chunk - 1) / chunk, costPerItem: 8 * chunk) { blocks in
                    for c in blocks {
                        let lo = c * chunk
                        VectorMath.geluForward(o.base + lo, p[0]!.base + lo, Swift.min(chunk, n - lo))
                    }
                }
            }
        }
        return Tensor(y, shape: shape).recording("gelu", [x]) { g in
            let dx = withConstPointers([g, x.storage]) { p in
                makeBuffer(n) { d in
                    parallelChunks((n + chunk - 1) / chunk, costPerItem: 10 * chunk) { blocks in
                        for c in blocks {
                            let lo = c * chunk
                            VectorMath.geluBackward(d.base + lo, p[0]!.base + lo, p[1]!.base + lo, Swift.min(chunk, n - lo))
                        }
                    }
                }
            }
            x.accumulateGrad(dx)
        }
    }

    /// Inverted dropout with probability `p` (`0 ≤ p < 1`): each element is kept with
    /// probability 1 − p and scaled by 1/(1 − p). One draw of `rng` seeds per-block SplitMix64
    /// streams, so the mask does not depend on the thread count.
    public func dropoutMasked(p: Float, rng: inout SplitMix64) -> Tensor {
        precondition(p >= 0 && p < 1, "dropoutMasked: p \(p) outside [0, 1)")
        if p == 0 { return self }
        let x = self, n = count
        let seed = rng.next()
        let scale = 1 / (1 - p)
        // Keep when the 24-bit uniform is ≥ p, as `Dropout` does.
        let threshold = UInt64((Double(p) * 16_777_216).rounded(.up))
        let block = 2048
        var keep = [UInt8](repeating: 0, count: n)
        let y = keep.withUnsafeMutableBufferPointer { kb in
            let ks = SendablePointer(kb.baseAddress!)
            return withConstPointers([x.storage]) { xp in
                makeBuffer(n) { o in
                    parallelChunks((n + block - 1) / block, costPerItem: 4 * block) { blocks in
                        for c in blocks {
                            var g = SplitMix64(seed: seed ^ (UInt64(c) &* 0x9E37_79B9_7F4A_7C15))
                            for i in (c * block)..<Swift.min(n, (c + 1) * block) {
                                let k = (g.next() >> 40) >= threshold
                                ks.base[i] = k ? 1 : 0
                                o.base[i] = k ? xp[0]!.base[i] * scale : 0
                            }
                        }
                    }
                }
            }
        }
        return Tensor(y, shape: shape).recording("dropout", [x]) { g in
            let dx = keep.withUnsafeBufferPointer { kb in
                let ks = SendableConstPointer(kb.baseAddress!)
                return withConstPointers([g]) { gp in
                    makeBuffer(n) { d in
                        parallelChunks(n, costPerItem: 2) { range in
                            for i in range { d.base[i] = ks.base[i] != 0 ? gp[0]!.base[i] * scale : 0 }
                        }
                    }
                }
            }
            x.accumulateGrad(dx)
        }
    }
}

extension Dropout {
    /// Dropout through `dropoutMasked` (byte mask, one pass) when `training`, drawing from this
    /// module's own generator; `p = 1` falls back to `apply` (all zeros).
    public func applyFused(_ x: Tensor, training: Bool) -> Tensor {
        guard training, p > 0, p < 1 else { return apply(x, training: training) }
        return x.dropoutMasked(p: p, rng: &rngState)
    }
}
