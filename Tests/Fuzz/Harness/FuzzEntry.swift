import Foundation
#if canImport(Glibc)
import Glibc
#endif

// The libFuzzer entry points of `peftkit-fuzz`, one binary holding every target. The target is
// chosen by PEFTKIT_FUZZ_TARGET (scripts/fuzz.sh sets it), so each run still fuzzes exactly one
// parser with its own corpus; one binary keeps the link (the slow part) to a single step.
//
// Built by scripts/fuzz.sh with `-sanitize=fuzzer,address -parse-as-library`: libFuzzer owns
// `main`, so there is no top-level code here.

/// A fuzz target: feeds the bytes to one parser. Thrown errors are the expected outcome for bad
/// bytes; anything else (a trap, an ASan report, a leak, a hang) is a crash libFuzzer records.
struct FuzzTarget: Sendable {
    let name: String
    /// What the bytes are, for `scripts/fuzz.sh --list` and FUZZING.md.
    let summary: String
    /// libFuzzer's -max_len for this target (nil: its default, the largest seed): bounds the
    /// per-input work of line-oriented text formats whose cost grows with the input.
    var maxLength: Int? = nil
    let run: @Sendable (Data) -> Void
}

/// Every target, in the order FUZZING.md lists them.
let allFuzzTargets: [FuzzTarget] = coreFuzzTargets + textFuzzTargets + graphFuzzTargets + visionFuzzTargets + audioFuzzTargets
    + newFormatFuzzTargets + runStateFuzzTargets + adapterFolderFuzzTargets

/// The target named by PEFTKIT_FUZZ_TARGET, resolved once.
let selectedFuzzTarget: FuzzTarget = {
    let name = environment("PEFTKIT_FUZZ_TARGET") ?? ""
    guard let target = allFuzzTargets.first(where: { $0.name == name }) else {
        let names = allFuzzTargets.map(\.name).joined(separator: " ")
        fputs("peftkit-fuzz: set PEFTKIT_FUZZ_TARGET to one of: \(names)\n", stderr)
        exit(2)
    }
    return target
}()

/// One environment variable (C getenv: ProcessInfo's dictionary would show up as a leak at exit).
func environment(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    if environment("PEFTKIT_FUZZ_LIST") != nil {
        for t in allFuzzTargets { print("\(t.name)\t\(t.summary)\t\(t.maxLength.map(String.init) ?? "")") }
        fflush(stdout); _exit(0)
    }
    if let dir = environment("PEFTKIT_FUZZ_WRITE_SEEDS") {
        do {
            try SeedWriter.writeAll(to: URL(fileURLWithPath: dir))
        } catch {
            fputs("peftkit-fuzz: cannot write seeds: \(error)\n", stderr)
            exit(1)
        }
        fflush(stdout); _exit(0)
    }
    _ = selectedFuzzTarget
    // The scratch folder goes at a normal exit; crashes and kills are cleaned by scripts/fuzz.sh.
    atexit { Fuzz.removeScratch() }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    let data = bytes.map { Data(bytes: $0, count: count) } ?? Data()
    selectedFuzzTarget.run(data)
    return 0
}
