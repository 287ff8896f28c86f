#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import Core
import TestSupport

/// "Never half-written": a writer process is killed with SIGKILL at random moments while it
/// rewrites a 4 MB file (AtomicFile) and a two-file folder (AtomicFile.replaceDirectory) in a
/// loop. After every kill the destination must hold one complete generation: the right length,
/// every byte of the generation's pattern, and both folder files from the same generation.
///
/// The writer is this test binary itself, started again with a filter that selects only
/// `AtomicWriterChild.writeForever` and an environment variable naming the target folder.
@Suite("Atomic writes survive SIGKILL")
struct AtomicWriteKillTests {
    static let payloadSize = 4 << 20

    @Test func killedWriterLeavesOldOrNewNeverPartial() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = SplitMix64(seed: 14)
        var generationsSeen = Set<Int>(), partialTemporaries = 0
        for round in 0..<6 {
            let child = Process()
            child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
            child.arguments = AtomicWriterChild.arguments
            child.environment = ProcessInfo.processInfo.environment.merging([AtomicWriterChild.variable: dir.path]) { $1 }
            child.standardOutput = FileHandle.nullDevice
            child.standardError = FileHandle.nullDevice
            try child.run()
            // Wait for the first commit of this round (the generation counter moves), then a
            // random extra 0–400 ms, so the kill lands anywhere in the write/flush/rename cycle.
            let before = try? Self.check(dir)
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline, (try? Self.check(dir)) == before || (try? Self.check(dir)) == nil {
                usleep(5_000)
            }
            usleep(UInt32(rng.next() % 400_000))
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            #expect(child.terminationReason == .uncaughtSignal, "round \(round): the writer was not killed (\(child.terminationStatus))")

            let generation = try Self.check(dir)
            generationsSeen.insert(generation)
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains(".tmp-") }
            partialTemporaries += leftovers.count
            for name in leftovers { try? FileManager.default.removeItem(at: dir.appendingPathComponent(name)) }
        }
        // Evidence that kills landed mid-write (temporaries left behind) across several generations.
        #expect(generationsSeen.count >= 2, "\(generationsSeen)")
        #expect(partialTemporaries >= 1)
    }

    /// Verifies `dir/data.bin` and `dir/folder/{a,b}.txt`; returns the file's generation.
    static func check(_ dir: URL) throws -> Int {
        let data = try Data(contentsOf: dir.appendingPathComponent("data.bin"))
        let bytes = [UInt8](data)
        guard bytes.count == 8 + payloadSize else { throw CheckError("data.bin has \(bytes.count) bytes") }
        let generation = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        for i in stride(from: 0, to: payloadSize, by: 1) where bytes[8 + i] != AtomicWriterChild.pattern(i, generation) {
            throw CheckError("data.bin generation \(generation): byte \(i) is wrong")
        }
        let folder = dir.appendingPathComponent("folder")
        if FileManager.default.fileExists(atPath: folder.path) {
            let a = try String(contentsOf: folder.appendingPathComponent("a.txt"), encoding: .utf8)
            let b = try String(contentsOf: folder.appendingPathComponent("b.txt"), encoding: .utf8)
            guard a == b, a.hasPrefix("generation ") else { throw CheckError("folder mixes generations: \(a) / \(b)") }
        }
        return generation
    }

    struct CheckError: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }
}

/// The writer side, run only inside the child process.
@Suite struct AtomicWriterChild {
    static let variable = "PEFTKIT_ATOMIC_WRITER_DIR"
    static let arguments = ["--testing-library", "swift-testing", "--filter", "AtomicWriterChild"]

    static func pattern(_ i: Int, _ generation: Int) -> UInt8 { UInt8(truncatingIfNeeded: i &* 31 &+ generation &* 7 &+ (i >> 12)) }

    @Test(.enabled(if: ProcessInfo.processInfo.environment[variable] != nil))
    func writeForever() throws {
        let dir = URL(fileURLWithPath: ProcessInfo.processInfo.environment[Self.variable]!)
        var generation = (try? AtomicWriteKillTests.check(dir)) ?? 0
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            generation += 1
            try AtomicFile.write(to: dir.appendingPathComponent("data.bin")) { sink in
                try sink.write(withUnsafeBytes(of: UInt64(generation).littleEndian) { Array($0) })
                for start in stride(from: 0, to: AtomicWriteKillTests.payloadSize, by: chunk.count) {
                    for j in chunk.indices { chunk[j] = Self.pattern(start + j, generation) }
                    try sink.write(chunk)
                }
            }
            let staged = dir.appendingPathComponent(".folder.tmp-\(generation)")
            try AtomicFile.write("generation \(generation)", to: staged.appendingPathComponent("a.txt"), createDirectories: true)
            try AtomicFile.write("generation \(generation)", to: staged.appendingPathComponent("b.txt"))
            try AtomicFile.replaceDirectory(dir.appendingPathComponent("folder"), with: staged)
        }
    }
}
