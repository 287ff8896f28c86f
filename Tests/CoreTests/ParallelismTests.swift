import Core
import Foundation
import Testing

/// `Parallelism.workers`: `PEFTKIT_THREADS` when it is a positive integer, otherwise the CPUs in
/// this process's affinity mask (what `taskset`/`mpirun --bind-to core` restrict).
@Suite struct ParallelismTests {
    @Test("PEFTKIT_THREADS wins when it is a positive integer; otherwise the affinity count")
    func environmentOverride() {
        let cpus = Parallelism.affinityCPUCount()
        #expect(Parallelism.defaultWorkers(environment: ["PEFTKIT_THREADS": "3"]) == 3)
        #expect(Parallelism.defaultWorkers(environment: ["PEFTKIT_THREADS": " 12 "]) == 12)
        for bad in ["0", "-2", "two", ""] {
            #expect(Parallelism.defaultWorkers(environment: ["PEFTKIT_THREADS": bad]) == cpus, "PEFTKIT_THREADS=\(bad)")
        }
        #expect(Parallelism.defaultWorkers(environment: [:]) == cpus)
    }

    /// The mask can only hold CPUs the machine has; under `taskset -c 0` (checked by hand with
    /// this suite: `taskset -c 0 swift test … --filter ParallelismTests` prints 1) it is 1 while
    /// `activeProcessorCount` still says all of them.
    @Test("the affinity count is between 1 and the processor count")
    func affinityCount() {
        let cpus = Parallelism.affinityCPUCount()
        print("ParallelismTests: \(cpus) CPU(s) in the affinity mask, activeProcessorCount \(ProcessInfo.processInfo.activeProcessorCount), workers \(Parallelism.workers)")
        #expect(cpus >= 1 && cpus <= ProcessInfo.processInfo.processorCount)
    }
}
