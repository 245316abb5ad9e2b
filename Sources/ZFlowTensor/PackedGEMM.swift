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

@inline(__always) private func load4(_ pointer: UnsafePointer<Float>) -> SIMD4<Float> {
    UnsafeRawPointer(pointer).loadUnaligned(as: SIMD4<Float>.self)
}

@inline(__always) private func store4(_ value: SIMD4<Float>, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: SIMD4<Float>.self)
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
/// Up to this many rows of A (21 tiles: 378 KB over a depth block), B is packed a panel at a time.
private let panelwiseRows = 126

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
        let lastPanel = allocateFloats(blockDepth * tileRows)
        defer { releaseFloats(lastPanel) }
        if rows.count <= panelwiseRows { return multiplyPanelwise(rows: rows, columns: columns, lastPanel: lastPanel) }
        let packedB = allocateFloats(blockDepth * blockColumns)
        defer { releaseFloats(packedB) }
        for firstColumn in stride(from: columns.lowerBound, to: columns.upperBound, by: blockColumns) {
            let columnCount = min(blockColumns, columns.upperBound - firstColumn)
            for firstDepth in stride(from: 0, to: depth, by: blockDepth) {
                let depthCount = min(blockDepth, depth - firstDepth)
                packB(firstDepth, depthCount, firstColumn, columnCount, into: packedB)
                let scaleC = scaleOfC(firstDepth: firstDepth)
                for firstRow in stride(from: rows.lowerBound, to: rows.upperBound, by: blockRows) {
                    let block = firstRow..<min(firstRow + blockRows, rows.upperBound)
                    packLastRows(of: block, firstDepth, depthCount, into: lastPanel)
                    for panelColumn in stride(from: 0, to: columnCount, by: tileColumns) {
                        multiplyPanel(packedB + panelColumn * depthCount, rows: block, column: firstColumn + panelColumn,
                                      width: min(tileColumns, columnCount - panelColumn), firstDepth, depthCount,
                                      lastPanel: lastPanel, scaleC: scaleC)
                    }
                }
            }
        }
    }

    /// `multiply` for a few rows of A (they stay in L2 over a depth block): each panel of B is packed
    /// and at once multiplied by every row, while it is still in L1. The block-at-a-time order packs
    /// a whole block of B (up to 6 MB) before it multiplies, so on few rows each packed value made a
    /// round trip through L3 for little work: CLIP's 77 tokens by twelve [3072, 768] weights read
    /// from memory ran at 225-298 GFLOP/s in that order and at 334-345 in this one on a Zen 5
    /// (`zflow-bench ops --only "linear 77"`). Every element of C is summed in the same order
    /// either way.
    private func multiplyPanelwise(rows: Range<Int>, columns: Range<Int>, lastPanel: UnsafeMutablePointer<Float>) {
        let packedPanel = allocateFloats(blockDepth * tileColumns)
        defer { releaseFloats(packedPanel) }
        for firstDepth in stride(from: 0, to: depth, by: blockDepth) {
            let depthCount = min(blockDepth, depth - firstDepth)
            let scaleC = scaleOfC(firstDepth: firstDepth)
            packLastRows(of: rows, firstDepth, depthCount, into: lastPanel)
            for column in stride(from: columns.lowerBound, to: columns.upperBound, by: tileColumns) {
                let width = min(tileColumns, columns.upperBound - column)
                packB(firstDepth, depthCount, column, width, into: packedPanel)
                multiplyPanel(packedPanel, rows: rows, column: column, width: width, firstDepth, depthCount,
                              lastPanel: lastPanel, scaleC: scaleC)
            }
        }
    }

    /// The first depth block applies beta; later ones accumulate.
    private func scaleOfC(firstDepth: Int) -> Float? { firstDepth > 0 ? 1 : (beta == 0 ? nil : beta) }

    /// Every tile of C[rows, column..<column + width] from one packed panel of B over a depth block.
    private func multiplyPanel(_ panelB: UnsafePointer<Float>, rows: Range<Int>, column: Int, width: Int,
                               _ firstDepth: Int, _ depthCount: Int, lastPanel: UnsafePointer<Float>, scaleC: Float?) {
        for row in stride(from: rows.lowerBound, to: rows.upperBound, by: tileRows) {
            let height = min(tileRows, rows.upperBound - row)
            let panelA = height < tileRows
                ? TilePanelA(start: lastPanel, rowStride: 1, depthStride: tileRows)
                : transposeA ? TilePanelA(start: a + firstDepth * lda + row, rowStride: 1, depthStride: lda)
                             : TilePanelA(start: a + row * lda + firstDepth, rowStride: lda, depthStride: 1)
            multiplyTile(depthCount, panelA, panelB, c + row * ldc + column, ldc,
                         height: height, width: width, alpha: alpha, scaleC: scaleC)
        }
    }

    /// The last rows of `rows` when they make less than a tile, copied for `multiplyPanel`.
    private func packLastRows(of rows: Range<Int>, _ firstDepth: Int, _ depthCount: Int, into panel: UnsafeMutablePointer<Float>) {
        let lastHeight = rows.count % tileRows
        if lastHeight > 0 { packRows(rows.upperBound - lastHeight, lastHeight, firstDepth, depthCount, into: panel) }
    }

    /// B[depth block, column block] as [column panel][depth][tileColumns], zero beyond the last column.
    /// The stored matrix is read along its rows (contiguous), whichever way op(B) runs.
    private func packB(_ firstDepth: Int, _ depthCount: Int, _ firstColumn: Int, _ columnCount: Int,
                       into packed: UnsafeMutablePointer<Float>) {
        let fullPanels = columnCount / tileColumns
        if transposeB {
            // op(B) columns are rows of the stored matrix: a transpose, four rows by four depths at
            // a time in registers (element by element, it cost as much as the products when op(A)
            // has few rows: CLIP's 77 tokens).
            let fullDepths = depthCount / 4 * 4
            for panel in 0..<fullPanels {
                let target = packed + panel * tileColumns * depthCount
                for lane in stride(from: 0, to: tileColumns, by: 4) {
                    let row0 = b + (firstColumn + panel * tileColumns + lane) * ldb + firstDepth
                    let row1 = row0 + ldb, row2 = row1 + ldb, row3 = row2 + ldb
                    for p in stride(from: 0, to: fullDepths, by: 4) {
                        let x0 = load4(row0 + p), x1 = load4(row1 + p), x2 = load4(row2 + p), x3 = load4(row3 + p)
                        let out = target + p * tileColumns + lane
                        store4(SIMD4(x0[0], x1[0], x2[0], x3[0]), out)
                        store4(SIMD4(x0[1], x1[1], x2[1], x3[1]), out + tileColumns)
                        store4(SIMD4(x0[2], x1[2], x2[2], x3[2]), out + 2 * tileColumns)
                        store4(SIMD4(x0[3], x1[3], x2[3], x3[3]), out + 3 * tileColumns)
                    }
                    for p in fullDepths..<depthCount {
                        store4(SIMD4(row0[p], row1[p], row2[p], row3[p]), target + p * tileColumns + lane)
                    }
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
