import Testing
@Suite struct AudioPlaceholderBuild { @Test func moduleLinks() { #expect(Bool(true)) } }
