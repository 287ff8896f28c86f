import Testing
@Suite struct VisionPlaceholderBuild { @Test func moduleLinks() { #expect(Bool(true)) } }
