/// The TIFF compression schemes the reader handles, each bounded by the size the chunk must
/// decode to (a damaged or hostile stream cannot make them allocate more).
enum TIFFDecompress {
    /// TIFF LZW (compression 5): MSB-first codes of 9–12 bits, Clear = 256, EOI = 257, and the
    /// "early change" of width when the next free code reaches 511, 1023 and 2047 (TIFF 6.0 §13,
    /// as libtiff writes it).
    static func lzw(_ input: [UInt8], expected: Int, file: String) throws -> [UInt8] {
        var prefix = [Int](repeating: -1, count: 4096)
        var suffix = [UInt8](repeating: 0, count: 4096)
        var length = [Int](repeating: 0, count: 4096)
        var first = [UInt8](repeating: 0, count: 4096)
        for i in 0..<256 {
            suffix[i] = UInt8(i)
            length[i] = 1
            first[i] = UInt8(i)
        }
        var out = [UInt8]()
        out.reserveCapacity(expected)
        var next = 258, width = 9, old = -1
        var bitBuffer = 0, bitCount = 0, position = 0
        var scratch = [UInt8](repeating: 0, count: 4096)

        func emit(_ code: Int) {
            let n = length[code]
            var c = code
            for k in stride(from: n - 1, through: 0, by: -1) {
                scratch[k] = suffix[c]
                c = prefix[c]
            }
            out.append(contentsOf: scratch[0..<min(n, max(0, expected - out.count))])
        }

        while out.count < expected {
            while bitCount < width {
                guard position < input.count else { return out }  // ran out: the caller zero-pads
                bitBuffer = (bitBuffer << 8) | Int(input[position])
                position += 1
                bitCount += 8
            }
            let code = (bitBuffer >> (bitCount - width)) & ((1 << width) - 1)
            bitCount -= width
            bitBuffer &= (1 << bitCount) - 1
            if code == 257 { break }
            if code == 256 {
                next = 258
                width = 9
                old = -1
                continue
            }
            if old == -1 {
                guard code < 256 else {
                    throw ImageError(.corrupt, file: file, problem: "LZW data starts with code \(code) after a clear code", hint: "the file is damaged")
                }
                emit(code)
                old = code
                continue
            }
            let newFirst: UInt8
            if code < next {
                newFirst = first[code]
            } else if code == next {
                newFirst = first[old]
            } else {
                throw ImageError(.corrupt, file: file, problem: "LZW code \(code) is beyond the table (\(next) entries)", hint: "the file is damaged")
            }
            if next < 4096 {
                prefix[next] = old
                suffix[next] = newFirst
                length[next] = length[old] + 1
                first[next] = first[old]
                next += 1
                if next == 511 || next == 1023 || next == 2047 { width += 1 }
            }
            emit(code)
            old = code
        }
        return out
    }

    /// PackBits (compression 32773): a header byte n ≥ 0 copies n + 1 literal bytes, −127…−1
    /// repeats the next byte 1 − n times, −128 is skipped.
    static func packBits(_ input: [UInt8], expected: Int, file: String) throws -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(expected)
        var i = 0
        while i < input.count && out.count < expected {
            let n = Int(Int8(bitPattern: input[i]))
            i += 1
            if n >= 0 {
                guard i + n + 1 <= input.count else {
                    throw ImageError(.truncated, file: file, problem: "PackBits literal run of \(n + 1) bytes runs past the chunk", hint: "the file is damaged")
                }
                out.append(contentsOf: input[i..<(i + n + 1)].prefix(expected - out.count))
                i += n + 1
            } else if n != -128 {
                guard i < input.count else {
                    throw ImageError(.truncated, file: file, problem: "PackBits repeat run has no byte to repeat", hint: "the file is damaged")
                }
                out.append(contentsOf: repeatElement(input[i], count: min(1 - n, expected - out.count)))
                i += 1
            }
        }
        return out
    }

    /// Undoes predictor 2: each sample was stored as the difference to the same band's sample to
    /// its left, modulo 2^bits, in the file's byte order.
    static func undoHorizontalDifference(_ chunk: inout [UInt8], rows: Int, width: Int, samples: Int, bytesPerSample bps: Int, little: Bool) {
        let rowBytes = width * samples * bps
        func read(_ at: Int) -> UInt32 {
            var v: UInt32 = 0
            for j in 0..<bps { v |= UInt32(chunk[at + (little ? j : bps - 1 - j)]) << (8 * j) }
            return v
        }
        func write(_ at: Int, _ v: UInt32) {
            for j in 0..<bps { chunk[at + (little ? j : bps - 1 - j)] = UInt8(truncatingIfNeeded: v >> (8 * j)) }
        }
        for y in 0..<rows {
            let row = y * rowBytes
            guard row + rowBytes <= chunk.count else { return }
            for x in 1..<max(1, width) {
                for s in 0..<samples {
                    let at = row + (x * samples + s) * bps
                    write(at, read(at) &+ read(at - samples * bps))
                }
            }
        }
    }
}
