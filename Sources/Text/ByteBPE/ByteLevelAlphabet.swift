/// GPT-2's reversible map between bytes and printable Unicode characters ("bytes_to_unicode"):
/// the 188 printable Latin-1 bytes (`!`…`~`, `¡`…`¬`, `®`…`ÿ`) stand for themselves and the other 68
/// (controls, space, DEL, NBSP, soft hyphen) become U+0100, U+0101, … in byte order, so the space
/// byte 0x20 is `Ġ` (U+0120) and newline is `Ċ`. Byte-level BPE vocabularies are written in this alphabet.
public enum ByteLevelAlphabet {
    /// Character of each byte value.
    public static let characters: [Character] = {
        var table = [Character](repeating: " ", count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            if printable {
                table[b] = Character(Unicode.Scalar(UInt32(b))!)
            } else {
                table[b] = Character(Unicode.Scalar(next)!)
                next += 1
            }
        }
        return table
    }()

    /// Byte of each alphabet character (inverse of `characters`).
    public static let bytes: [Character: UInt8] = {
        var out: [Character: UInt8] = [:]
        for (b, c) in characters.enumerated() { out[c] = UInt8(b) }
        return out
    }()

    /// The alphabet form of `text`'s UTF-8 bytes.
    public static func encode(_ text: Substring) -> String {
        var s = ""
        s.reserveCapacity(text.utf8.count)
        for b in text.utf8 { s.append(characters[Int(b)]) }
        return s
    }

    /// The bytes a string of alphabet characters stands for; characters outside the alphabet are
    /// kept as their own UTF-8 (what Hugging Face's ByteLevel decoder does).
    public static func decode(_ symbols: String, into out: inout [UInt8]) {
        for c in symbols {
            if let b = bytes[c] { out.append(b) } else { out.append(contentsOf: Array(String(c).utf8)) }
        }
    }
}
