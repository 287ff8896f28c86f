import Core
import Foundation

/// Runs a command as an executable's whole `main`: makes sure OpenBLAS uses a fast kernel,
/// parses nothing itself, prints errors as one line on stderr and returns the exit code.
public enum Launcher {
    /// The `main.swift` of every app is `exit(Launcher.main(SomeCommand.self))`.
    public static func main<C: Command>(_ command: C.Type) -> Int32 {
        reexecWithFastBLASKernelIfNeeded()
        // Training steps free and re-allocate the same activation-sized buffers; keeping freed
        // memory in the heap avoids page faults and zero-filling every step (see AllocatorTuning).
        AllocatorTuning.retainFreedMemory()
        let args = Array(CommandLine.arguments.dropFirst())
        if args.contains("--help") || args.contains("-h") {
            print(C.usage)
            return 0
        }
        // Under mpirun every rank runs main; a command that does not split its work would run
        // N copies of the same job over the same output folder.
        if !C.supportsDistributed && DistributedWorld.wantsMPI() {
            FileHandle.standardError.write(Data("\(C.name) does not support mpirun yet\n".utf8))
            return 2
        }
        do {
            return try C.run(args)
        } catch {
            // One line whatever the error type: names from input files may hold newlines.
            FileHandle.standardError.write(Data("\(C.name): error: \(oneLineMessage("\(error)"))\n".utf8))
            return 1
        }
    }

    /// Debian's OpenBLAS 0.3.21 falls back to a generic kernel on CPUs it does not know
    /// (about 4x slower GEMM). The kernel is chosen when the library loads, so the only way
    /// to fix it from inside the program is to restart it with OPENBLAS_CORETYPE set. A value
    /// already in the environment is respected; `PEFTKIT_NO_REEXEC=1` disables this.
    static func reexecWithFastBLASKernelIfNeeded() {
        let env = ProcessInfo.processInfo.environment
        guard env["OPENBLAS_CORETYPE"] == nil, env["PEFTKIT_NO_REEXEC"] == nil,
              let wanted = CPUFeatures.current.preferredOpenBLASCore else { return }
        setenv("OPENBLAS_CORETYPE", wanted, 1)
        setenv("PEFTKIT_NO_REEXEC", "1", 1)
        let argv = CommandLine.unsafeArgv
        execv("/proc/self/exe", argv)
        // execv only returns on failure: carry on with whatever kernel OpenBLAS picked.
    }
}

/// x86 CPU features read from /proc/cpuinfo (Linux).
public struct CPUFeatures: Sendable {
    public var vendor: String
    public var flags: Set<String>

    public static var current: CPUFeatures {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else {
            return CPUFeatures(vendor: "unknown", flags: [])
        }
        var vendor = "unknown", flags = Set<String>()
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }
            if parts[0] == "vendor_id" && vendor == "unknown" { vendor = parts[1] }
            if parts[0] == "flags" && flags.isEmpty { flags = Set(parts[1].split(separator: " ").map(String.init)) }
        }
        return CPUFeatures(vendor: vendor, flags: flags)
    }

    /// SkylakeX for x86 with AVX-512 F/BW/VL (Intel, or AMD Zen 4 and later); Haswell for other x86
    /// with AVX2+FMA; else nil (mirrors scripts/openblas-coretype.sh). AMD CPUs with AVX-512 got
    /// Haswell until the ninth session, on the word of a machine that pinned it; on an AMD EPYC
    /// with AVX-512 Debian's OpenBLAS itself picks Cooperlake (512-bit), the whole test suite
    /// passes with SkylakeX, and Haswell halved the GEMM width (docs/speed.md: Whisper
    /// transcription level with CTranslate2 instead of 1.20-1.34x slower, GenD training 1.23-1.35x
    /// PyTorch instead of 0.83x). `OPENBLAS_CORETYPE=Haswell` in the environment still wins.
    public var preferredOpenBLASCore: String? {
        if flags.isSuperset(of: ["avx512f", "avx512bw", "avx512vl"]) { return "SkylakeX" }
        if flags.isSuperset(of: ["avx2", "fma"]) { return "Haswell" }
        return nil
    }
}
