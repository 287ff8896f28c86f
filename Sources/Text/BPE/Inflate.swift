/// A DEFLATE (RFC 1951) decoder: stored, fixed-Huffman and dynamic-Huffman blocks.
///
/// Huffman codes are decoded with one lookup table per code, indexed by the next `maxLength` input
/// bits (DEFLATE packs codes starting from the least significant bit, so each canonical code is
/// stored bit-reversed and replicated over every suffix). Each entry holds `symbol << 4 | length`.
struct Inflater {
    let input: [UInt8]
    let source: String
    let limit: Int
    private var next: Int
    private var bitBuffer: UInt64 = 0
    private var bitCount = 0

    init(input: [UInt8], position: Int, source: String, limit: Int) {
        self.input = input
        self.next = position
        self.source = source
        self.limit = limit
    }

    /// Offset of the first byte after the stream (once `run` returned): bits left in the buffer
    /// belong to the final partial byte or to bytes fetched ahead.
    var bytePosition: Int { next - bitCount / 8 }

    func fail(_ problem: String) -> GzipError { GzipError(file: source, offset: bytePosition, problem: problem) }

    // MARK: - Bits

    /// Tops the buffer up to at least 57 bits when input remains.
    private mutating func refill() {
        while bitCount <= 56 && next < input.count {
            bitBuffer |= UInt64(input[next]) << UInt64(bitCount)
            next += 1
            bitCount += 8
        }
    }

    private mutating func bits(_ n: Int) throws -> Int {
        if n == 0 { return 0 }
        if bitCount < n { refill() }
        guard bitCount >= n else { throw fail("the compressed data ends early") }
        let v = Int(bitBuffer & ((1 << UInt64(n)) - 1))
        bitBuffer >>= UInt64(n)
        bitCount -= n
        return v
    }

    private mutating func decode(_ table: HuffmanTable) throws -> Int {
        if bitCount < table.maxLength { refill() }
        guard table.maxLength > 0 else { throw fail("a block uses an empty Huffman code") }
        let entry = table.entries[Int(bitBuffer & UInt64(table.mask))]
        let length = Int(entry & 15)
        guard length > 0, length <= bitCount else {
            throw fail(length == 0 ? "invalid Huffman code" : "the compressed data ends early")
        }
        bitBuffer >>= UInt64(length)
        bitCount -= length
        return Int(entry >> 4)
    }

    // MARK: - Blocks

    static let lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distanceBase = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
                               2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    static let distanceExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]
    /// Order in which code-length code lengths are transmitted.
    static let codeLengthOrder = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    static let fixedLiterals = try! HuffmanTable(lengths: (0..<288).map { $0 < 144 ? 8 : $0 < 256 ? 9 : $0 < 280 ? 7 : 8 })
    static let fixedDistances = try! HuffmanTable(lengths: [UInt8](repeating: 5, count: 30))

    /// Decodes blocks until the final one, appending to `out`.
    mutating func run(into out: inout [UInt8]) throws {
        var final = false
        while !final {
            final = try bits(1) == 1
            switch try bits(2) {
            case 0: try stored(into: &out)
            case 1: try compressed(into: &out, literals: Self.fixedLiterals, distances: Self.fixedDistances)
            case 2:
                let (literals, distances) = try dynamicTables()
                try compressed(into: &out, literals: literals, distances: distances)
            default: throw fail("reserved block type 3")
            }
        }
        // The stream ends on a byte boundary for what follows (the gzip trailer).
        bitCount -= bitCount % 8
        bitBuffer = 0
    }

    private mutating func stored(into out: inout [UInt8]) throws {
        _ = try bits(bitCount % 8)  // skip to the byte boundary
        let length = try bits(16), complement = try bits(16)
        guard length == ~complement & 0xFFFF else { throw fail("stored block length check failed") }
        guard out.count + length <= limit else { throw fail("output exceeds the \(limit)-byte limit") }
        for _ in 0..<length { out.append(UInt8(try bits(8))) }
    }

    private mutating func dynamicTables() throws -> (HuffmanTable, HuffmanTable) {
        let literalCount = try bits(5) + 257, distanceCount = try bits(5) + 1, codeLengthCount = try bits(4) + 4
        guard literalCount <= 286, distanceCount <= 30 else { throw fail("too many literal/length or distance codes") }
        var codeLengthLengths = [UInt8](repeating: 0, count: 19)
        for i in 0..<codeLengthCount { codeLengthLengths[Self.codeLengthOrder[i]] = UInt8(try bits(3)) }
        let codeLengths = try table(codeLengthLengths)
        var lengths: [UInt8] = []
        lengths.reserveCapacity(literalCount + distanceCount)
        while lengths.count < literalCount + distanceCount {
            let symbol = try decode(codeLengths)
            switch symbol {
            case 0...15: lengths.append(UInt8(symbol))
            case 16:
                guard let previous = lengths.last else { throw fail("repeat code with no previous length") }
                lengths += [UInt8](repeating: previous, count: 3 + (try bits(2)))
            case 17: lengths += [UInt8](repeating: 0, count: 3 + (try bits(3)))
            default: lengths += [UInt8](repeating: 0, count: 11 + (try bits(7)))
            }
        }
        guard lengths.count == literalCount + distanceCount else { throw fail("code lengths overrun the table sizes") }
        guard lengths[256] != 0 else { throw fail("the block has no end-of-block code") }
        return (try table(Array(lengths[..<literalCount])), try table(Array(lengths[literalCount...])))
    }

    private func table(_ lengths: [UInt8]) throws -> HuffmanTable {
        do { return try HuffmanTable(lengths: lengths) } catch { throw fail("over-subscribed Huffman code lengths") }
    }

    private mutating func compressed(into out: inout [UInt8], literals: HuffmanTable, distances: HuffmanTable) throws {
        while true {
            let symbol = try decode(literals)
            if symbol < 256 {
                guard out.count < limit else { throw fail("output exceeds the \(limit)-byte limit") }
                out.append(UInt8(symbol))
                continue
            }
            if symbol == 256 { return }
            let li = symbol - 257
            guard li < Self.lengthBase.count else { throw fail("invalid length symbol \(symbol)") }
            let length = Self.lengthBase[li] + (try bits(Self.lengthExtra[li]))
            let di = try decode(distances)
            guard di < Self.distanceBase.count else { throw fail("invalid distance symbol \(di)") }
            let distance = Self.distanceBase[di] + (try bits(Self.distanceExtra[di]))
            guard distance <= out.count else { throw fail("back-reference \(distance) reaches before the start of the output") }
            guard out.count + length <= limit else { throw fail("output exceeds the \(limit)-byte limit") }
            // Byte by byte: a copy may overlap the bytes it produces (distance < length repeats a run).
            let from = out.count - distance
            for i in 0..<length { out.append(out[from + i]) }
        }
    }
}

/// Lookup table of one canonical Huffman code (see `Inflater`).
struct HuffmanTable {
    struct OverSubscribed: Error {}
    let entries: [UInt32]
    let maxLength: Int
    var mask: Int { (1 << maxLength) - 1 }

    /// Builds the table for code lengths per symbol (0 = unused). Incomplete codes are allowed (a
    /// single distance code is legal); unused slots keep length 0 and fail when hit.
    init(lengths: [UInt8]) throws {
        let maxLength = Int(lengths.max() ?? 0)
        var count = [Int](repeating: 0, count: 16)
        for l in lengths where l > 0 { count[Int(l)] += 1 }
        var left = 1
        for l in 1..<16 {
            left = left * 2 - count[l]
            if left < 0 { throw OverSubscribed() }
        }
        var nextCode = [Int](repeating: 0, count: 16)
        var code = 0
        for l in 1..<16 {
            code = (code + count[l - 1]) << 1
            nextCode[l] = code
        }
        nextCode[0] = 0
        var entries = [UInt32](repeating: 0, count: 1 << maxLength)
        for (symbol, l8) in lengths.enumerated() where l8 > 0 {
            let l = Int(l8)
            let c = nextCode[l]
            nextCode[l] += 1
            var reversed = 0
            for b in 0..<l where c & (1 << b) != 0 { reversed |= 1 << (l - 1 - b) }
            var slot = reversed
            while slot < entries.count {
                entries[slot] = UInt32(symbol) << 4 | UInt32(l)
                slot += 1 << l
            }
        }
        self.entries = entries
        self.maxLength = maxLength
    }
}
