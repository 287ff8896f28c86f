import Core
import Foundation
import Testing
import TestSupport
@testable import Vision

/// LeakSanitizer (fifth session) reported every `ChangeDetectionNetwork` the tests built as leaked:
/// the network held its `PeftModel` and the `PeftModel` held the network as its base. A long-running
/// process (a server predicting tile after tile, a sweep) would have kept every model it made.
@Suite("ChangeDetection lifetime")
struct ChangeDetectionLifetimeTests {
    @Test(arguments: [ChangePEFTMode.lora, .adapter, .frozen])
    func networkIsFreedWhenItsLastOwnerGoes(_ mode: ChangePEFTMode) throws {
        weak var seen: ChangeDetectionNetwork?
        weak var seenPeft: PeftModel?
        try {
            let net = try ChangeDetectionNetwork(backbone: try tinyChangeBackbone(), options: tinyChangeOptions(mode))
            #expect(net.peft != nil)
            seen = net
            seenPeft = net.peft
        }()
        #expect(seen == nil, "the network outlived its last owner (reference cycle)")
        #expect(seenPeft == nil)
    }
}
