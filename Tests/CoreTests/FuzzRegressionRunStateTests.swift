import Foundation
import Testing
import TestSupport
@testable import Core

/// Training checkpoints from strangers (fuzz target `training-checkpoint`): a damaged or planted
/// file given to `--resume` must be refused with a message naming it, never trap.
@Suite("Fuzz regressions (training checkpoints)")
struct RunStateFuzzRegressionTests {
    /// AdamW read its step count with `Int(Float)`, which traps on NaN, infinities and values
    /// of 2^63 or more; a fractional or negative count is no optimizer's either.
    @Test func adamWStepThatIsNoCountIsAnError() throws {
        let w = Tensor([1, 2], shape: [2])
        for bad: Float in [.nan, .infinity, -.infinity, 1e30, -1, 2.5] {
            #expect(throws: OptimizerError.badStateValue(key: "w.step", value: "\(bad)")) {
                try AdamW().loadStateDict(["w.step": Tensor(scalar: bad)], for: [("w", w)])
            }
        }
        // What AdamW itself writes still loads.
        try AdamW().loadStateDict(["w.step": Tensor(scalar: 3), "w.exp_avg": Tensor([0, 0], shape: [2])], for: [("w", w)])
    }

    /// A checkpoint of the right run whose optimizer step is NaN: `resume` names the file.
    @Test func resumeFromACheckpointWithANaNStepNamesTheFile() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (session, _) = try tinySession()
        var ckpt = TrainingCheckpoint(command: "t", position: TrainingPosition(step: 1), config: ["r": "2"], baseModel: session.baseModel,
                                      randomStates: [[:]], parameters: Dictionary(uniqueKeysWithValues: session.parameters),
                                      optimizer: ["lin.weight.step": Tensor(scalar: .nan)])
        try ckpt.write(to: dir)
        let file = dir.appendingPathComponent(TrainingCheckpoint.fileName).path
        do {
            _ = try session.resume(from: dir)
            Issue.record("a NaN step was accepted")
        } catch {
            #expect("\(error)".contains(file) && "\(error)".contains("nan"), "\(error)")
        }
        // The same checkpoint with a real step resumes.
        ckpt.optimizer = ["lin.weight.step": Tensor(scalar: 1)]
        try ckpt.write(to: dir)
        #expect(try session.resume(from: dir).position.step == 1)
    }

    /// The trainers loop `epoch..<last` and `batchInEpoch..<steps` from a checkpoint's position:
    /// a negative or zero value used to reach those ranges and trap.
    @Test func impossiblePositionsAreRefusedWhenRead() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for p in [TrainingPosition(step: -1), TrainingPosition(step: 1, epoch: 0), TrainingPosition(step: 1, epoch: 1, batchInEpoch: -5)] {
            try TrainingCheckpoint(command: "t", position: p, config: [:], baseModel: "0", randomStates: [[:]], parameters: [:], optimizer: [:])
                .write(to: dir)
            do {
                _ = try TrainingCheckpoint.read(from: dir)
                Issue.record("position \(p) was accepted")
            } catch {
                #expect("\(error)".contains(TrainingCheckpoint.fileName) && "\(error)".contains("impossible position"), "\(error)")
            }
        }
    }

    private final class Tiny: Module {
        let lin: Linear
        init(seed: UInt64) throws {
            lin = try Linear(inFeatures: 2, outFeatures: 2, bias: false, at: WeightStore.random(seed: seed).root.pp("lin"))
            super.init()
        }
        override func namedChildren() -> [(String, Module)] { [("lin", lin)] }
    }

    private func tinySession() throws -> (TrainingSession, Tiny) {
        let m = try Tiny(seed: 3)
        return (try TrainingSession(command: "t", model: m, parameters: m.trainableParameters(), optimizer: AdamW(), config: ["r": "2"],
                                    folder: nil, every: 0), m)
    }
}
