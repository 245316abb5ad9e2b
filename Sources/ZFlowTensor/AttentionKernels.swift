// The two register-tiled products of `attention`, on packed operands, one vector register wide. A general
// GEMM is slow on attention's narrow shapes (a head is 40 to 160 wide) and would write and
// re-read the scores between calls; these kernels run one (head, query block) item per core,
// with the block's scores staying in L2.

#if ZFLOW_AVX512
/// The kernels' vector: one zmm register (32 of them).
typealias AttentionVector = SIMD16<Float>
/// Vectors per value tile at most (64 value columns).
let valueTileVectors = 4
#else
/// The kernels' vector: one ymm register on AVX2 (16 of them, so the tiles stay within 16).
typealias AttentionVector = SIMD8<Float>
/// Vectors per value tile at most (16 value columns; 3 measured slower: 57% vs 63% of sgemm).
let valueTileVectors = 2
#endif
/// Lanes per vector: value columns are padded to a multiple of it.
let valueLanes = AttentionVector.scalarCount
/// Keys per packed key panel: the width of one score tile (two vectors).
let keyPanelWidth = 2 * valueLanes
/// Queries per score tile.
let scoreTileRows = 6
/// Queries per value tile.
let valueTileRows = 4

@inline(__always) private func load(_ pointer: UnsafePointer<Float>) -> AttentionVector {
    UnsafeRawPointer(pointer).loadUnaligned(as: AttentionVector.self)
}

@inline(__always) private func store(_ value: AttentionVector, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: AttentionVector.self)
}

/// scores[r, j] = sum over d < depth of queries[r, d] * panel[d, j], for 6 rows r and the
/// panel's `keyPanelWidth` keys j; `panel` is [depth x keyPanelWidth], `queries` rows
/// `queryStride` apart.
@inline(__always)
func scoreTile(queries: UnsafePointer<Float>, queryStride: Int, depth: Int, panel: UnsafePointer<Float>,
               scores: UnsafeMutablePointer<Float>, scoreStride: Int) {
    var a00 = AttentionVector(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00
    var a30 = a00, a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00
    let half = valueLanes
    for d in 0..<depth {
        let k0 = load(panel + d * keyPanelWidth), k1 = load(panel + d * keyPanelWidth + half)
        var q = AttentionVector(repeating: queries[d]); a00 = a00.addingProduct(q, k0); a01 = a01.addingProduct(q, k1)
        q = AttentionVector(repeating: queries[queryStride + d]); a10 = a10.addingProduct(q, k0); a11 = a11.addingProduct(q, k1)
        q = AttentionVector(repeating: queries[2 * queryStride + d]); a20 = a20.addingProduct(q, k0); a21 = a21.addingProduct(q, k1)
        q = AttentionVector(repeating: queries[3 * queryStride + d]); a30 = a30.addingProduct(q, k0); a31 = a31.addingProduct(q, k1)
        q = AttentionVector(repeating: queries[4 * queryStride + d]); a40 = a40.addingProduct(q, k0); a41 = a41.addingProduct(q, k1)
        q = AttentionVector(repeating: queries[5 * queryStride + d]); a50 = a50.addingProduct(q, k0); a51 = a51.addingProduct(q, k1)
    }
    store(a00, scores); store(a01, scores + half)
    store(a10, scores + scoreStride); store(a11, scores + scoreStride + half)
    store(a20, scores + 2 * scoreStride); store(a21, scores + 2 * scoreStride + half)
    store(a30, scores + 3 * scoreStride); store(a31, scores + 3 * scoreStride + half)
    store(a40, scores + 4 * scoreStride); store(a41, scores + 4 * scoreStride + half)
    store(a50, scores + 5 * scoreStride); store(a51, scores + 5 * scoreStride + half)
}

/// out[r, c] = sum over j < keys of weights[r, j] * values[j, c], for 4 rows r and
/// `valueLanes` x `vectors` columns c (`vectors` in 1...valueTileVectors); `values` rows are
/// `valueStride` apart.
func valueTile(vectors: Int, weights: UnsafePointer<Float>, weightStride: Int, keys: Int,
               values: UnsafePointer<Float>, valueStride: Int, out: UnsafeMutablePointer<Float>, outStride: Int) {
    switch vectors {
    case 4: valueTile(InlineArray<4, AttentionVector>.self, weights, weightStride, keys, values, valueStride, out, outStride)
    case 3: valueTile(InlineArray<3, AttentionVector>.self, weights, weightStride, keys, values, valueStride, out, outStride)
    case 2: valueTile(InlineArray<2, AttentionVector>.self, weights, weightStride, keys, values, valueStride, out, outStride)
    default: valueTile(InlineArray<1, AttentionVector>.self, weights, weightStride, keys, values, valueStride, out, outStride)
    }
}

@inline(__always)
private func valueTile<let V: Int>(_: InlineArray<V, AttentionVector>.Type, _ weights: UnsafePointer<Float>, _ weightStride: Int,
                                   _ keys: Int, _ values: UnsafePointer<Float>, _ valueStride: Int,
                                   _ out: UnsafeMutablePointer<Float>, _ outStride: Int) {
    var a0 = InlineArray<V, AttentionVector>(repeating: .zero), a1 = a0, a2 = a0, a3 = a0
    let w0 = weights, w1 = weights + weightStride, w2 = weights + 2 * weightStride, w3 = weights + 3 * weightStride
    for j in 0..<keys {
        let row = values + j * valueStride
        let b0 = AttentionVector(repeating: w0[j]), b1 = AttentionVector(repeating: w1[j])
        let b2 = AttentionVector(repeating: w2[j]), b3 = AttentionVector(repeating: w3[j])
        for lane in 0..<V {
            let v = load(row + valueLanes * lane)
            a0[lane] = a0[lane].addingProduct(b0, v)
            a1[lane] = a1[lane].addingProduct(b1, v)
            a2[lane] = a2[lane].addingProduct(b2, v)
            a3[lane] = a3[lane].addingProduct(b3, v)
        }
    }
    for lane in 0..<V {
        store(a0[lane], out + valueLanes * lane)
        store(a1[lane], out + outStride + valueLanes * lane)
        store(a2[lane], out + 2 * outStride + valueLanes * lane)
        store(a3[lane], out + 3 * outStride + valueLanes * lane)
    }
}
