import Core
import Foundation
import Testing
import TestSupport

/// Commands that do not split their work over MPI ranks refuse to start under `mpirun`
/// (N copies would write the same outputs); ner-tune does start. The launcher decides from the
/// environment `mpirun` sets (`OMPI_COMM_WORLD_SIZE`), so no MPI installation is needed here.
@Suite struct LauncherMPITests {
    static func executable(_ name: String) -> URL? {
        ResumeSupport.app(name)
    }

    @Test("deepfake-detect under an MPI launcher: one line, exit 2; ner-tune gets past the launcher; vision-adapt eval, kg-query eval, audio-adapt eval refuse")
    func refusesUnlessDistributed() throws {
        guard let deepfake = Self.executable("deepfake-detect"), let ner = Self.executable("ner-tune"), let vision = Self.executable("vision-adapt"),
              let kg = Self.executable("kg-query"), let audio = Self.executable("audio-adapt") else {
            Issue.record("deepfake-detect / ner-tune / vision-adapt / kg-query / audio-adapt are not built (.build/release); build with --build-tests first")
            return
        }
        let env = ResumeSupport.environment(["OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "0"])
        let r = try ResumeSupport.run(deepfake, ["train", "--data", "/nonexistent"], environment: env, timeout: 60)
        #expect(r.status == 2)
        #expect(r.stderr == "deepfake-detect does not support mpirun yet\n", "\(r.stderr)")
        // kg-query and audio-adapt train data-parallel (train, adapt); their other subcommands refuse.
        let k = try ResumeSupport.run(kg, ["eval", "--model", "/nonexistent"], environment: env, timeout: 60)
        #expect(k.status == 1 && k.stderr == "kg-query: error: kg-query eval does not support mpirun yet (only train and adapt do)\n", "\(k.stderr)")
        let au = try ResumeSupport.run(audio, ["eval", "--adapter", "/nonexistent"], environment: env, timeout: 60)
        #expect(au.status == 1 && au.stderr == "audio-adapt: error: audio-adapt eval does not support mpirun yet (only train does)\n", "\(au.stderr)")
        // vision-adapt trains data-parallel, but its other subcommands would run N copies.
        let v = try ResumeSupport.run(vision, ["eval", "--adapter", "/nonexistent", "--data", "/nonexistent"], environment: env, timeout: 60)
        #expect(v.status == 1)
        #expect(v.stderr == "vision-adapt: error: vision-adapt eval does not support mpirun yet (only train does)\n", "\(v.stderr)")
        // ner-tune is distributed-aware: the launcher lets it through and the command's own
        // argument check answers (before MPI would be loaded).
        let n = try ResumeSupport.run(ner, ["train", "--threads", "0"], environment: env, timeout: 60)
        #expect(n.status == 1)
        #expect(n.stderr.contains("threads") && !n.stderr.contains("does not support mpirun"), "\(n.stderr)")
    }
}
