#if canImport(Glibc)
import Glibc
#endif

/// Processor time consumed by this process (all threads), for benchmarks on a shared machine:
/// with one worker thread, CPU seconds per step hardly change with the machine's load while wall
/// seconds grow with it, so back-to-back A/B comparisons under load use this figure.
public enum CPUClock {
    /// Seconds of CPU time used by the process so far (`CLOCK_PROCESS_CPUTIME_ID`); 0 where
    /// the clock is unavailable.
    public static func processSeconds() -> Double {
        #if canImport(Glibc)
        var ts = timespec()
        guard clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0 else { return 0 }
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
        #else
        return 0
        #endif
    }
}
