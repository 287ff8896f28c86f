import Foundation

/// Progress lines on stderr (stdout stays for results). A disabled log prints nothing.
public struct ProgressLog: Sendable {
    public var enabled: Bool
    public var prefix: String

    public init(enabled: Bool = true, prefix: String = "") {
        self.enabled = enabled
        self.prefix = prefix
    }

    /// Writes one line to stderr when enabled.
    public func line(_ text: String) {
        guard enabled else { return }
        FileHandle.standardError.write(Data((prefix + text + "\n").utf8))
    }
}

/// Wall-clock stopwatch in seconds.
public struct Stopwatch: Sendable {
    private let start = ContinuousClock.now
    public init() {}

    /// Seconds since creation.
    public var seconds: Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}

/// "1m 05s" / "12.3s" style duration for ETAs.
func formatDuration(_ s: Double) -> String {
    guard s.isFinite, s >= 0 else { return "?" }
    if s < 60 { return String(format: "%.1fs", s) }
    let m = Int(s) / 60, r = Int(s) % 60
    return String(format: "%dm %02ds", m, r)
}
