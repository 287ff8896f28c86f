#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import Core
import TestSupport

/// Leftovers of killed writers are removed at the next atomic write to the same folder, and only
/// those: names of our own pattern whose writer PID is dead (after a one-minute grace) or that
/// nobody touched for 15 minutes; never this process's own, never a live writer's fresh file,
/// never a file of another naming scheme.
@Suite("AtomicFile removes stale temporaries")
struct AtomicFileCleanupTests {
    /// The PID of a process that has exited (started and reaped here, so no one else holds it
    /// unless the kernel reuses it within the test).
    func deadPID() throws -> pid_t {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run()
        p.waitUntilExit()
        return p.processIdentifier
    }

    /// Creates `name` in `dir` (a file, or a folder holding one file) last modified `age` seconds ago.
    func make(_ dir: URL, _ name: String, age: TimeInterval, folder: Bool = false) throws {
        let url = dir.appendingPathComponent(name)
        if folder {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            try Data("half".utf8).write(to: url.appendingPathComponent("a.txt"))
        } else {
            try Data("half-written".utf8).write(to: url)
        }
        let t = Date().timeIntervalSince1970 - age
        var times = [timeval(tv_sec: Int(t), tv_usec: 0), timeval(tv_sec: Int(t), tv_usec: 0)]
        #expect(utimes(url.path, &times) == 0)
    }

    @Test func nextWriteRemovesOnlyStaleLeftoversOfOurPattern() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let dead = try deadPID(), live = getppid(), me = getpid()
        let stale = [
            ".data.bin.tmp-\(dead)-1x9z",         // killed writer, 2 minutes ago
            ".model.safetensors.tmp-\(live)-k2",  // PID alive (reused) but untouched for 20 minutes
        ]
        let staleFolders = [".run.tmp-\(dead)", ".run.old-\(dead)-4021"]
        let kept = [
            ".data.bin.tmp-\(dead)-fresh0",       // dead PID but written 5 s ago: grace period
            ".data.bin.tmp-\(live)-abc",          // live writer, 2 minutes idle
            ".data.bin.tmp-\(me)-old1",           // this process: never
            ".data.bin.tmp-12ab-c",               // not a PID
            ".data.bin.tmp-\(dead)-UPPER",        // tag not base 36 lower case
            "data.bin.tmp-\(dead)-abc",           // no leading dot: not ours
            ".hidden", ".config.tmp", ".tmp-\(dead)-abc",
        ]
        try make(dir, stale[0], age: 120)
        try make(dir, stale[1], age: 20 * 60)
        for name in staleFolders { try make(dir, name, age: 120, folder: true) }
        try make(dir, kept[0], age: 5)
        try make(dir, kept[1], age: 120)
        for name in kept.dropFirst(2) { try make(dir, name, age: 3600) }

        try AtomicFile.write("new\n", to: dir.appendingPathComponent("data.bin"))

        let after = Set(try FileManager.default.contentsOfDirectory(atPath: dir.path))
        for name in stale + staleFolders { #expect(!after.contains(name), "\(name) should have been removed") }
        for name in kept { #expect(after.contains(name), "\(name) must be kept") }
        #expect(after.contains("data.bin"))
        #expect(after.count == kept.count + 1, "\(after.sorted())")
        #expect(try String(contentsOf: dir.appendingPathComponent("data.bin"), encoding: .utf8) == "new\n")
    }

    @Test func ruleIsExplicitAndNowCanBeMovedForward() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let dead = try deadPID()
        try make(dir, ".x.tmp-\(dead)-a", age: 0)
        #expect(AtomicFile.removeStaleTemporaries(in: dir).isEmpty)  // inside the grace period
        let later = Date().addingTimeInterval(61)
        #expect(AtomicFile.removeStaleTemporaries(in: dir, now: later) == [".x.tmp-\(dead)-a"])
    }

    @Test func patternParsing() {
        #expect(AtomicFile.leftoverPattern(".a.json.tmp-123-z9")! == (123, false))
        #expect(AtomicFile.leftoverPattern(".adapter.tmp-77")! == (77, true))
        #expect(AtomicFile.leftoverPattern(".adapter.old-77-3000000000")! == (77, true))
        for name in [".a.tmp-", ".a.tmp-0-a", ".a.tmp--a", ".a.tmp-1-", ".a.tmp-1-a-b", ".tmp-1-a", "a.tmp-1-a",
                     ".a.old-1", ".a.old-1-x", ".a.tmp-99999999999-a"] {
            #expect(AtomicFile.leftoverPattern(name) == nil, "\(name)")
        }
    }
}
