import Core
import Foundation
import Testing
import TestSupport
@testable import Text

/// Opt-in comparison with Python transformers (torch is not on CI): set
/// `PEFTKIT_DAPT_PEER=<dir>` where `<dir>/hf.safetensors` holds `input_ids`, `attention_mask` and
/// `last_hidden_state` computed by `AutoModel.from_pretrained(<exported folder>)`, and
/// `PEFTKIT_DAPT_FOLDER=<exported folder>`. Skipped otherwise.
@Suite struct DAPTPeerCheckTests {
    static let peer = ProcessInfo.processInfo.environment["PEFTKIT_DAPT_PEER"]
    static let folder = ProcessInfo.processInfo.environment["PEFTKIT_DAPT_FOLDER"]

    @Test(.enabled(if: peer != nil && folder != nil))
    func exportedFolderMatchesTransformers() throws {
        let io = try FixtureTensors.load(URL(fileURLWithPath: Self.peer!).appendingPathComponent("hf.safetensors"))
        let ids = try #require(io["input_ids"]), mask = try #require(io["attention_mask"])
        let input = try BertInput(inputIDs: ids.storage.map { Int($0) }, batch: ids.shape[0], length: ids.shape[1],
                                  attentionMask: mask.storage.map { Int($0) })
        let (model, _) = try BertModel.load(folder: Self.folder!)
        model.eval()
        let h = try withoutGrad { try model(input).lastHiddenState }
        let expected = try #require(io["last_hidden_state"])
        print("DAPT peer check: max |PEFTKit − transformers| = \(maxAbsDifference(h, expected) ?? .infinity)")
        #expect(allClose(h, expected, atol: 1e-4, rtol: 0), "\(differenceReport(h, expected))")
    }
}
