import Testing
@Suite struct AppsPlaceholderBuild { @Test func moduleLinks() { #expect(Bool(true)) } }
