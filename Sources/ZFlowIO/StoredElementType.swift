import ZFlowTensor

/// Element types a tensor file may store; all are read as Float32.
/// Integer and f64 values are converted with Swift's `Float(_:)` (nearest).
enum StoredElementType: String, Sendable, CaseIterable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16", f64 = "F64"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"

    var byteSize: Int {
        switch self {
        case .f64, .i64: 8
        case .f32, .i32: 4
        case .f16, .bf16, .i16: 2
        case .i8, .u8, .bool: 1
        }
    }

    /// The value of the little-endian element at `pointer`.
    @inline(__always)
    func load(_ pointer: UnsafeRawPointer) -> Float {
        switch self {
        case .f32: Float(bitPattern: UInt32(littleEndian: pointer.loadUnaligned(as: UInt32.self)))
        case .f16: floatFromHalfBits(UInt16(littleEndian: pointer.loadUnaligned(as: UInt16.self)))
        case .bf16: Float(bitPattern: UInt32(UInt16(littleEndian: pointer.loadUnaligned(as: UInt16.self))) << 16)
        case .f64: Float(Double(bitPattern: UInt64(littleEndian: pointer.loadUnaligned(as: UInt64.self))))
        case .i64: Float(Int64(littleEndian: pointer.loadUnaligned(as: Int64.self)))
        case .i32: Float(Int32(littleEndian: pointer.loadUnaligned(as: Int32.self)))
        case .i16: Float(Int16(littleEndian: pointer.loadUnaligned(as: Int16.self)))
        case .i8: Float(pointer.load(as: Int8.self))
        case .u8: Float(pointer.load(as: UInt8.self))
        case .bool: pointer.load(as: UInt8.self) != 0 ? 1 : 0
        }
    }
}

extension StoredElementType {
    /// Converts `count` contiguous little-endian elements at `source` into fresh memory, on all
    /// cores when there are at least `parallelConversionCount`: converting f16 weights is mostly
    /// the kernel zeroing the new pages as they are first written, which runs in the writing
    /// thread, so loading the full SD + LD-ZNet weights takes about half the time on two cores.
    func convert(_ source: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>) {
        parallelRanges(count, minimumWork: Self.parallelConversionCount) { range in
            convertRun(source + range.lowerBound * byteSize, count: range.count, into: output + range.lowerBound)
        }
    }

    /// Elements from which `convert` splits the work (4 MB of f32).
    static let parallelConversionCount = 1 << 20

    /// One tight loop per type.
    private func convertRun(_ source: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>) {
        switch self {
        case .f16:
            halfToFloatTable.withUnsafeBufferPointer { table in
                for index in 0..<count {
                    output[index] = table[Int(UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self)))]
                }
            }
        case .bf16:
            for index in 0..<count {
                let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self))
                output[index] = Float(bitPattern: UInt32(bits) << 16)
            }
        case .f32:
            for index in 0..<count {
                output[index] = Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: 4 * index, as: UInt32.self)))
            }
        default:
            for index in 0..<count { output[index] = load(source + index * byteSize) }
        }
    }
}

/// Every binary16 value as Float32 (256 KB, built on first use).
private let halfToFloatTable: [Float] = (0...UInt16.max).map(floatFromHalfBits)

/// IEEE 754 binary16 to binary32, exact for every value (subnormals, inf, NaN payloads).
@inline(__always)
func floatFromHalfBits(_ half: UInt16) -> Float {
    let sign = UInt32(half & 0x8000) << 16
    let exponent = UInt32(half >> 10) & 0x1F
    var mantissa = UInt32(half & 0x3FF)
    switch exponent {
    case 0x1F:
        return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
    case 0:
        guard mantissa != 0 else { return Float(bitPattern: sign) }
        // Subnormal: shift until the implicit bit appears, adjusting the exponent.
        var shifted: UInt32 = 0
        while mantissa & 0x400 == 0 { mantissa <<= 1; shifted += 1 }
        mantissa &= 0x3FF
        return Float(bitPattern: sign | ((113 - shifted) << 23) | (mantissa << 13))
    default:
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }
}
