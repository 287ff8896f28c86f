import Testing
@Suite struct TextPlaceholderBuild { @Test func moduleLinks() { #expect(Bool(true)) } }
