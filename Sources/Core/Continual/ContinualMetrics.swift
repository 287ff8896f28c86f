/// Continual-learning summary metrics from an accuracy matrix `a[t][i]` = score on task i after
/// training through task t (0-based, row t = after task t) and `b[i]` = the untrained model's
/// score on task i (Lopez-Paz & Ranzato 2017, as CL²GEC reports them).
///
/// - AP  = (1/T) Σ_i a[T−1][i]                         (average final performance)
/// - BWT = (1/(T−1)) Σ_{i<T−1} (a[T−1][i] − a[i][i])   (backward transfer; negative = forgetting)
/// - FWT = (1/(T−1)) Σ_{i≥1} (a[i−1][i] − b[i])        (forward transfer)
///
/// ```swift
/// let m = try ContinualMetrics(matrix: a, baseline: b)
/// print(m.averagePerformance, m.backwardTransfer ?? .nan)
/// ```
public struct ContinualMetrics: Sendable, Equatable, Codable {
    public let matrix: [[Double]]
    public let baseline: [Double]?
    public let averagePerformance: Double
    /// Undefined (nil) for a single task.
    public let backwardTransfer: Double?
    /// Undefined (nil) for a single task or without a baseline.
    public let forwardTransfer: Double?

    public enum MetricsError: Error, CustomStringConvertible, Equatable {
        case notSquare(rows: Int, row: Int, columns: Int)
        case baselineLength(Int, tasks: Int)
        case empty
        public var description: String {
            switch self {
            case let .notSquare(rows, row, cols): return "accuracy matrix row \(row) has \(cols) entries; a matrix of \(rows) tasks needs \(rows) per row"
            case let .baselineLength(n, t): return "baseline has \(n) scores for \(t) tasks"
            case .empty: return "accuracy matrix is empty; train on at least one task"
            }
        }
    }

    public init(matrix a: [[Double]], baseline b: [Double]?) throws {
        let t = a.count
        guard t > 0 else { throw MetricsError.empty }
        for (i, row) in a.enumerated() where row.count != t { throw MetricsError.notSquare(rows: t, row: i, columns: row.count) }
        if let b, b.count != t { throw MetricsError.baselineLength(b.count, tasks: t) }
        matrix = a
        baseline = b
        averagePerformance = a[t - 1].reduce(0, +) / Double(t)
        if t > 1 {
            var s = 0.0
            for i in 0..<(t - 1) { s += a[t - 1][i] - a[i][i] }
            backwardTransfer = s / Double(t - 1)
            if let b {
                var f = 0.0
                for i in 1..<t { f += a[i - 1][i] - b[i] }
                forwardTransfer = f / Double(t - 1)
            } else {
                forwardTransfer = nil
            }
        } else {
            backwardTransfer = nil
            forwardTransfer = nil
        }
    }
}
