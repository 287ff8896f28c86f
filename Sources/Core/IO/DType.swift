/// Element types a safetensors file may declare, with the names the format uses.
///
/// Declaration order matters: it is the order of the reference (Rust) library's `Dtype` enum,
/// whose writer places larger members first. `SafeTensors.write` follows it so our files are
/// byte-identical to Python's `save_file` for the same tensors.
public enum DType: String, CaseIterable, Sendable {
    case bool = "BOOL"
    case f4 = "F4"
    case f6e2m3 = "F6_E2M3"
    case f6e3m2 = "F6_E3M2"
    case u8 = "U8"
    case i8 = "I8"
    case f8e5m2 = "F8_E5M2"
    case f8e4m3 = "F8_E4M3"
    case f8e8m0 = "F8_E8M0"
    case f8e4m3fnuz = "F8_E4M3FNUZ"
    case f8e5m2fnuz = "F8_E5M2FNUZ"
    case i16 = "I16"
    case u16 = "U16"
    case f16 = "F16"
    case bf16 = "BF16"
    case i32 = "I32"
    case u32 = "U32"
    case f32 = "F32"
    case c64 = "C64"
    case f64 = "F64"
    case i64 = "I64"
    case u64 = "U64"

    /// The format's name for this type (`"F32"`).
    public var name: String { rawValue }

    /// Bits per element (sub-byte float types pack several elements per byte).
    public var bitWidth: Int {
        switch self {
        case .f4: 4
        case .f6e2m3, .f6e3m2: 6
        case .bool, .u8, .i8, .f8e5m2, .f8e4m3, .f8e8m0, .f8e4m3fnuz, .f8e5m2fnuz: 8
        case .i16, .u16, .f16, .bf16: 16
        case .i32, .u32, .f32: 32
        case .c64, .f64, .i64, .u64: 64
        }
    }

    /// Whether PEFTKit can decode this type to Float32.
    public var isDecodable: Bool {
        switch self {
        case .bool, .u8, .i8, .i16, .u16, .f16, .bf16, .i32, .u32, .f32, .f64, .i64, .u64: true
        default: false
        }
    }

    /// Whether the type holds integers (or booleans), so exact `Int64` access makes sense.
    public var isInteger: Bool {
        switch self {
        case .bool, .u8, .i8, .i16, .u16, .i32, .u32, .i64, .u64: true
        default: false
        }
    }

    /// Rank in the reference library's ordering (see the type's comment).
    var writeRank: Int { DType.allCases.firstIndex(of: self) ?? 0 }
}

// MARK: - Half-precision conversions

/// Float32 value of IEEE binary16 bits (exact: every half is a float). Done with bit
/// operations because `Float(Float16)` is a library call per element on baseline x86-64
/// (no F16C), four times slower on large checkpoints.
@inline(__always) func floatFromHalfBits(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = UInt32(h >> 10) & 0x1F
    let mantissa = UInt32(h & 0x3FF)
    if exponent == 0x1F {  // inf / NaN (payload kept)
        return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
    }
    if exponent == 0 {  // zero / subnormal: mantissa × 2^-24, exact in Float
        return Float(bitPattern: (Float(mantissa) * 0x1p-24).bitPattern | sign)
    }
    // Normal: rebias the exponent from 15 to 127.
    return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
}

/// Float32 value of bfloat16 bits: the upper half of a float32.
@inline(__always) func floatFromBFloat16Bits(_ h: UInt16) -> Float {
    Float(bitPattern: UInt32(h) << 16)
}

/// binary16 bits nearest to `x` (round to nearest even; overflow gives ±inf, NaN stays NaN).
@inline(__always) func halfBits(_ x: Float) -> UInt16 {
    Float16(x).bitPattern
}

/// bfloat16 bits nearest to `x`, rounding to nearest even as PyTorch does; NaN is kept quiet
/// (adding the rounding bias to a NaN could carry into the exponent and make it infinite).
@inline(__always) func bfloat16Bits(_ x: Float) -> UInt16 {
    let bits = x.bitPattern
    if x.isNaN { return UInt16(truncatingIfNeeded: (bits >> 16) | 0x0040) }
    let roundingBias: UInt32 = 0x7FFF + ((bits >> 16) & 1)
    return UInt16(truncatingIfNeeded: (bits &+ roundingBias) >> 16)
}
