import Core
import Foundation
import Testing
@testable import Vision

/// Geometry and tensor conversion. Expected sizes and offsets are hand-worked from
/// torchvision's `_compute_resized_output_size`, `center_crop` and `RandomResizedCrop.get_params`
/// and from transformers' `image_transforms.center_crop` (formulas quoted per test).
@Suite struct TransformTests {
    @Test func shorterSideSizesFollowTorchvision() {
        // int(224 * 500 / 375) = int(298.67) = 298
        #expect(Image.shorterSideSize(width: 500, height: 375, size: 224) == (298, 224))
        #expect(Image.shorterSideSize(width: 375, height: 500, size: 224) == (224, 298))
        #expect(Image.shorterSideSize(width: 28, height: 28, size: 224) == (224, 224))
        // max_size: long int(50*1000/100)=500 > 200 → short int(200*50/500)=20, long 200
        #expect(Image.shorterSideSize(width: 1000, height: 100, size: 50, maxSize: 200) == (200, 20))
        let img = ResampleTests.pattern(width: 50, height: 37, channels: 3).resizedShorterSide(to: 24, interpolation: .bicubic)
        #expect((img.width, img.height) == (32, 24))   // int(24*50/37) = int(32.43) = 32
    }

    @Test func centerCropOffsetsBothConventions() {
        // torchvision: round((size - crop) / 2) with ties to even; crop > size: -((crop - size) // 2)
        // transformers: (size - crop) // 2 (floor), also when negative
        let cases: [(size: Int, crop: Int, tv: Int, hf: Int)] = [
            (10, 7, 2, 1),   // 1.5 → 2 ; 3 // 2 = 1
            (9, 8, 0, 0),    // 0.5 → 0
            (11, 4, 4, 3),   // 3.5 → 4
            (12, 4, 4, 4),
            (5, 8, -1, -2),  // pad 3: torchvision puts 1 before, HF 2
            (5, 6, 0, -1),
        ]
        for c in cases {
            #expect(CropRounding.torchvision.offset(size: c.size, crop: c.crop) == c.tv, "\(c)")
            #expect(CropRounding.huggingFace.offset(size: c.size, crop: c.crop) == c.hf, "\(c)")
        }
        let img = ResampleTests.pattern(width: 10, height: 5, channels: 1)
        let tv = img.centerCropped(height: 8, width: 7)        // top -1 (padding row), left 2
        #expect(tv.pixels[0..<7].allSatisfy { $0 == 0 })
        #expect(tv[1, 0, 0] == img[0, 2, 0] && tv[5, 6, 0] == img[4, 8, 0])
        #expect(tv.pixels[(6 * 7)...].allSatisfy { $0 == 0 })  // rows 6, 7 are padding
        let hf = img.centerCropped(height: 8, width: 7, rounding: .huggingFace)   // top -2, left 1
        #expect(hf[2, 0, 0] == img[0, 1, 0] && hf[1, 3, 0] == 0)
    }

    @Test func flipAndCropAreExact() {
        let img = ResampleTests.pattern(width: 5, height: 3, channels: 3)
        let f = img.flippedHorizontally()
        for y in 0..<3 { for x in 0..<5 { for c in 0..<3 { #expect(f[y, x, c] == img[y, 4 - x, c]) } } }
        #expect(f.flippedHorizontally() == img)
        let c = img.cropped(top: 1, left: 2, height: 2, width: 3)
        #expect(c[0, 0, 1] == img[1, 2, 1] && c[1, 2, 2] == img[2, 4, 2])
    }

    @Test func randomResizedCropBoxesRespectTheRanges() {
        let crop = RandomResizedCrop(size: 32)
        var rng = SplitMix64(seed: 11)
        for _ in 0..<500 {
            let b = crop.box(imageWidth: 120, imageHeight: 90, using: &rng)
            #expect(b.top >= 0 && b.left >= 0 && b.top + b.height <= 90 && b.left + b.width <= 120)
            let area = Double(b.width * b.height) / (120.0 * 90.0)
            // Rounding w and h to integers can move the area and ratio slightly past the ranges.
            #expect(area > 0.07 && area <= 1.0, "area fraction \(area)")
            let ratio = Double(b.width) / Double(b.height)
            #expect(ratio > 0.70 && ratio < 1.40, "ratio \(ratio)")
        }
        var a = SplitMix64(seed: 5), b = SplitMix64(seed: 5)
        let img = ResampleTests.pattern(width: 64, height: 48, channels: 3)
        let x = crop(img, using: &a), y = crop(img, using: &b)
        #expect(x == y && x.width == 32 && x.height == 32)
    }

    @Test func randomResizedCropFallsBackToClampedCenterBox() {
        // A scale range above 1 can never fit, so all ten attempts fail and torchvision's fallback runs:
        // 100x10 (ratio 10 > 4/3): h = 10, w = round(10 * 4/3) = 13, top 0, left (100 - 13) // 2 = 43.
        let crop = RandomResizedCrop(size: 8, scale: 2.0...3.0)
        var rng = SplitMix64(seed: 1)
        #expect(crop.box(imageWidth: 100, imageHeight: 10, using: &rng) == (0, 43, 10, 13))
        // 10x100 (ratio 0.1 < 3/4): w = 10, h = round(10 / 0.75) = 13, top (100 - 13) // 2 = 43.
        #expect(crop.box(imageWidth: 10, imageHeight: 100, using: &rng) == (43, 0, 13, 10))
        // Ratio inside the range: the whole image.
        #expect(crop.box(imageWidth: 40, imageHeight: 36, using: &rng) == (0, 0, 36, 40))
    }

    @Test func horizontalFlipProbabilityAndSeeding() {
        let img = ResampleTests.pattern(width: 4, height: 2, channels: 1)
        let flip = RandomHorizontalFlip()
        var rng = SplitMix64(seed: 3)
        let flips = (0..<2000).filter { _ in flip(img, using: &rng) != img }.count
        #expect(flips > 900 && flips < 1100, "\(flips) of 2000")   // binomial(2000, 0.5): ±4.5σ
        var never = SplitMix64(seed: 3)
        #expect(RandomHorizontalFlip(p: 0)(img, using: &never) == img)
        var randomIndexRNG = SplitMix64(seed: 9)
        var counts = [Int](repeating: 0, count: 3)
        for _ in 0..<3000 { counts[randomIndex(below: 3, using: &randomIndexRNG)] += 1 }
        #expect(counts.allSatisfy { $0 > 900 && $0 < 1100 }, "\(counts)")
    }

    @Test func toTensorIsPlanarAndNormalised() {
        let img = Image(width: 2, height: 1, channels: 3, pixels: [10, 20, 30, 255, 0, 60])
        let t = img.toTensor()
        #expect(t.shape == [3, 1, 2])
        let expected: [Float] = [10, 255, 20, 0, 30, 60].map { Float($0) / 255 }
        #expect(t.storage == expected)
        let n = img.toTensor(.imagenet)
        // (1 - 0.485) / 0.229 = 2.2489083 and (0 - 0.456) / 0.224 = -2.0357143
        #expect(abs(n.storage[1] - 2.2489083) < 1e-6 && abs(n.storage[3] - (-2.0357143)) < 1e-6)
        let batch = try? Image.batchTensor([img, img.flippedHorizontally()], .imagenet)
        #expect(batch?.shape == [2, 3, 1, 2] && Array(batch!.storage[0..<6]) == n.storage)
        let mixed = expectImageError { try Image.batchTensor([img, Image(width: 3, height: 1, channels: 3)]) }
        #expect(mixed?.problem.contains("image 1 is 3x1x3") == true)
    }

    @Test func clipPreprocessingMatchesPillowAndNumpy() {
        // Reference (Pillow 13 + numpy float32): pattern(50,37).resize((32,24), BICUBIC).crop((4,0,28,24)),
        // (x/255 - mean)/std with CLIP statistics, transposed to [C,H,W]:
        // float64 sum 320.68755812069867; first values -0.21563246846199036, -0.33241987228393555,
        // -0.2594277560710907, 0.09093456715345383; t[2,23,23] = 0.8376510739326477; t[1,5,7] = 0.4240293502807617
        let t = ImagePreprocessor.clip(size: 24)(ResampleTests.pattern(width: 50, height: 37, channels: 3))
        #expect(t.shape == [3, 24, 24])
        let s = t.storage
        #expect(Array(s[0..<4]) == [-0.21563246846199036, -0.33241987228393555, -0.2594277560710907, 0.09093456715345383].map { Float($0) })
        #expect(s[2 * 576 + 23 * 24 + 23] == Float(0.8376510739326477) && s[576 + 5 * 24 + 7] == Float(0.4240293502807617))
        #expect(abs(s.reduce(0.0) { $0 + Double($1) } - 320.68755812069867) < 1e-9)
    }

    @Test func presetsHaveTheModelFamilySettings() {
        let gray = Image(width: 300, height: 200, channels: 1, fill: 128)
        #expect(ImagePreprocessor.dinov2().geometry(gray).width == 224)
        #expect(ImagePreprocessor.dinov2().geometry(gray).channels == 3)
        #expect(ImagePreprocessor.vit().geometry(gray).height == 224)
        let aug = TrainAugmentation(size: 16, normalization: .clip)
        var rng = SplitMix64(seed: 2)
        #expect(aug(gray, using: &rng).shape == [3, 16, 16])
    }
}
