import Core
import Foundation
import Testing
import TestSupport
@testable import Vision

/// Generated stand-ins for face photos (grey, ORL's aspect, a face-like blob per identity plus
/// texture) and folders of them, so the data tests need no installed model or data set.
enum DeepfakeFixtures {
    static func face(identity: Int, index: Int, width: Int = 46, height: Int = 56) -> Image {
        var rng = SplitMix64(seed: UInt64(identity * 100 + index))
        var img = Image(width: width, height: height, channels: 1)
        let skin = 110 + 12 * (identity % 5)
        for y in 0..<height {
            for x in 0..<width {
                let dx = (Double(x) - 0.5 * Double(width)) / (0.32 * Double(width))
                let dy = (Double(y) - 0.55 * Double(height)) / (0.38 * Double(height))
                let inside = dx * dx + dy * dy < 1
                let eye = abs(Double(y) - 0.45 * Double(height)) < 2 && abs(abs(Double(x) - 0.5 * Double(width)) - 0.15 * Double(width) - Double(identity % 3)) < 2
                var v = inside ? skin : 40 + (x + y) % 20
                if eye { v = 30 }
                img[y, x, 0] = UInt8(max(0, min(255, v + Int(rng.next() % 17) - 8)))
            }
        }
        return img
    }

    /// `root/<sN>/<k>.png`: `identities` people × `perIdentity` images.
    static func faceFolder(identities: Int, perIdentity: Int) throws -> URL {
        let root = try TestPaths.temporaryDirectory()
        for p in 1...identities {
            let dir = root.appendingPathComponent("s\(p)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            for k in 1...perIdentity { try PNGCodec.write(face(identity: p, index: k), to: dir.appendingPathComponent("\(k).png")) }
        }
        return root
    }
}

@Suite("Deepfake data: Poisson solver, JPEG, manipulations, data set")
struct DeepfakeDataTests {
    @Test("Poisson blending solves a hand-worked two-unknown system exactly")
    func poissonHandCase() throws {
        // 4×3 image, Ω = {(1,1), (1,2)}. Target neighbours of p1 = (y1,x1): (0,1)=10, (2,1)=20,
        // (1,0)=30 → 60; of p2 = (1,2): (0,2)=40, (2,2)=50, (1,3)=60 → 150. Source 0 except
        // s(p1) = 8, so guidance sums are 4·8 = 32 at p1 and −8 at p2. By hand:
        //   4 f1 − f2 = 92, −f1 + 4 f2 = 142  ⇒  f1 = (4·92 + 142)/15 = 34, f2 = (92 + 4·142)/15 = 44.
        var target = Image(width: 4, height: 3, channels: 1, fill: 0)
        target[0, 1, 0] = 10; target[2, 1, 0] = 20; target[1, 0, 0] = 30
        target[0, 2, 0] = 40; target[2, 2, 0] = 50; target[1, 3, 0] = 60
        target[1, 1, 0] = 200; target[1, 2, 0] = 200   // overwritten inside Ω
        var source = Image(width: 4, height: 3, channels: 1, fill: 0)
        source[1, 1, 0] = 8
        var mask = [Float](repeating: 0, count: 12)
        mask[1 * 4 + 1] = 1; mask[1 * 4 + 2] = 1
        let (out, report) = try PoissonBlending.blend(source: source, target: target, mask: mask, tolerance: 1e-12)
        #expect(report.regionPixels == 2)
        #expect(out[1, 1, 0] == 34)
        #expect(out[1, 2, 0] == 44)
        // Outside Ω nothing changes.
        for i in 0..<12 where mask[i] == 0 { #expect(out.pixels[i] == target.pixels[i]) }
    }

    @Test("Poisson blending: constant source gives the harmonic (here linear) fill; source = target + c reproduces the target")
    func poissonProperties() throws {
        let w = 20, h = 16
        var target = Image(width: w, height: h, channels: 1)
        for y in 0..<h { for x in 0..<w { target[y, x, 0] = UInt8(2 * x + 3 * y + 10) } }
        let mask = FaceManipulations.FaceEllipse(centerX: 10, centerY: 8, radiusX: 7, radiusY: 6).mask(width: w, height: h, feather: 0)
        // A linear function is harmonic, so with zero guidance the Dirichlet solution is the plane itself.
        let flat = Image(width: w, height: h, channels: 1, fill: 77)
        let (a, report) = try PoissonBlending.blend(source: flat, target: target, mask: mask, tolerance: 1e-10)
        #expect(report.regionPixels > 50)
        #expect(a.pixels == target.pixels)
        // The guidance of target + 20 is the target's own gradient: the result is the target again.
        var shifted = target
        for i in shifted.pixels.indices { shifted.pixels[i] += 20 }
        let (b, _) = try PoissonBlending.blend(source: shifted, target: target, mask: mask, tolerance: 1e-10)
        #expect(b.pixels == target.pixels)
        // Mixed guidance keeps the stronger gradient per edge: against a flat source that is the
        // target's own gradient everywhere, so the target comes back unchanged (not the plane fill
        // of pure source guidance, which would also equal it here — so use a non-harmonic target).
        var bumpy = target
        for y in 0..<h { for x in 0..<w { bumpy[y, x, 0] = UInt8((x * x + 3 * y) % 97 + 50) } }
        let (c, _) = try PoissonBlending.blend(source: flat, target: bumpy, mask: mask, guidance: .mixed, tolerance: 1e-10)
        #expect(c.pixels == bumpy.pixels)
        let (d, _) = try PoissonBlending.blend(source: flat, target: bumpy, mask: mask, guidance: .source, tolerance: 1e-10)
        #expect(d.pixels != bumpy.pixels)   // pure source guidance smooths the non-harmonic target away
        // Mismatched sizes are a clear error.
        #expect(throws: DatasetError.self) { try PoissonBlending.blend(source: Image(width: 3, height: 3, channels: 1), target: target, mask: mask) }
    }

    @Test("conjugate gradients match Gaussian elimination on a 2-D Laplacian system")
    func conjugateGradient() {
        // 6×5 grid Laplacian + 0.1·I (SPD), random right side; reference by dense elimination.
        let gw = 6, gh = 5, n = gw * gh
        var a = SparseMatrix(size: n)
        var dense = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        for y in 0..<gh {
            for x in 0..<gw {
                let i = y * gw + x
                var row: [(column: Int, value: Double)] = [(i, 4.1)]
                dense[i][i] = 4.1
                for (dy, dx) in [(-1, 0), (1, 0), (0, -1), (0, 1)] {
                    let yy = y + dy, xx = x + dx
                    if yy >= 0 && yy < gh && xx >= 0 && xx < gw { row.append((yy * gw + xx, -1)); dense[i][yy * gw + xx] = -1 }
                }
                a.appendRow(row)
            }
        }
        var rng = SplitMix64(seed: 3)
        let b = (0..<n).map { _ in Double(rng.nextUnitFloat()) * 2 - 1 }
        let cg = ConjugateGradient.solve(a, b, tolerance: 1e-12)
        #expect(cg.converged)
        // Gaussian elimination with partial pivoting.
        var m = dense, r = b
        for k in 0..<n {
            let p = (k..<n).max { abs(m[$0][k]) < abs(m[$1][k]) }!
            m.swapAt(k, p); r.swapAt(k, p)
            for i in (k + 1)..<n {
                let f = m[i][k] / m[k][k]
                for j in k..<n { m[i][j] -= f * m[k][j] }
                r[i] -= f * r[k]
            }
        }
        var x = [Double](repeating: 0, count: n)
        for i in stride(from: n - 1, through: 0, by: -1) {
            x[i] = (r[i] - ((i + 1)..<n).reduce(0.0) { $0 + m[i][$1] * x[$1] }) / m[i][i]
        }
        let worst = zip(cg.solution, x).map { abs($0 - $1) }.max()!
        #expect(worst < 1e-9)
    }

    @Test("JPEG encoder: a valid JPEG that decodes to the same size; higher quality is closer")
    func jpeg() throws {
        let face = DeepfakeFixtures.face(identity: 2, index: 1)
        let bytes = try JPEGEncoder.encode(face, quality: 90)
        #expect(bytes.prefix(2) == Data([0xFF, 0xD8]))
        func meanError(_ q: Int) throws -> Double {
            let back = try JPEGEncoder.roundTrip(face, quality: q)
            #expect(back.width == face.width && back.height == face.height && back.channels == 1)
            return zip(back.pixels, face.pixels).reduce(0.0) { $0 + abs(Double($1.0) - Double($1.1)) } / Double(face.pixels.count)
        }
        let e95 = try meanError(95), e20 = try meanError(20)
        #expect(e95 < e20)
        #expect(e95 < 4)
        let rgb = try JPEGEncoder.roundTrip(face.rgb(), quality: 80)
        #expect(rgb.channels == 3)
        #expect(throws: DatasetError.self) { try JPEGEncoder.encode(face, quality: 0) }
    }

    @Test("manipulations: seeded, same size, and each changes what it should")
    func manipulations() throws {
        let a = DeepfakeFixtures.face(identity: 1, index: 1), b = DeepfakeFixtures.face(identity: 4, index: 2)
        let region = FaceManipulations.FaceEllipse.standard(width: a.width, height: a.height)
        for family in ManipulationFamily.allCases {
            var r1 = SplitMix64(seed: 5), r2 = SplitMix64(seed: 5)
            let f1 = try FaceManipulations.apply(family, to: a, donor: b, using: &r1)
            let f2 = try FaceManipulations.apply(family, to: a, donor: b, using: &r2)
            #expect(f1 == f2, "\(family) is not deterministic for a fixed seed")
            #expect(f1.width == a.width && f1.height == a.height && f1.channels == a.channels)
            #expect(f1.pixels != a.pixels, "\(family) changed nothing")
        }
        // The swap only touches pixels inside the (jittered, ≤ 1.1× larger) face ellipse.
        var rng = SplitMix64(seed: 9)
        let swapped = try FaceManipulations.faceSwap(target: a, donor: b, using: &rng)
        let big = FaceManipulations.FaceEllipse(centerX: region.centerX, centerY: region.centerY,
                                                radiusX: region.radiusX * 1.3, radiusY: region.radiusY * 1.3).mask(width: a.width, height: a.height, feather: 0)
        for i in 0..<(a.width * a.height) where big[i] == 0 { #expect(swapped.pixels[i] == a.pixels[i]) }
        // The splice changes pixels only inside one axis-aligned rectangle.
        rng = SplitMix64(seed: 11)
        let spliced = try FaceManipulations.splice(a, donor: b, using: &rng)
        let changed = (0..<(a.width * a.height)).filter { spliced.pixels[$0] != a.pixels[$0] }
        let xs = changed.map { $0 % a.width }, ys = changed.map { $0 / a.width }
        let box = (xs.max()! - xs.min()! + 1) * (ys.max()! - ys.min()! + 1)
        #expect(box <= Int(0.35 * Double(a.width) + 1) * Int(0.3 * Double(a.height) + 1))
        // Swap and splice need a donor.
        var r = SplitMix64(seed: 1)
        #expect(throws: DatasetError.self) { try FaceManipulations.apply(.swap, to: a, donor: nil, using: &r) }
    }

    @Test("colour matching gives the target's mean and spread inside the mask")
    func colorMatching() {
        let a = DeepfakeFixtures.face(identity: 1, index: 1), b = DeepfakeFixtures.face(identity: 3, index: 1)
        let mask = FaceManipulations.FaceEllipse.standard(width: a.width, height: a.height).mask(width: a.width, height: a.height, feather: 0)
        let m = FaceManipulations.colorMatched(b, to: a, mask: mask)
        func stats(_ img: Image) -> (Double, Double) {
            let v = (0..<mask.count).filter { mask[$0] > 0.5 }.map { Double(img.pixels[$0]) }
            let mean = v.reduce(0, +) / Double(v.count)
            return (mean, (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count)).squareRoot())
        }
        let (ma, sa) = stats(a), (mm, sm) = stats(m)
        #expect(abs(ma - mm) < 0.6)   // rounding to bytes moves the mean by < 0.5
        #expect(abs(sa - sm) < 0.6)
    }

    @Test("build-data: identity split before manipulating, donors from the same split, honest manifest")
    func buildSet() throws {
        let faces = try FaceDataset(root: try DeepfakeFixtures.faceFolder(identities: 6, perIdentity: 2))
        let out = try TestPaths.temporaryDirectory()
        var o = SyntheticManipulationSet.Options()
        o.trainIdentities = 4
        let m = try SyntheticManipulationSet.build(faces: faces, out: out, options: o, credit: "generated")
        #expect(m.name == "synthetic face manipulations of real photos")
        #expect(m.realCounts == ["train": 8, "test": 4])
        #expect(m.fakes.count == 12 * 4)
        let trainIds: Set<String> = ["s1", "s2", "s3", "s4"]
        for f in m.fakes {
            let srcId = String(f.source.split(separator: "/").last!.split(separator: "_")[0])
            #expect(trainIds.contains(srcId) == (f.split == "train"))
            if let d = f.donor {
                let donorId = String(d.split(separator: "_")[0])
                #expect(donorId != srcId)
                #expect(trainIds.contains(donorId) == (f.split == "train"))
            }
        }
        let train = try DeepfakeData(root: out.appendingPathComponent("train"))
        #expect(train.reals.count == 8 && train.fakes.count == 32)
        #expect(train.families == ["recompress", "sbi", "splice", "swap"])
        let kept = try train.keeping(families: ["swap"])
        #expect(kept.fakes.count == 8 && kept.reals.count == 8)
        #expect(throws: DatasetError.self) { try train.keeping(families: ["gan"]) }
        // Too few identities for two splits.
        #expect(throws: DatasetError.self) {
            var bad = o
            bad.trainIdentities = 5
            try SyntheticManipulationSet.build(faces: faces, out: out, options: bad)
        }
    }

    @Test("data folders: files directly in fake/, an empty fake folder and a missing folder give clear errors")
    func dataFolders() throws {
        let root = try TestPaths.temporaryDirectory()
        let fm = FileManager.default
        try fm.createDirectory(at: root.appendingPathComponent("real"), withIntermediateDirectories: true)
        try fm.createDirectory(at: root.appendingPathComponent("fake/empty-family"), withIntermediateDirectories: true)
        try PNGCodec.write(DeepfakeFixtures.face(identity: 1, index: 1), to: root.appendingPathComponent("real/a.png"))
        try PNGCodec.write(DeepfakeFixtures.face(identity: 1, index: 1).rgb(), to: root.appendingPathComponent("real/b.png"))
        try Data("x".utf8).write(to: root.appendingPathComponent("real/notes.txt"))
        do {
            _ = try DeepfakeData(root: root)
            Issue.record("an empty fake folder was accepted")
        } catch let e as DatasetError {
            #expect(e.message.contains("no fake images"))
        }
        try PNGCodec.write(DeepfakeFixtures.face(identity: 2, index: 1), to: root.appendingPathComponent("fake/c.png"))
        let d = try DeepfakeData(root: root)
        #expect(d.reals.count == 2 && d.fakes.map(\.family) == ["fake"])
        #expect(d.warnings.contains { $0.contains("notes.txt") })
        #expect(d.warnings.contains { $0.contains("empty-family") })
        #expect(throws: DatasetError.self) { try DeepfakeData(root: root.appendingPathComponent("nope")) }
    }
}
