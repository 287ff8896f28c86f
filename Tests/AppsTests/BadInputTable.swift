#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TestSupport

/// The bad-input table: every app is run as a real process on a catalogue of damaged inputs and
/// must (1) exit with a non-zero status rather than die from a signal, (2) print exactly one
/// `app: error: …` line naming the bad file and its problem, (3) print no stack trace or Swift
/// runtime failure, and (4) leave nothing under the output path it was given.
@Suite("Bad-input table", .serialized)
struct BadInputTableTests {
    @Test(arguments: BadInputCase.catalogue)
    func appRefusesBadInput(_ c: BadInputCase) throws {
        let files = BadInputFiles.shared
        if c.kind == .permissionDenied, getuid() == 0 {
            // Root reads files whatever their mode: the case cannot be staged here.
            return
        }
        let out = files.outputFolder(c.app)
        let run = try AppRun(c.app, c.arguments(files, out))
        let label = "\(c.app) \(c.arguments(files, out).joined(separator: " "))"
        #expect(run.exitedNormally, "\(label): killed by signal \(run.status)\n\(run.stderr)")
        #expect(run.status != 0, "\(label): exit status 0")
        let errorLines = run.stderr.split(separator: "\n").filter { $0.contains("error:") }
        #expect(errorLines.count == 1, "\(label): expected one error line, stderr:\n\(run.stderr)")
        let line = errorLines.first.map(String.init) ?? ""
        #expect(line.hasPrefix("\(c.app): error: "), "\(label): \(line)")
        #expect(line.contains(c.names(files)), "\(label): does not name \(c.names(files)): \(line)")
        #expect(line.lowercased().contains(c.problem.lowercased()), "\(label): does not say '\(c.problem)': \(line)")
        for trace in ["Fatal error", "Stack dump", "Backtrace", "Crash", "💣", "#0 ", "SIGSEGV", "SIGILL", "AddressSanitizer"] {
            #expect(!run.stderr.contains(trace), "\(label): stack trace or crash text '\(trace)':\n\(run.stderr)")
        }
        let left = (try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []
        #expect(left.isEmpty, "\(label): partial output left in \(out): \(left)")
    }

    /// A full disk (a 256 KB tmpfs) while a command writes a large output: the command fails
    /// naming the output and the folder holds no partial file (temporaries are removed).
    @Test func diskFullLeavesNoPartialOutput() throws {
        guard getuid() == 0, let disk = SmallDisk(kilobytes: 256) else { return }  // mounting needs root
        defer { disk.unmount() }
        let out = (disk.path as NSString).appendingPathComponent("queries.jsonl")
        let run = try AppRun("kg-query", ["queries", "--data", TestPaths.packageRoot.appendingPathComponent("data/graph/umls").path,
                                          "--out", out, "--train-per-type", "400", "--quiet"])
        #expect(run.exitedNormally && run.status != 0, "status \(run.status)\n\(run.stderr)")
        let line = run.stderr.split(separator: "\n").first { $0.contains("error:") }.map(String.init) ?? ""
        #expect(line.contains("queries.jsonl") && line.contains("No space left on device"), "\(line)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: disk.path)) ?? ["?"]).isEmpty)
    }
}

/// One row of the table.
struct BadInputCase: Sendable, CustomTestStringConvertible {
    enum Kind: String, Sendable { case empty, truncated, wrongFormat, wrongEncoding, hugeDimensions, missing, permissionDenied, malformed }
    let app: String
    let kind: Kind
    let what: String
    /// Arguments given the bad files and a fresh output folder.
    let arguments: @Sendable (BadInputFiles, String) -> [String]
    /// The path the error must name.
    let names: @Sendable (BadInputFiles) -> String
    /// Words the error must contain (the problem), compared case-insensitively.
    let problem: String

    var testDescription: String { "\(app): \(kind.rawValue) \(what)" }

    static func row(_ app: String, _ kind: Kind, _ what: String, problem: String, names: @escaping @Sendable (BadInputFiles) -> String,
                    _ arguments: @escaping @Sendable (BadInputFiles, String) -> [String]) -> BadInputCase {
        BadInputCase(app: app, kind: kind, what: what, arguments: arguments, names: names, problem: problem)
    }
}

/// Runs a built app (the executables sit next to the test bundle) with a 120 s limit.
struct AppRun {
    let status: Int32
    let exitedNormally: Bool
    let stdout: String
    let stderr: String

    init(_ app: String, _ arguments: [String]) throws {
        let bin = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(app)
        let p = Process()
        p.executableURL = bin
        p.arguments = arguments
        p.currentDirectoryURL = TestPaths.packageRoot
        var env = ProcessInfo.processInfo.environment
        env["OPENBLAS_NUM_THREADS"] = "1"
        p.environment = env
        let outURL = FileManager.default.temporaryDirectory.appendingPathComponent("peftkit-run-\(UUID().uuidString)")
        let errURL = outURL.appendingPathExtension("err")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outURL); try? FileManager.default.removeItem(at: errURL) }
        p.standardOutput = try FileHandle(forWritingTo: outURL)
        p.standardError = try FileHandle(forWritingTo: errURL)
        try p.run()
        let deadline = Date().addingTimeInterval(120)
        while p.isRunning && Date() < deadline { usleep(10_000) }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        status = p.terminationStatus
        exitedNormally = p.terminationReason == .exit
        stdout = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
        stderr = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
    }
}

/// A small tmpfs mounted for the disk-full case (nil when mounting is not allowed).
struct SmallDisk {
    let path: String

    init?(kilobytes: Int) {
        guard let dir = try? TestPaths.temporaryDirectory().path else { return nil }
        path = dir
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/mount")
        p.arguments = ["-t", "tmpfs", "-o", "size=\(kilobytes)k", "tmpfs", dir]
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return nil }
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { return nil }
    }

    func unmount() {
        _ = umount2(path, 0)
        try? FileManager.default.removeItem(atPath: path)
    }
}
