import Testing
@testable import Core

/// `ModelRandomState` must find dropout generators wherever a model keeps its layers: an
/// imported graph (SFace) holds them in an array of step structs whose enum payloads are the
/// layers, and some models keep layers in dictionaries. Before, both were skipped, so a
/// face-adapt checkpoint held no generator and a resumed run with LoRA dropout diverged.
@Suite("Random-state walk")
struct RandomStateWalkTests {
    enum Operation { case layer(Dropout), identity }
    struct Step { let name: String; let operation: Operation }

    final class GraphModel: Module {
        let steps: [Step]
        let byName: [String: Dropout]
        override init() {
            steps = [Step(name: "a", operation: .layer(Dropout(p: 0.1, seed: 1))), Step(name: "b", operation: .identity),
                     Step(name: "c", operation: .layer(Dropout(p: 0.1, seed: 2)))]
            byName = ["z": Dropout(p: 0.1, seed: 3), "y": Dropout(p: 0.1, seed: 4)]
            super.init()
        }
    }

    @Test func findsGeneratorsInStructArraysEnumPayloadsAndDictionaries() throws {
        let m = GraphModel()
        let keys = ModelRandomState.carriers(of: m).map(\.key)
        #expect(keys.count == 4, "\(keys)")
        #expect(keys.contains("steps.0.operation.layer") && keys.contains("steps.2.operation.layer"), "\(keys)")
        #expect(keys.contains("byName.y") && keys.contains("byName.z"), "\(keys)")
        // Capture, advance every generator, restore: the states come back exactly.
        let saved = ModelRandomState.capture(m)
        for (_, c) in ModelRandomState.carriers(of: m) { var s = c.randomStreams; _ = s[0].next(); c.randomStreams = s }
        #expect(ModelRandomState.capture(m) != saved)
        try ModelRandomState.restore(saved, into: m)
        #expect(ModelRandomState.capture(m) == saved)
    }
}
