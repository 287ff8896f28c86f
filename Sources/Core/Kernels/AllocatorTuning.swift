#if canImport(Glibc)
import Glibc
#endif

/// glibc malloc settings for training loops that allocate and free many activation-sized
/// buffers (1-15 MB) every step. By default glibc serves such blocks with mmap or returns the
/// top of the heap to the kernel on free, so every step pays page faults and zero-filling of
/// fresh pages for memory it just released (about a tenth of a MiniLM training step in `perf`).
/// Keeping freed memory in the heap lets the next step reuse the same pages.
public enum AllocatorTuning {
    /// `<malloc.h>` parameter numbers (stable glibc ABI; the header is not in Swift's Glibc module).
    static let trimThreshold: Int32 = -1, topPad: Int32 = -2, mmapThreshold: Int32 = -3

    /// Serve blocks up to 512 MiB from the heap and never trim it. Call once at program start.
    /// Returns false (and changes nothing) where glibc's `mallopt` is not available.
    @discardableResult
    public static func retainFreedMemory() -> Bool {
        #if canImport(Glibc)
        typealias MallOpt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return false }
        let mallopt = unsafeBitCast(symbol, to: MallOpt.self)
        return mallopt(mmapThreshold, 512 << 20) == 1 && mallopt(trimThreshold, Int32.max) == 1 && mallopt(topPad, 64 << 20) == 1
        #else
        return false
        #endif
    }
}
