import Testing
@testable import AppSupport

/// The error `ner-tune args…` throws, as the one line the launcher prints (nil when it succeeds).
func nerTuneFailure(_ args: [String]) -> String? {
    do {
        _ = try NERTuneCommand.run(args)
        return nil
    } catch {
        return "\(error)"
    }
}

/// Expects `ner-tune args…` to fail with one line containing `text`.
func expectNERTuneFailure(_ args: [String], contains text: String, sourceLocation: SourceLocation = #_sourceLocation) {
    guard let message = nerTuneFailure(args) else {
        Issue.record("ner-tune \(args.joined(separator: " ")) should fail", sourceLocation: sourceLocation)
        return
    }
    #expect(message.contains(text), "got: \(message)", sourceLocation: sourceLocation)
    #expect(!message.contains("\n"), "not one line: \(message)", sourceLocation: sourceLocation)
}
