// Single-precision GEMM on the build's vector registers, built the way BLIS and OpenBLAS build
// theirs (Goto & van de Geijn 2008): blocks of B packed into panels two vectors wide and a 6-row
// register tile that keeps 12 accumulators in registers (6 x 32 in zmm with AVX-512, 6 x 16 in ymm
// with AVX2: 12 accumulators, two B vectors and a broadcast fit AVX2's 16 registers). A is not
// packed: the tile broadcasts its six rows' values straight from A's rows (or columns), which saves
// a copy of A that cost as much as the products on narrow shapes (1280 x 144 x 1280: 175 -> 320
// GFLOP/s on Zen 4). C is split between the cores by whole tiles. It is one of the GEMM candidates
// the kernel tuner times against OpenBLAS and oneDNN (KernelTuner.swift). Each element of C is
// summed by one thread in a fixed order, so results do not depend on the thread count.

#if ZFLOW_AVX512
typealias GEMMVector = SIMD16<Float>
#else
typealias GEMMVector = SIMD8<Float>
#endif

@inline(__always) private func load(_ pointer: UnsafePointer<Float>) -> GEMMVector {
    UnsafeRawPointer(pointer).loadUnaligned(as: GEMMVector.self)
}

@inline(__always) private func store(_ value: GEMMVector, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: GEMMVector.self)
}

private let lanes = GEMMVector.scalarCount

/// Rows of A per register tile.
private let tileRows = 6
/// Columns of B per register tile (two vectors).
private let tileColumns = 2 * lanes
/// Depth of one packed block.
private let blockDepth = 768
/// Rows of A walked per packed panel of B (a multiple of `tileRows`; A's rows stay in L2).
private let blockRows = 72
/// Columns of B per packed block (a multiple of `tileColumns`).
private let blockColumns = 2048

/// C = alpha * op(A) op(B) + beta * C on row-major matrices, where op(A) is [m,k] and op(B) is [k,n].
func packedSgemm(m: Int, n: Int, k: Int,
                 a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
                 b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
                 c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, beta: Float) {
    let operands = GEMMOperands(a: a, lda: lda, transposeA: transposeA, b: b, ldb: ldb, transposeB: transposeB,
                                c: c, ldc: ldc, alpha: alpha, beta: beta, depth: k)
    // One share per core, in whole tiles: along the columns when there are enough, else along
    // the rows. The split does not change any element's summation order.
    let splitColumns = n >= 2 * tileColumns && n >= m
    let step = splitColumns ? tileColumns : tileRows, extent = splitColumns ? n : m
    let tiles = (extent + step - 1) / step
    parallelRanges(tiles, costPerItem: m * n * k / tiles, minimumWork: 1 << 21) { tileRange in
        let range = tileRange.lowerBound * step..<min(extent, tileRange.upperBound * step)
        if splitColumns {
            operands.multiply(rows: 0..<m, columns: range)
        } else {
            operands.multiply(rows: range, columns: 0..<n)
        }
    }
}

private struct GEMMOperands: @unchecked Sendable {
    let a: UnsafePointer<Float>, lda: Int, transposeA: Bool
    let b: UnsafePointer<Float>, ldb: Int, transposeB: Bool
    let c: UnsafeMutablePointer<Float>, ldc: Int
    let alpha: Float, beta: Float, depth: Int

    /// op(A)[i, p] and op(B)[p, j].
    @inline(__always) func aValue(_ i: Int, _ p: Int) -> Float { transposeA ? a[p * lda + i] : a[i * lda + p] }
    @inline(__always) func bValue(_ p: Int, _ j: Int) -> Float { transposeB ? b[j * ldb + p] : b[p * ldb + j] }

    /// The block C[rows, columns], on the calling thread. A is read in place (six rows at a time,
    /// with the broadcasts reading it through its strides); only a last panel of fewer than six
    /// rows is copied, zero-padded, so that the tile never reads past A.
    func multiply(rows: Range<Int>, columns: Range<Int>) {
        let packedB = allocateFloats(blockDepth * blockColumns)
        let lastPanel = allocateFloats(blockDepth * tileRows)
        defer { releaseFloats(packedB); releaseFloats(lastPanel) }
        for firstColumn in stride(from: columns.lowerBound, to: columns.upperBound, by: blockColumns) {
            let columnCount = min(blockColumns, columns.upperBound - firstColumn)
            for firstDepth in stride(from: 0, to: depth, by: blockDepth) {
                let depthCount = min(blockDepth, depth - firstDepth)
                packB(firstDepth, depthCount, firstColumn, columnCount, into: packedB)
                // The first depth block applies beta; later ones accumulate.
                let scaleC: Float? = firstDepth > 0 ? 1 : (beta == 0 ? nil : beta)
                for firstRow in stride(from: rows.lowerBound, to: rows.upperBound, by: blockRows) {
                    let rowCount = min(blockRows, rows.upperBound - firstRow)
                    let lastHeight = rowCount % tileRows
                    if lastHeight > 0 {
                        packRows(firstRow + rowCount - lastHeight, lastHeight, firstDepth, depthCount, into: lastPanel)
                    }
                    for panelColumn in stride(from: 0, to: columnCount, by: tileColumns) {
                        let panelB = packedB + panelColumn * depthCount
                        let width = min(tileColumns, columnCount - panelColumn)
                        for panelRow in stride(from: 0, to: rowCount, by: tileRows) {
                            let row = firstRow + panelRow, height = min(tileRows, rowCount - panelRow)
                            let panelA = height < tileRows
                                ? TilePanelA(start: lastPanel, rowStride: 1, depthStride: tileRows)
                                : transposeA ? TilePanelA(start: a + firstDepth * lda + row, rowStride: 1, depthStride: lda)
                                             : TilePanelA(start: a + row * lda + firstDepth, rowStride: lda, depthStride: 1)
                            multiplyTile(depthCount, panelA, panelB, c + row * ldc + firstColumn + panelColumn, ldc,
                                         height: height, width: width, alpha: alpha, scaleC: scaleC)
                        }
                    }
                }
            }
        }
    }

    /// B[depth block, column block] as [column panel][depth][tileColumns], zero beyond the last column.
    /// The stored matrix is read along its rows (contiguous), whichever way op(B) runs.
    private func packB(_ firstDepth: Int, _ depthCount: Int, _ firstColumn: Int, _ columnCount: Int,
                       into packed: UnsafeMutablePointer<Float>) {
        let fullPanels = columnCount / tileColumns
        if transposeB {
            // op(B) columns are rows of the stored matrix: read each along its depth.
            for panel in 0..<fullPanels {
                let target = packed + panel * tileColumns * depthCount
                for lane in 0..<tileColumns {
                    let source = b + (firstColumn + panel * tileColumns + lane) * ldb + firstDepth
                    for p in 0..<depthCount { target[p * tileColumns + lane] = source[p] }
                }
            }
        } else {
            for p in 0..<depthCount {
                let source = b + (firstDepth + p) * ldb + firstColumn
                for panel in 0..<fullPanels {
                    let row = packed + panel * tileColumns * depthCount + p * tileColumns
                    store(load(source + panel * tileColumns), row)
                    store(load(source + panel * tileColumns + lanes), row + lanes)
                }
            }
        }
        for panelColumn in stride(from: fullPanels * tileColumns, to: columnCount, by: tileColumns) {
            let panel = packed + panelColumn * depthCount
            let width = min(tileColumns, columnCount - panelColumn)
            let column = firstColumn + panelColumn
            for p in 0..<depthCount {
                let row = panel + p * tileColumns
                for j in 0..<width { row[j] = bValue(firstDepth + p, column + j) }
                for j in width..<tileColumns { row[j] = 0 }
            }
        }
    }

    /// `height` (< 6) rows of op(A) from `firstRow`, over the depth block, as [depth][6] with zero rows.
    private func packRows(_ firstRow: Int, _ height: Int, _ firstDepth: Int, _ depthCount: Int,
                          into packed: UnsafeMutablePointer<Float>) {
        for p in 0..<depthCount {
            for r in 0..<tileRows { packed[p * tileRows + r] = r < height ? aValue(firstRow + r, firstDepth + p) : 0 }
        }
    }
}

/// Six rows of op(A) as the tile reads them: row r, depth p at start[r * rowStride + p * depthStride].
private struct TilePanelA {
    let start: UnsafePointer<Float>
    let rowStride, depthStride: Int
}

/// C[6 x tileColumns tile, clipped to height x width] = alpha * (A panel x B panel) + scaleC * C
/// (C is not read when `scaleC` is nil).
@inline(__always)
private func multiplyTile(_ depth: Int, _ a: TilePanelA, _ b: UnsafePointer<Float>,
                          _ c: UnsafeMutablePointer<Float>, _ ldc: Int,
                          height: Int, width: Int, alpha: Float, scaleC: Float?) {
    var c00 = GEMMVector(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00
    var c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00
    let rs = a.rowStride
    var pa = a.start, pb = b
    for _ in 0..<depth {
        let b0 = load(pb), b1 = load(pb + lanes)
        var s = GEMMVector(repeating: pa[0]); c00 = c00.addingProduct(s, b0); c01 = c01.addingProduct(s, b1)
        s = GEMMVector(repeating: pa[rs]); c10 = c10.addingProduct(s, b0); c11 = c11.addingProduct(s, b1)
        s = GEMMVector(repeating: pa[2 * rs]); c20 = c20.addingProduct(s, b0); c21 = c21.addingProduct(s, b1)
        s = GEMMVector(repeating: pa[3 * rs]); c30 = c30.addingProduct(s, b0); c31 = c31.addingProduct(s, b1)
        s = GEMMVector(repeating: pa[4 * rs]); c40 = c40.addingProduct(s, b0); c41 = c41.addingProduct(s, b1)
        s = GEMMVector(repeating: pa[5 * rs]); c50 = c50.addingProduct(s, b0); c51 = c51.addingProduct(s, b1)
        pa += a.depthStride
        pb += tileColumns
    }
    let full = height == tileRows && width == tileColumns
    @inline(__always) func storeRow(_ row: Int, _ low: GEMMVector, _ high: GEMMVector) {
        guard row < height else { return }
        let line = c + row * ldc
        if full {
            var (low, high) = (alpha * low, alpha * high)
            if let scaleC {
                low = low.addingProduct(scaleC, load(line))
                high = high.addingProduct(scaleC, load(line + lanes))
            }
            store(low, line)
            store(high, line + lanes)
        } else {
            for column in 0..<width {
                let value = alpha * (column < lanes ? low[column] : high[column - lanes])
                line[column] = scaleC.map { value + $0 * line[column] } ?? value
            }
        }
    }
    storeRow(0, c00, c01)
    storeRow(1, c10, c11)
    storeRow(2, c20, c21)
    storeRow(3, c30, c31)
    storeRow(4, c40, c41)
    storeRow(5, c50, c51)
}
