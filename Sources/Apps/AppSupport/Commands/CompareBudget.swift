import Core
import Foundation

/// Fitting `compare --budget Nmin`: a wall-clock budget for the whole comparison.
///
/// Each method gets an equal share of the minutes (split again over the seeds). Training
/// time per step is measured with short probe runs (2 steps, or 1 epoch in apps that count
/// epochs): a native method once; an adapter method at its smallest and at its largest
/// size. Time is then taken as linear in the trainable-parameter count between (and beyond)
/// the two probes — the cost of an adapter step is the frozen model's work plus a part
/// proportional to the adapter — and the method runs at the largest size predicted to fit.
/// A method whose smallest configuration is predicted not to fit is skipped with a note
/// stating the prediction. Probe time is not charged to the budget (it is reported in the
/// notes), and the table shows the measured times, so the fit can be checked.
enum CompareBudget {
    struct Plan {
        /// Chosen size per method that fits (0 for native methods); absent methods were skipped.
        var sizes: [String: Int] = [:]
        var notes: [String] = []
    }

    /// Seconds one step takes, measured by a probe run of `probeSteps`.
    static func secondsPerStep(_ task: CompareTask, method: String, size: Int?, seed: UInt64, probeSteps: Int,
                               log: (String) -> Void) throws -> Double {
        let run: CompareRun
        if let size {
            run = try task.run(try Compare.config(method, size: size, targets: task.targets, seed: seed), seed: seed, steps: probeSteps, log: log)
        } else {
            run = try task.runNative(method, seed: seed, steps: probeSteps, log: log)
        }
        return Swift.max(run.trainSeconds, 0) / Double(probeSteps)
    }

    static func plan(_ task: CompareTask, _ o: CompareOptions, minutes: Double, log: (String) -> Void) throws -> Plan {
        var plan = Plan()
        let perRun = minutes * 60 / Double(o.methods.count * o.seeds.count)
        let probeSteps = Swift.max(1, Swift.min(o.steps, task.stepsName == "steps" ? 2 : 1))
        let seed = o.seeds[0]
        var probeSeconds = 0.0
        func fmt(_ s: Double) -> String { String(format: "%.1f s", s) }
        for m in o.methods {
            let started = Date()
            defer { probeSeconds += Date().timeIntervalSince(started) }
            if task.nativeMethods.contains(m) {
                let predicted = try secondsPerStep(task, method: m, size: nil, seed: seed, probeSteps: probeSteps, log: log) * Double(o.steps)
                if predicted <= perRun { plan.sizes[m] = 0 } else {
                    plan.notes.append("\(m): skipped — predicted \(fmt(predicted)) per run, above its share of \(fmt(perRun)) of the \(minutes)-minute budget")
                }
                continue
            }
            let candidates = Compare.sizes(m).compactMap { s in Compare.trainable(m, size: s, task: task).map { (size: s, params: $0) } }
            guard let small = candidates.first, let large = candidates.last else {
                plan.notes.append("\(m): skipped — no size of it fits this model")
                continue
            }
            let t0 = try secondsPerStep(task, method: m, size: small.size, seed: seed, probeSteps: probeSteps, log: log)
            let predictedSmall = t0 * Double(o.steps)
            guard predictedSmall <= perRun else {
                plan.notes.append("\(m): skipped — even size \(small.size) is predicted to take \(fmt(predictedSmall)) per run, above its share of \(fmt(perRun)) of the \(minutes)-minute budget")
                continue
            }
            var slope = 0.0
            if large.params > small.params {
                let t1 = try secondsPerStep(task, method: m, size: large.size, seed: seed, probeSteps: probeSteps, log: log)
                slope = Swift.max(0, t1 - t0) / Double(large.params - small.params)
            }
            let fitting = candidates.filter { (t0 + slope * Double($0.params - small.params)) * Double(o.steps) <= perRun }
            plan.sizes[m] = fitting.last?.size ?? small.size
            log("compare: \(m) at size \(plan.sizes[m]!) fits \(fmt(perRun)) per run (probes: \(String(format: "%.4f", t0)) s/step at size \(small.size))")
        }
        plan.notes.append("time budget: \(fmt(perRun)) per run (\(minutes) min over \(o.methods.count) method(s) × \(o.seeds.count) seed(s)); probes took \(fmt(probeSeconds))")
        return plan
    }
}
