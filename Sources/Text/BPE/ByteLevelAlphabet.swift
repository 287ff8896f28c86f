/// GPT-2's byte-to-character map used by byte-level BPE (CLIP, GPT-2, Whisper): every byte
/// becomes one printable Unicode character, so any UTF-8 text is a string over 256 symbols and
/// merges never see raw control bytes or spaces.
///
/// Bytes 33…126, 161…172 and 174…255 keep their own code point; the other 68 bytes (0…32,
/// 127…160, 173), in increasing order, become U+0100, U+0101, … (so a space, byte 32, is `Ġ`).
/// `symbols` lists the 256 characters in vocabulary order: the printable ranges first, then
/// the remapped bytes, which is also the order of the first 256 ids of CLIP's vocabulary.
///
/// ```swift
/// ByteLevelAlphabet.encode(Array("a b".utf8))     // "aĠb"
/// ```
public enum ByteLevelAlphabet {
    /// Bytes in vocabulary order (printable ranges first, then the remapped ones).
    public static let byteOrder: [UInt8] = {
        let kept = Array(33...126) + Array(161...172) + Array(174...255)
        let keptSet = Set(kept)
        return (kept + (0...255).filter { !keptSet.contains($0) }).map { UInt8($0) }
    }()

    /// The character standing for each byte (indexed by the byte value).
    public static let character: [Unicode.Scalar] = {
        var out = [Unicode.Scalar](repeating: " ", count: 256)
        var shifted: UInt32 = 256
        for b in byteOrder {
            let printable = (33...126).contains(b) || (161...172).contains(b) || b >= 174
            if printable {
                out[Int(b)] = Unicode.Scalar(b)
            } else {
                out[Int(b)] = Unicode.Scalar(shifted)!  // 256…323 are all valid scalars
                shifted += 1
            }
        }
        return out
    }()

    /// Byte of each alphabet character (inverse of `character`).
    public static let byte: [Unicode.Scalar: UInt8] = {
        var out: [Unicode.Scalar: UInt8] = [:]
        for b in 0...255 { out[character[b]] = UInt8(b) }
        return out
    }()

    /// The 256 alphabet characters in vocabulary order.
    public static var symbols: [String] { byteOrder.map { String(Character(character[Int($0)])) } }

    /// Bytes → alphabet string.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(character[Int(b)]) }
        return String(s)
    }

    /// Alphabet string → bytes; characters outside the alphabet are skipped.
    public static func decode(_ text: String) -> [UInt8] {
        text.unicodeScalars.compactMap { byte[$0] }
    }
}
