/// Adagrad over a flat parameter array, as `torch.optim.Adagrad` with no decay:
/// `G += g²;  θ −= lr · g / (√G + eps)`, with `G` starting at `initialAccumulator`.
/// A coordinate whose gradient is zero does not move, so a dense update over a whole
/// embedding table equals a sparse update of the rows a batch touched.
public struct Adagrad: Sendable {
    public var learningRate: Float
    public var eps: Float
    /// Running sum of squared gradients, one per parameter.
    public private(set) var sumSquares: [Float]

    public init(parameterCount: Int, learningRate: Float, eps: Float = 1e-10, initialAccumulator: Float = 0) {
        self.learningRate = learningRate
        self.eps = eps
        sumSquares = [Float](repeating: initialAccumulator, count: parameterCount)
    }

    /// Puts back the accumulator of a checkpoint (same count).
    public mutating func restore(sumSquares values: [Float]) throws {
        guard values.count == sumSquares.count else {
            throw GraphDataError("Adagrad state has \(values.count) values, the parameters \(sumSquares.count)")
        }
        sumSquares = values
    }

    /// One update of `parameters` with `gradient` (same counts).
    public mutating func step(_ parameters: inout [Float], gradient: [Float]) {
        precondition(parameters.count == sumSquares.count && gradient.count == sumSquares.count,
                     "Adagrad: \(parameters.count) parameters, \(gradient.count) gradients, state for \(sumSquares.count)")
        let lr = learningRate, eps = eps
        sumSquares.withUnsafeMutableBufferPointer { acc in
            parameters.withUnsafeMutableBufferPointer { p in
                gradient.withUnsafeBufferPointer { g in
                    for i in 0..<acc.count {
                        let gi = g[i]
                        acc[i] += gi * gi
                        p[i] -= lr * gi / (acc[i].squareRoot() + eps)
                    }
                }
            }
        }
    }
}
