import Foundation
import Testing
import Core
import TestSupport
@testable import Vision

/// The frozen-SFace low-resolution baseline on all of ORL (issue 12's table): gallery = image 1
/// of each person, 360 probes. Minutes of compute on this machine, so it runs only with
/// `PEFTKIT_FACE_BASELINE=1` (`PEFTKIT_FACE_DEGRADE_CROP=1` degrades the 92 px crop instead of
/// the 112 px input; `PEFTKIT_FACE_SIZES=16,12` picks probe sizes, 0 = full). It prints the rows
/// and compares rank-1 with onnxruntime on the same pipeline (Resources/face_baseline_onnxruntime.py).
///
/// The row (0.919 / 0.917 / 0.786 / 0.531 / 0.175 at full / 32 / 16 / 12 / 8 px) does not come out
/// of the stated pipeline: onnxruntime itself gives 0.919 / 0.917 / 0.756 / 0.494 / 0.153 there (ours:
/// 0.756 at 16 px, the same number of probes right). Other resamplers tried with onnxruntime at 16 px: uint8
/// OpenCV throughout 0.761, degrading the 92-px crop 0.747–0.753, bicubic upsampling 0.794–0.800 (12 px
/// 0.58–0.61, 8 px 0.19–0.20), antialiased-bilinear or plain-bilinear shrinking 0.692–0.694, nearest 0.025,
/// upsampling in two steps (S → 92 → 112) 0.767, degrading the whole 92×112 photo before cropping 0.683.
@Suite struct FaceBaselineTests {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["PEFTKIT_FACE_BASELINE"] == "1"))
    func frozenSFaceRankOneRow() throws {
        let env = ProcessInfo.processInfo.environment
        let model = try SFaceModel.load(onnx: SFaceModel.defaultFile(models: TestPaths.models))
        model.eval()
        let reference: [Int: Double] = [0: 0.919, 32: 0.917, 16: 0.756, 12: 0.494, 8: 0.153]
        let sizes = (env["PEFTKIT_FACE_SIZES"] ?? "0,32,16,12,8").split(separator: ",").compactMap { Int($0) }
        var bench = LowResolutionBenchmark(dataset: try FaceDataset.orl(models: TestPaths.models))
        bench.degradeCrop = env["PEFTKIT_FACE_DEGRADE_CROP"] == "1"
        let start = Date()
        let rows = try bench.run(model: model, probeSizes: sizes.map { $0 == 0 ? nil : $0 })
        for r in rows {
            let e = reference[r.probeSize ?? 0] ?? .nan
            print(String(format: "ORL SFace degradeCrop=%@ probe %@: rank-1 %.3f (onnxruntime %.3f) rank-5 %.3f TAR@FAR1%% %.3f TAR@FAR10%% %.3f",
                         "\(bench.degradeCrop)", r.probeSize.map { "\($0) px" } ?? "full", r.rank1, e, r.rank5, r.tarAtFar1 ?? -1, r.tarAtFar10 ?? -1))
            // Within two of 360 probes (near-ties can flip between float32 implementations).
            #expect(abs(r.rank1 - e) <= 0.006, "probe \(r.probeSize ?? 0): \(r.rank1) vs \(e)")
        }
        print("ORL SFace baseline took \(Date().timeIntervalSince(start)) s")
    }
}
